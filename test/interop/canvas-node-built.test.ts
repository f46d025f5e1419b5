// Canvases built in Node (chain, group, chord, link/linkError, chunks, map, starmap, nested) run on Python Celery 5
// workers alone, on celeriac alone, and split between them both ways, with the same results; GroupResult saved on
// one side is restored on the other. RabbitMQ and Redis brokers, Redis result backend.

import { Redis } from 'ioredis';
import { Celery, GroupResult, TaskError, chain, chord, chunks, group, starmap, xmap, type AsyncResult } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName, type Need } from '../helpers/env';
import { pythonSnippet, startCeleriacWorker, startPythonWorker, type Proc } from '../helpers/processes';

const BROKERS: Array<{ name: string; broker: string; needs: Need[] }> = [
  { name: 'Redis broker', broker: REDIS_URL, needs: ['redis', 'python'] },
  { name: 'RabbitMQ broker', broker: AMQP_URL, needs: ['amqp', 'redis', 'python'] },
];

const T = { timeout: 30 };

async function failure(p: Promise<unknown>): Promise<{ excType: string; excModule: string | null; message: string }> {
  const err = await p.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!(err instanceof TaskError)) throw err;
  return { excType: err.excType, excModule: err.excModule, message: err.message };
}

/** Each case builds its canvas with steps on queues a and b, applies it, and returns what it gave. */
function cases(app: Celery, errors: Redis, a: string, b: string): Record<string, () => Promise<unknown>> {
  const on = (q: string) => ({
    add: app.remoteTask<[number, number], number>('tasks.add', { queue: q }),
    mul: app.remoteTask<[number, number], number>('tasks.mul', { queue: q }),
    tsum: app.remoteTask<[number[]], number>('tasks.tsum', { queue: q }),
    fail: app.remoteTask<[string], never>('tasks.fail', { queue: q }),
    sleep: app.remoteTask<[number], number>('tasks.sleep', { queue: q }),
    logFailed: app.remoteTask<[string], string>('tasks.log_failed', { queue: q }),
  });
  const A = on(a);
  const B = on(b);
  const recorded = async (id: string): Promise<boolean> => (await errors.lrem('interop:errors', 0, id)) > 0;
  return {
    chain: async () => {
      const r = await chain(A.add.s(1, 2), B.add.s(3), A.mul.s(10)).applyAsync();
      return [await r.get(T), await (r.parent as AsyncResult).get(T)];
    },
    chain_immutable: async () => (await chain(A.add.s(1, 2), B.add.si(5, 5)).applyAsync()).get(T),
    group: async () => {
      const g = await group(A.add.s(1, 1), B.add.s(2, 2), A.add.s(3, 3)).applyAsync();
      return [await g.get(T), await g.completedCount(), await g.ready()];
    },
    chord: async () => {
      const r = await chord([A.add.s(1, 1), B.add.s(2, 2), A.add.s(3, 3)], B.tsum.s()).applyAsync();
      return [await r.get(T), await (r.parent as GroupResult).get(T)];
    },
    chord_last_on_b: async () => {
      // The header task on b finishes last, so b's worker completes the chord: the body's parent is that task.
      const r = await chord([A.add.s(1, 1), B.sleep.s(0.3)], A.tsum.s()).applyAsync();
      const value = await r.get(T);
      return [value, (await r.meta()).parent_id === (r.parent as GroupResult).results[1].id];
    },
    chord_failing_header: async () => {
      const logId = uniqueName('log');
      const body = A.tsum.s().linkError(app.signature('tasks.on_error')).linkError(B.logFailed.s().set({ taskId: logId }));
      const r = await chord([A.add.s(1, 1), B.fail.s('bad value')], body).applyAsync();
      const failingId = (r.parent as GroupResult).results[1].id;
      const err = await failure(r.get(T));
      // Errbacks run in order (the new-style one inline), so once the old-style one has run, both have.
      const oldStyle = await app.AsyncResult(logId).get(T);
      return [{ ...err, message: err.message.replace(failingId, '<id>') }, await recorded(r.id), oldStyle === r.id];
    },
    link: async () => {
      const r = await A.add.s(1, 2).link(B.mul.s(10)).applyAsync();
      const value = await r.get(T);
      const [[[callbackId]]] = (await r.meta()).children as [[[string, null], null]];
      return [value, await app.AsyncResult(callbackId).get(T)];
    },
    link_error_new: async () => {
      const logId = uniqueName('log');
      const r = await A.fail.s('boom').linkError(app.signature('tasks.on_error')).linkError(B.logFailed.s().set({ taskId: logId })).applyAsync();
      const err = await failure(r.get(T));
      await app.AsyncResult(logId).get(T);
      return [err, await recorded(r.id)];
    },
    link_error_old: async () => {
      const logId = uniqueName('log');
      const r = await A.fail.s('boom').linkError(B.logFailed.s().set({ taskId: logId })).applyAsync();
      const err = await failure(r.get(T));
      return [err, (await app.AsyncResult(logId).get(T)) === r.id];
    },
    // As in Celery, the map/chunks messages are routed by their own options (the inner signature only names the task).
    chunks: async () => (await chunks(A.add.s(), [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]], 2).set({ queue: b }).applyAsync()).get(T),
    map: async () => (await xmap(A.tsum.s(), [[1, 2], [3, 4, 5]]).set({ queue: a }).applyAsync()).get(T),
    starmap: async () => (await starmap(B.add.s(), [[1, 2], [3, 4]]).applyAsync(undefined, undefined, { queue: b })).get(T),
    chain_in_chord_in_chain: async () => (await chain(A.add.s(1, 1), group(B.add.s(10), A.add.s(20)), B.tsum.s()).applyAsync()).get(T),
    chord_in_chain_with_tail: async () => (await chain(A.add.s(1, 1), chord([B.add.s(10), A.add.s(20)], B.tsum.s()), A.mul.s(2)).applyAsync()).get(T),
    chain_ending_in_group: async () => (await chain(A.add.s(1, 1), group(B.add.s(1), A.add.s(2))).applyAsync()).get(T),
    group_of_chains: async () => (await group(chain(A.add.s(1, 1), B.mul.s(2)), chain(B.add.s(2, 2), A.mul.s(3))).applyAsync()).get(T),
    chord_of_chains: async () => (await chord([chain(A.add.s(1, 1), B.mul.s(2)), chain(B.add.s(2, 2), A.mul.s(3))], A.tsum.s()).applyAsync()).get(T),
    chain_failure: async () => {
      const r = await chain(A.add.s(1, 1), B.fail.si('mid'), A.add.s(1)).applyAsync();
      return [await failure(r.get(T)), await ((r.parent as AsyncResult & { parent: AsyncResult }).parent).get(T)];
    },
  };
}

