// Events from a celeriac worker, read by Python's own celery.events.EventReceiver and celery.events.state.State,
// on RabbitMQ and on Redis: every worker-* and task-* kind with Celery's fields (compared with the golden captures
// of a Python worker), Lamport clocks, task-sent from both a Python and a celeriac client, enable/disable_events,
// and `celeriac events` showing the same.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { AMQP_URL, describeWith, REDIS_URL, ROOT, uniqueName } from '../helpers/env';
import { celeriacCli, pythonClient, pythonSnippet, startCeleriacWorker, type Proc } from '../helpers/processes';
import { celeryCli, celeryJson, jsonLines, startEventReceiver, uniqueNode, untilListening } from '../helpers/ops';
import { spawn } from 'node:child_process';
import { Proc as ProcClass } from '../helpers/processes';

jest.setTimeout(240000);

type Ev = Record<string, unknown> & { type: string };

/** The fields a Python 5.2.6 worker (or client) put on each event kind [golden captures]. */
function goldenKeys(type: string): string[] {
  const file = path.join(ROOT, 'protocol', 'fixtures', 'events_redis', `${type}.json`);
  const golden = JSON.parse(fs.readFileSync(file, 'utf8')) as { event: Record<string, unknown> };
  return Object.keys(golden.event).sort();
}

const COMMON = ['hostname', 'utcoffset', 'pid', 'clock', 'timestamp', 'type'];

function expectCommon(e: Ev, hostname: string): void {
  expect(e.hostname).toBe(hostname);
  expect(Number.isInteger(e.utcoffset)).toBe(true);
  expect(Number.isInteger(e.pid)).toBe(true);
  expect(Number.isInteger(e.clock)).toBe(true);
  expect(typeof e.timestamp).toBe('number');
  expect(Math.abs((e.timestamp as number) - Date.now() / 1000)).toBeLessThan(600);
}

