// Remote control of a celeriac worker with Python's own tools, on RabbitMQ and on Redis: `celery inspect ping/
// registered/active/stats/…`, `celery control revoke` before and during a task (terminate), rate_limit,
// time_limit, add_consumer/cancel_consumer, `celery status`, `celery control shutdown`; revoked ids survive a
// restart with --statedb; and the same through `celeriac inspect|control|status|purge`.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Celery } from '../../src';
import { spawn } from 'node:child_process';
import { AMQP_URL, describeWith, PYTHON, REDIS_URL, ROOT, uniqueName } from '../helpers/env';
import { celeriacCli, Proc as ProcClass, pythonClient, pythonSnippet, startCeleriacWorker, type Proc } from '../helpers/processes';
import { celeryCli, celeryJson, uniqueNode } from '../helpers/ops';

const BROKERS: Array<[string, string]> = [
  ['redis', REDIS_URL],
  ['amqp', AMQP_URL],
];

jest.setTimeout(180000);

describeWith(['redis', 'amqp', 'python'], 'remote control with Python celery inspect/control', () => {
  describe.each(BROKERS)('on %s', (_name, broker) => {
    const env = { broker, backend: REDIS_URL };
    const queue = uniqueName('ctl');
    const node = uniqueNode('ops-ctl');
    const statedb = path.join(os.tmpdir(), `${uniqueName('statedb')}.json`);
    let worker: Proc;
    const app = new Celery({ broker, backend: REDIS_URL });

    beforeAll(async () => {
      worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue], concurrency: 2, extraArgs: ['-n', node.arg, '--statedb', statedb] });
    });

    afterAll(async () => {
      await worker?.stop('SIGTERM');
      await app.close();
      fs.rmSync(statedb, { force: true });
    });

    test('celery inspect ping, registered, stats and celery status see the node', async () => {
      const ping = await celeryCli(broker, ['inspect', 'ping', '-d', node.name, '-t', '5']);
      expect(ping.code).toBe(0);
      expect(ping.stdout).toContain(`->  ${node.name}: OK`);
      expect(ping.stdout).toContain('pong');

      expect(await celeryJson(broker, 'inspect', ['registered'], node.name)).toEqual(
        expect.arrayContaining(['tasks.add', 'tasks.echo', 'tasks.fail', 'tasks.sleep', 'tasks.progress']),
      );

      const stats = (await celeryJson(broker, 'inspect', ['stats'], node.name)) as Record<string, unknown>;
      expect(stats).toMatchObject({
        pid: expect.any(Number),
        clock: expect.stringMatching(/^\d+$/),
        uptime: expect.any(Number),
        pool: { 'max-concurrency': 2, processes: [expect.any(Number)] },
        broker: { transport: broker.startsWith('amqp') ? 'amqp' : 'redis' },
        prefetch_count: 8,
        rusage: { utime: expect.any(Number), maxrss: expect.any(Number) },
      });

      const status = await celeryCli(broker, ['status', '-d', node.name, '-t', '5']);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`${node.name}: OK`);
      expect(status.stdout).toMatch(/1 node online\./);
    });

    test('inspect active/query_task show a running task; control terminate stops it: REVOKED, terminated', async () => {
      const [sent] = await pythonClient(env, { wait: false, calls: [{ task: 'tasks.sleep', args: [60], options: { queue } }] });
      await worker.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] received`));
      const active = (await celeryJson(broker, 'inspect', ['active'], node.name)) as Array<Record<string, unknown>>;
      expect(active).toEqual([
        expect.objectContaining({ id: sent.id, name: 'tasks.sleep', type: 'tasks.sleep', args: [60], kwargs: {}, hostname: node.name, acknowledged: true, worker_pid: expect.any(Number), time_start: expect.any(Number) }),
      ]);
      expect((active[0].delivery_info as Record<string, unknown>).routing_key).toBe(queue);
      const query = (await celeryJson(broker, 'inspect', ['query_task', sent.id], node.name)) as Record<string, unknown>;
      expect(query[sent.id]).toEqual(['active', expect.objectContaining({ id: sent.id })]);

      // Python's `celery control terminate <signal> <id>` is revoke(terminate=True, signal=…)
      const reply = (await celeryJson(broker, 'control', ['terminate', 'SIGTERM', sent.id], node.name)) as Record<string, unknown>;
      expect(reply).toEqual({ ok: `terminate: ${sent.id}` });
      await worker.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] terminated`));
      const out = await pythonSnippet(
        `from celery_app import app\nr = app.AsyncResult(${JSON.stringify(sent.id)})\nprint(r.state, repr(r.result))`,
        { CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: REDIS_URL },
      );
      expect(out.trim()).toBe("REVOKED TaskRevokedError('terminated')");
      expect((await celeryJson(broker, 'inspect', ['active'], node.name)) as unknown[]).toEqual([]);
    });

    test('celery control revoke before the task arrives: it is discarded as REVOKED when it comes', async () => {
      const id = randomUUID();
      const reply = await celeryJson(broker, 'control', ['revoke', id], node.name);
      expect(reply).toEqual({ ok: `tasks ${id} flagged as revoked` });
      expect(await celeryJson(broker, 'inspect', ['revoked'], node.name)).toEqual(expect.arrayContaining([id]));
      const [res] = await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [1, 2], options: { queue, task_id: id } }] });
      expect(res).toMatchObject({ ok: false, state: 'REVOKED', exc_class: 'TaskRevokedError' });
      expect(worker.output).toMatch(new RegExp(`Discarding revoked task: tasks\\.add\\[${id}\\]`));
    });

    test('rate_limit and time_limit change the task options the worker runs with', async () => {
      const rate = await celeryJson(broker, 'control', ['rate_limit', 'tasks.add', '100/m'], node.name);
      expect(rate).toEqual({ ok: 'new rate limit set successfully' });
      expect(await celeryJson(broker, 'inspect', ['registered'], node.name)).toEqual(expect.arrayContaining(['tasks.add [rate_limit=100/m]']));
      expect(await celeryJson(broker, 'control', ['rate_limit', 'tasks.nope', '1/s'], node.name)).toEqual({ error: 'unknown task' });
      expect(await celeryJson(broker, 'control', ['rate_limit', 'tasks.add', ''], node.name)).toEqual({ ok: 'rate limit disabled successfully' });

      // soft 0.3 s, hard 10 s for cooperative_sleep: the next run sees its soft limit and returns early
      const limits = await celeryJson(broker, 'control', ['time_limit', 'tasks.cooperative_sleep', '0.3', '10'], node.name);
      expect(limits).toEqual({ ok: 'time limits set successfully' });
      const [res] = await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.cooperative_sleep', args: [5], options: { queue } }] });
      expect(res).toMatchObject({ ok: true, result: 'soft limit' });
    });

    test('add_consumer and cancel_consumer change the queues consumed (inspect active_queues)', async () => {
      const extra = uniqueName('ctl-extra');
      expect(await celeryJson(broker, 'control', ['add_consumer', extra], node.name)).toEqual({ ok: `add consumer ${extra}` });
      await worker.waitFor(new RegExp(`Started consuming from ${extra}`));
      const queues = (await celeryJson(broker, 'inspect', ['active_queues'], node.name)) as Array<Record<string, unknown>>;
      expect(queues.map((q) => q.name)).toEqual([queue, extra]);
      expect(queues[1]).toMatchObject({ exchange: { name: extra, type: 'direct', durable: true }, routing_key: extra, durable: true, auto_delete: false });
      const [res] = await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [20, 22], options: { queue: extra } }] });
      expect(res).toMatchObject({ ok: true, result: 42 });
      expect(await celeryJson(broker, 'control', ['cancel_consumer', extra], node.name)).toEqual({ ok: `no longer consuming from ${extra}` });
      await worker.waitFor(new RegExp(`Stopped consuming from ${extra}`));
      expect(((await celeryJson(broker, 'inspect', ['active_queues'], node.name)) as Array<Record<string, unknown>>).map((q) => q.name)).toEqual([queue]);
      await app.connect();
      await app.broker.purge(extra).catch(() => 0);
    });

    test('the same through celeriac inspect/control/status, without Python', async () => {
      const cliEnv = { CELERY_BROKER_URL: broker };
      const ping = await celeriacCli(['inspect', 'ping', '-d', node.name, '-t', '5'], cliEnv);
      expect(ping.code).toBe(0);
      expect(ping.stdout).toContain(`->  ${node.name}: OK`);
      expect(ping.stdout).toContain('pong');
      const stats = await celeriacCli(['inspect', 'stats', '-d', node.name, '-t', '5', '--json'], cliEnv);
      expect(JSON.parse(stats.stdout)[node.name]).toMatchObject({ pool: { 'max-concurrency': 2 } });
      const id = randomUUID();
      const revoke = await celeriacCli(['control', 'revoke', id, '-d', node.name, '-t', '5'], cliEnv);
      expect(revoke.stdout).toContain(`tasks ${id} flagged as revoked`);
      const status = await celeriacCli(['status', '-d', node.name, '-t', '5'], cliEnv);
      expect(status.stdout).toMatch(/1 node online\./);
      const nobody = await celeriacCli(['inspect', 'ping', '-d', 'nobody@nowhere', '-t', '0.5'], cliEnv);
      expect(nobody.code).toBe(69);
      expect(nobody.stderr).toContain('No nodes replied within time constraint');
    });

    test('a Python worker starting with mingle gets the revoked ids from the celeriac worker (hello)', async () => {
      const id = randomUUID();
      await celeryJson(broker, 'control', ['revoke', id], node.name);
      const py = uniqueNode('ops-py');
      const child = spawn(PYTHON, ['-m', 'celery', '-A', 'celery_app', 'worker', '-Q', uniqueName('ctl-py'), '-n', py.arg, '-P', 'solo', '-l', 'info', '--without-gossip', '--without-heartbeat'], {
        cwd: path.join(ROOT, 'interop', 'python'),
        env: { ...process.env, CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: REDIS_URL, PYTHONUNBUFFERED: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const pyWorker = new ProcClass(child, 'python-worker-mingle');
      try {
        await pyWorker.waitFor(/mingle: sync complete/, 60000);
        await worker.waitFor(new RegExp(`sync with ${py.name.replace(/[.]/g, '\\.')}`));
        expect(await celeryJson(broker, 'inspect', ['revoked'], py.name)).toEqual(expect.arrayContaining([id]));
      } finally {
        await pyWorker.stop('SIGTERM');
      }
    });

    test('revoked ids survive a restart with --statedb; celery control shutdown stops the worker (warm)', async () => {
      const id = randomUUID();
      expect(await celeryJson(broker, 'control', ['revoke', id], node.name)).toEqual({ ok: `tasks ${id} flagged as revoked` });
      // Python's shutdown expects no reply: the command line reports that nobody answered.
      const shutdown = await celeryCli(broker, ['control', 'shutdown', '-d', node.name, '-t', '1']);
      expect(shutdown.stderr).toContain('No nodes replied');
      expect(await worker.exited).toBe(0);
      expect(worker.output).toContain('Got shutdown from remote');
      expect(JSON.parse(fs.readFileSync(statedb, 'utf8')).revoked.map((e: [string, number]) => e[0])).toContain(id);

      worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue], concurrency: 2, extraArgs: ['-n', node.arg, '--statedb', statedb] });
      await worker.waitFor(/revoked task id\(s\) restored/);
      expect(await celeryJson(broker, 'inspect', ['revoked'], node.name)).toEqual(expect.arrayContaining([id]));
      const [res] = await pythonClient(env, { wait: true, timeout: 20, calls: [{ task: 'tasks.add', args: [1, 1], options: { queue, task_id: id } }] });
      expect(res).toMatchObject({ ok: false, state: 'REVOKED' });
    });
  });
});