const EXPECTED: Record<string, unknown> = {
  chain: [60, 6],
  chain_immutable: 10,
  group: [[2, 4, 6], 3, true],
  chord: [12, [2, 4, 6]],
  chord_last_on_b: [2.3, true],
  chord_failing_header: [{ excType: 'ChordError', excModule: 'celery.exceptions', message: "Dependency <id> raised ValueError('bad value')" }, true, true],
  link: [3, 30],
  link_error_new: [{ excType: 'ValueError', excModule: 'builtins', message: 'boom' }, true],
  link_error_old: [{ excType: 'ValueError', excModule: 'builtins', message: 'boom' }, true],
  chunks: [[0, 2], [4, 6], [8]],
  map: [3, 12],
  starmap: [3, 7],
  chain_in_chord_in_chain: 34,
  chord_in_chain_with_tail: 68,
  chain_ending_in_group: [3, 4],
  group_of_chains: [4, 12],
  chord_of_chains: 16,
  chain_failure: [{ excType: 'ValueError', excModule: 'builtins', message: 'mid' }, 2],
};

async function runAll(app: Celery, errors: Redis, a: string, b: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, run] of Object.entries(cases(app, errors, a, b))) {
    out[name] = await run().catch((err: unknown) => `${(err as Error).name}: ${(err as Error).message}`);
  }
  return out;
}