describeWith(['redis', 'amqp', 'python'], 'events read by Python EventReceiver and State', () => {
  test.each([
    ['redis', REDIS_URL],
    ['amqp', AMQP_URL],
  ])('on %s: every event kind with Celery fields', async (_name, broker) => {
    const queue = uniqueName('ev');
    const node = uniqueNode('ops-ev');
    const env = { broker, backend: REDIS_URL };
    const receiver = startEventReceiver(broker, node.name, queue);
    let worker: Proc | undefined;
    try {
      await untilListening(broker, receiver, node.name);
      worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue], concurrency: 2, tasksModule: 'interop/ops-tasks.ts', extraArgs: ['-E', '-n', node.arg] });
      await receiver.waitFor(/"type": "worker-online"/);
      // Python's Control.heartbeat(): one extra worker-heartbeat with freq 5.
      await pythonSnippet(`from celery_app import app\napp.control.heartbeat(destination=[${JSON.stringify(node.name)}])`, { CELERY_BROKER_URL: broker });
      await receiver.waitFor(/"freq": 5[^\n]*"type": "worker-heartbeat"/);

      // From a Python client with task_send_sent_event: success, failure, retry, reject.
      const ids = JSON.parse(
        await pythonSnippet(
          [
            'import json',
            'from celery_app import app',
            'app.conf.task_send_sent_event = True',
            `q = ${JSON.stringify(queue)}`,
            "add = app.send_task('tasks.add', (2, 3), queue=q)",
            "fail = app.send_task('tasks.fail', ('boom',), queue=q)",
            "flaky = app.send_task('tasks.flaky', (1,), queue=q)",
            "reject = app.send_task('tasks.reject', ('nope',), queue=q)",
            'add.get(timeout=30); flaky.get(timeout=30)',
            "print(json.dumps({'add': add.id, 'fail': fail.id, 'flaky': flaky.id, 'reject': reject.id}))",
          ].join('\n'),
          { CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: REDIS_URL },
        ),
      ) as Record<string, string>;

      // From the celeriac client with CELERY_TASK_SEND_SENT_EVENT.
      const call = await celeriacCli(['call', 'tasks.add', '--args', '[20, 22]', '--queue', queue, '--wait', '--timeout', '30'], { CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: REDIS_URL, CELERY_TASK_SEND_SENT_EVENT: 'true' });
      expect(call.code).toBe(0);
      const nodeCallId = call.stdout.trim().split('\n')[0];

      // Revoked before it arrives, and terminated while it runs.
      const revokedId = randomUUID();
      await celeryJson(broker, 'control', ['revoke', revokedId], node.name);
      await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [0, 0], options: { queue, task_id: revokedId } }] });
      const [sleeper] = await pythonClient(env, { wait: false, calls: [{ task: 'tasks.sleep', args: [60], options: { queue } }] });
      await receiver.waitFor(new RegExp(`"uuid": "${sleeper.id}"[^\\n]*"type": "task-started"`));
      await celeryCli(broker, ['control', 'terminate', 'SIGKILL', sleeper.id, '-d', node.name, '-t', '5']);
      await receiver.waitFor(new RegExp(`"uuid": "${sleeper.id}"[^\\n]*"type": "task-revoked"`));

      // disable_events: no task events for the next task; enable_events: they come back.
      expect(await celeryJson(broker, 'control', ['disable_events'], node.name)).toEqual({ ok: 'task events disabled' });
      const [quiet] = await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [5, 5], options: { queue } }] });
      expect(await celeryJson(broker, 'control', ['enable_events'], node.name)).toEqual({ ok: 'task events enabled' });
      const [loud] = await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [6, 6], options: { queue } }] });
      await receiver.waitFor(new RegExp(`"uuid": "${loud.id}"[^\\n]*"type": "task-succeeded"`));

      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(await receiver.exited).toBe(0); // it exits on our worker-offline, after printing State's summary

      const lines = jsonLines(receiver.stdout);
      const events = lines.filter((l) => l.event).map((l) => l.event as Ev);
      const mine = events.filter((e) => e.hostname === node.name && e.type !== 'ops-probe');
      const byType = (type: string, uuid?: string): Ev[] => events.filter((e) => e.type === type && (uuid === undefined || e.uuid === uuid));

      // worker-*: Celery's fields exactly, sw_ident celeriac
      for (const type of ['worker-online', 'worker-heartbeat', 'worker-offline']) {
        const e = byType(type).find((x) => x.hostname === node.name && x.freq !== 5) as Ev;
        expect(e).toBeDefined();
        expect(Object.keys(e).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys(type));
        expectCommon(e, node.name);
        expect(e).toMatchObject({ freq: 2, sw_ident: 'celeriac', sw_sys: expect.any(String), sw_ver: expect.stringMatching(/^\d+\.\d+\.\d+/) });
        expect(e.loadavg).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
        expect(Number.isInteger(e.active) && Number.isInteger(e.processed)).toBe(true);
      }
      const extra = byType('worker-heartbeat').find((e) => e.freq === 5) as Ev; // the heartbeat control command
      expect(Object.keys(extra).filter((k) => k !== 'local_received').sort()).toEqual([...COMMON, 'freq', 'sw_ident', 'sw_ver', 'sw_sys'].sort());

      // task-sent from the Python client and from celeriac's client: the same fields
      const pySent = byType('task-sent', ids.add)[0];
      const nodeSent = byType('task-sent', nodeCallId)[0];
      for (const sent of [pySent, nodeSent]) {
        expect(Object.keys(sent).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys('task-sent'));
        expect(sent).toMatchObject({ name: 'tasks.add', queue, routing_key: queue, exchange: '', retries: 0, eta: null, parent_id: null });
        expect(String(sent.hostname)).toMatch(/^gen\d+@/);
      }
      expect(nodeSent).toMatchObject({ uuid: nodeCallId, root_id: nodeCallId, args: '(20, 22)', kwargs: '{}', expires: null });

      // task-received / started / succeeded
      const received = byType('task-received', ids.add)[0];
      expect(Object.keys(received).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys('task-received'));
      expect(received).toMatchObject({ name: 'tasks.add', args: '(2, 3)', kwargs: '{}', root_id: ids.add, parent_id: null, retries: 0, eta: null, expires: null });
      const started = byType('task-started', ids.add)[0];
      expect(Object.keys(started).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys('task-started'));
      const succeeded = byType('task-succeeded', ids.add)[0];
      expect(Object.keys(succeeded).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys('task-succeeded'));
      expect(succeeded).toMatchObject({ result: '5', runtime: expect.any(Number) });

      const failed = byType('task-failed', ids.fail)[0];
      expect(Object.keys(failed).filter((k) => k !== 'local_received').sort()).toEqual([...COMMON, 'uuid', 'exception', 'traceback'].sort());
      expect(failed.exception).toBe("ValueError('boom')");
      expect(failed.traceback).toMatch(/ValueError: boom/);

      const retried = byType('task-retried', ids.flaky)[0];
      expect(Object.keys(retried).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys('task-retried'));
      expect(retried.exception).toBe("ValueError('failure 1 of 1')");
      expect(byType('task-succeeded', ids.flaky)[0]).toMatchObject({ result: '1' });

      const rejected = byType('task-rejected', ids.reject)[0];
      expect(Object.keys(rejected).filter((k) => k !== 'local_received').sort()).toEqual([...COMMON, 'uuid', 'requeue'].sort());
      expect(rejected.requeue).toBe(false);

      const revoked = byType('task-revoked', revokedId)[0];
      expect(Object.keys(revoked).filter((k) => k !== 'local_received').sort()).toEqual(goldenKeys('task-revoked'));
      expect(revoked).toMatchObject({ terminated: false, signum: null, expired: false });
      expect(byType('task-revoked', sleeper.id)[0]).toMatchObject({ terminated: true, signum: 9, expired: false });

      expect(events.filter((e) => e.uuid === quiet.id && e.hostname === node.name)).toEqual([]);

      // A Lamport clock: strictly increasing in the order the worker sent its events.
      const clocks = mine.map((e) => e.clock as number);
      expect([...clocks].sort((a, b) => a - b)).toEqual(clocks);
      expect(new Set(clocks).size).toBe(clocks.length);

      // celery.events.state.State saw the worker alive while it beat, and each task in its final state.
      const alive = lines.filter((l) => 'alive' in l && !l.summary);
      expect(alive.some((l) => l.alive === true)).toBe(true);
      const summary = lines.find((l) => l.summary)?.summary as { alive: boolean; tasks: Record<string, Record<string, unknown>> };
      expect(summary.alive).toBe(false);
      expect(summary.tasks[ids.add]).toMatchObject({ state: 'SUCCESS', name: 'tasks.add', result: '5', worker: node.name });
      expect(summary.tasks[ids.fail]).toMatchObject({ state: 'FAILURE', exception: "ValueError('boom')" });
      expect(summary.tasks[ids.flaky]).toMatchObject({ state: 'SUCCESS' });
      // REJECTED ranks below STARTED in celery.states.precedence, so State keeps STARTED (as for a Python worker).
      expect(summary.tasks[ids.reject]).toMatchObject({ state: 'STARTED', name: 'tasks.reject' });
      expect(summary.tasks[sleeper.id]).toMatchObject({ state: 'REVOKED' });
    } finally {
      await worker?.stop('SIGKILL');
      await receiver.stop('SIGKILL');
    }
  });
});