describeWith(['redis'], 'celeriac purge', () => {
  test('purge -Q removes the waiting messages and says how many', async () => {
    const queue = uniqueName('purge');
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL });
    try {
      for (let i = 0; i < 3; i++) await app.sendTask('tasks.add', [i, i], {}, { queue });
      const refused = await celeriacCli(['purge', '-Q', queue], { CELERY_BROKER_URL: REDIS_URL });
      expect(refused.code).toBe(1);
      const r = await celeriacCli(['purge', '-Q', queue, '-f'], { CELERY_BROKER_URL: REDIS_URL });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Purged 3 messages from 1 known task queue.');
      expect(await (app.broker as unknown as { size(q: string): Promise<number> }).size(queue)).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describeWith(['redis', 'python'], 'revoke --terminate on a threads pool', () => {
  test('celery control terminate ends a task that never yields: its pool thread is ended, REVOKED terminated', async () => {
    const queue = uniqueName('ctl-pool');
    const node = uniqueNode('ops-pool');
    const worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], concurrency: 1, extraArgs: ['-n', node.arg, '-P', 'threads'] });
    try {
      const [sent] = await pythonClient({ broker: REDIS_URL, backend: REDIS_URL }, { wait: false, calls: [{ task: 'tasks.burn', args: [120000], options: { queue } }] });
      await worker.waitFor(new RegExp(`tasks\\.burn\\[${sent.id}\\] received`));
      const active = (await celeryJson(REDIS_URL, 'inspect', ['active'], node.name)) as Array<{ id: string }>;
      expect(active.map((a) => a.id)).toEqual([sent.id]);
      expect(await celeryJson(REDIS_URL, 'control', ['terminate', 'SIGTERM', sent.id], node.name)).toEqual({ ok: `terminate: ${sent.id}` });
      await worker.waitFor(new RegExp(`tasks\\.burn\\[${sent.id}\\] terminated`));
      const out = await pythonSnippet(`from celery_app import app\nr = app.AsyncResult(${JSON.stringify(sent.id)})\nprint(r.state, repr(r.result))`, { CELERY_BROKER_URL: REDIS_URL, CELERY_RESULT_BACKEND: REDIS_URL });
      expect(out.trim()).toBe("REVOKED TaskRevokedError('terminated')");
      // the pool replaced its thread: the next task runs
      const [next] = await pythonClient({ broker: REDIS_URL, backend: REDIS_URL }, { wait: true, timeout: 30, calls: [{ task: 'tasks.add', args: [1, 1], options: { queue } }] });
      expect(next).toMatchObject({ ok: true, result: 2 });
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});