for (const b of BROKERS) {
  describeWith(b.needs, `Node-built canvases on Python, celeriac and mixed workers (${b.name}, Redis backend)`, () => {
    const node = [uniqueName('cvn-node-a'), uniqueName('cvn-node-b')];
    const py = [uniqueName('cvn-py-a'), uniqueName('cvn-py-b')];
    let nodeWorker: Proc;
    let pyWorker: Proc;
    let app: Celery;
    let errors: Redis;
    let reference: Promise<Record<string, unknown>> | undefined;
    const pythonAlone = (): Promise<Record<string, unknown>> => (reference ??= runAll(app, errors, py[0], py[1]));

    beforeAll(async () => {
      [nodeWorker, pyWorker] = await Promise.all([
        startCeleriacWorker({ broker: b.broker, backend: REDIS_URL, queues: node }),
        startPythonWorker({ broker: b.broker, backend: REDIS_URL, queues: py, concurrency: 4 }),
      ]);
      app = new Celery({ broker: b.broker, backend: REDIS_URL });
      errors = new Redis(REDIS_URL);
    }, 90000);
    afterAll(async () => {
      await app?.close();
      errors?.disconnect();
      await Promise.all([nodeWorker?.stop('SIGTERM'), pyWorker?.stop('SIGTERM')]);
    });

    test('on Python workers alone: every Node-built canvas gives the expected result', async () => {
      expect(await pythonAlone()).toEqual(EXPECTED);
    }, 120000);

    test('on celeriac alone: the same results', async () => {
      const runs = await runAll(app, errors, node[0], node[1]);
      expect(runs).toEqual(EXPECTED);
      expect(runs).toEqual(await pythonAlone());
    }, 120000);

    test('split, Python first then celeriac: the same results', async () => {
      const runs = await runAll(app, errors, py[0], node[1]);
      expect(runs).toEqual(EXPECTED);
      expect(runs).toEqual(await pythonAlone());
    }, 120000);

    test('split, celeriac first then Python: the same results', async () => {
      const runs = await runAll(app, errors, node[0], py[1]);
      expect(runs).toEqual(EXPECTED);
      expect(runs).toEqual(await pythonAlone());
    }, 120000);

    test('GroupResult saved in Node is restored by Python, and one saved by Python is restored in Node', async () => {
      const add = app.remoteTask<[number, number], number>('tasks.add', { queue: py[0] });
      const g = await group(add.s(1, 1), add.s(2, 2), add.s(3, 3)).applyAsync();
      await g.get(T);
      await g.save();
      const env = { CELERY_BROKER_URL: b.broker, CELERY_RESULT_BACKEND: REDIS_URL };
      const fromPython = await pythonSnippet(
        `import json\nfrom celery.result import GroupResult\nfrom celery_app import app\n` +
          `r = GroupResult.restore(${JSON.stringify(g.id)}, app=app)\n` +
          `print(json.dumps({'ids': [x.id for x in r.results], 'values': [x.get(timeout=30) for x in r.results], 'completed': r.completed_count()}))`,
        env,
      );
      expect(JSON.parse(fromPython.trim())).toEqual({ ids: g.results.map((r) => r.id), values: [2, 4, 6], completed: 3 });

      const saved = await pythonSnippet(
        `import json\nfrom celery import group\nfrom celery_app import app, add\n` +
          `r = group(add.s(5, 5).set(queue=${JSON.stringify(node[0])}), add.s(6, 6).set(queue=${JSON.stringify(py[0])})).apply_async()\n` +
          `r.save()\nprint(json.dumps({'id': r.id, 'ids': [x.id for x in r.results]}))`,
        env,
      );
      const { id, ids } = JSON.parse(saved.trim()) as { id: string; ids: string[] };
      const restored = await GroupResult.restore(app, id);
      expect(restored?.results.map((r) => r.id)).toEqual(ids);
      expect(await restored?.get(T)).toEqual([10, 12]);
      expect(await restored?.completedCount()).toBe(2);
      await restored?.delete();
      await g.delete();
    }, 120000);
  });
}