describeWith(['redis', 'amqp', 'python'], 'celeriac events', () => {
  test.each([
    ['redis', REDIS_URL],
    ['amqp', AMQP_URL],
  ])('on %s: the live view shows the worker, tasks/s and per-task counts; --dump prints each event', async (_name, broker) => {
    const queue = uniqueName('evview');
    const node = uniqueNode('ops-view');
    const worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue], extraArgs: ['-E', '-n', node.arg, '--heartbeat-interval', '0.5'] });
    const cli = path.join(ROOT, 'dist', 'bin', 'celeriac.js');
    const start = (args: string[]): Proc => new ProcClass(spawn(process.execPath, [cli, 'events', ...args], { cwd: ROOT, env: { ...process.env, CELERY_BROKER_URL: broker }, stdio: ['ignore', 'pipe', 'pipe'] }), 'celeriac-events');
    const view = start(['--freq', '0.5']);
    const dump = start(['--dump']);
    try {
      await view.waitFor(new RegExp(`ONLINE  ${node.name.replace(/[.]/g, '\\.')}`));
      await dump.waitFor(/listening on/);
      const [res] = await pythonClient({ broker, backend: REDIS_URL }, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [1, 2], options: { queue } }, { task: 'tasks.add', args: [3, 4], options: { queue } }] });
      expect(res.ok).toBe(true);
      await view.waitFor(/tasks\.add\s+2\s+2\s+2\s+0/);
      await dump.waitFor(new RegExp(`${node.name.replace(/[.]/g, '\\.')} \\[[^\\]]+\\] task-succeeded: uuid=${res.id}, result=3, runtime=`));
      expect(view.stdout).toMatch(/tasks\/s/);
    } finally {
      await view.stop('SIGINT');
      await dump.stop('SIGINT');
      await worker.stop('SIGTERM');
    }
  });
});
