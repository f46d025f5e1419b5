// Task semantics with Python Celery 5 producing and checking: retries (and retries crossing between a Python and a
// celeriac worker), countdown/ETA with time zones, expiry, soft and hard time limits, priorities, rate limits,
// ignore_result, track_started and result_extended — on RabbitMQ and Redis.

import { Redis } from 'ioredis';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName, type Need } from '../helpers/env';
import { pythonClient, startCeleriacWorker, startPythonWorker, type Proc, type PyCall } from '../helpers/processes';

const BROKERS: Array<{ name: string; broker: string; needs: Need[] }> = [
  { name: 'redis', broker: REDIS_URL, needs: ['redis', 'python'] },
  { name: 'amqp', broker: AMQP_URL, needs: ['amqp', 'redis', 'python'] },
];

/** Ids in the order the worker logged them as succeeded. */
function successOrder(worker: Proc, ids: string[]): string[] {
  const at = ids.map((id) => ({ id, i: worker.output.indexOf(`[${id}] succeeded`) }));
  return at.filter((x) => x.i >= 0).sort((a, b) => a.i - b.i).map((x) => x.id);
}

for (const b of BROKERS) {
  describeWith(b.needs, `task semantics on ${b.name} (Python producer, celeriac worker)`, () => {
    const queue = uniqueName(`sem-${b.name}`);
    const env = { broker: b.broker, backend: REDIS_URL };
    let worker: Proc;
    const call = (c: PyCall): PyCall => ({ ...c, options: { queue, ...(c.options ?? {}) } });

    beforeAll(async () => {
      worker = await startCeleriacWorker({ broker: b.broker, backend: REDIS_URL, queues: [queue], concurrency: 4 });
    });
    afterAll(async () => {
      await worker?.stop();
    });

    test('retries: RETRY states, the same id re-sent with retries + 1, then SUCCESS with the retry count', async () => {
      const [r] = await pythonClient(env, { wait: true, collect_states: true, timeout: 30, calls: [call({ task: 'tasks.flaky', args: [2] })] });
      expect(r.result).toBe(2);
      expect((r.states ?? []).map((s) => s.state)).toContain('RETRY');
      expect(worker.output.match(new RegExp(`tasks\\.flaky\\[${r.id}\\] retry: Retry in 0\\.1s`, 'g'))).toHaveLength(2);
    });

    test('retries exhausted: MaxRetriesExceededError in Python, with Celery\'s message', async () => {
      const [r] = await pythonClient(env, { wait: true, timeout: 30, calls: [call({ task: 'tasks.retry_forever' })] });
      expect(r.ok).toBe(false);
      expect(r.exc_class).toBe('MaxRetriesExceededError');
      expect(r.exc_module).toBe('celery.exceptions');
      expect(r.exc_str).toBe(`Can't retry tasks.retry_forever[${r.id}] args:() kwargs:{}`);
    });

    test('countdown is honoured without blocking the tasks sent after it', async () => {
      const started = Date.now();
      const results = await pythonClient(env, {
        wait: true,
        timeout: 30,
        calls: [call({ task: 'tasks.add', args: [100, 1], options: { countdown: 2 } }), ...[1, 2, 3, 4, 5].map((i) => call({ task: 'tasks.add', args: [i, i] }))],
      });
      expect(results.map((r) => r.result)).toEqual([101, 2, 4, 6, 8, 10]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      const order = successOrder(worker, results.map((r) => r.id));
      expect(order[order.length - 1]).toBe(results[0].id);
    });

    test.each([['+05:30'], ['-08:00'], ['Z'], ['naive']])('eta with UTC offset %s is read correctly', async (tz) => {
      const started = Date.now();
      const [r] = await pythonClient(env, { wait: true, timeout: 30, calls: [call({ task: 'tasks.add', args: [1, 2], options: { eta: { $in: 1.5, $tz: tz } } })] });
      expect(r.result).toBe(3);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(1300); // not run early…
      expect(elapsed).toBeLessThan(15000); // …nor hours late (a misread offset would be off by hours)
    });

    test('a message past its expiry is not run: REVOKED, and Python raises TaskRevokedError', async () => {
      // Held for its ETA, then expired when due: reaches the worker on both brokers.
      const [r] = await pythonClient(env, { wait: true, timeout: 30, calls: [call({ task: 'tasks.add', args: [1, 1], options: { countdown: 1.5, expires: { $in: 0.8 } } })] });
      expect(r.ok).toBe(false);
      expect(r.exc_class).toBe('TaskRevokedError');
      expect(r.state).toBe('REVOKED');
      expect(worker.output).toContain(`Discarding revoked task: tasks.add[${r.id}] (expired)`);
    });

    test('soft time limit: the task sees it through its signal and finishes cleanly', async () => {
      const [r] = await pythonClient(env, { wait: true, timeout: 30, calls: [call({ task: 'tasks.cooperative_sleep', args: [10], options: { soft_time_limit: 0.5 } })] });
      expect(r.result).toBe('soft limit');
    });

    test('hard time limit: TimeLimitExceeded, and the worker serves the next task right away', async () => {
      const results = await pythonClient(env, {
        wait: true,
        timeout: 30,
        calls: [call({ task: 'tasks.sleep', args: [20], options: { time_limit: 0.5 } }), call({ task: 'tasks.add', args: [2, 2] })],
      });
      expect(results[0].exc_class).toBe('TimeLimitExceeded');
      expect(results[0].state).toBe('FAILURE');
      expect(results[1].result).toBe(4);
      expect(worker.output).toMatch(new RegExp(`Hard time limit \\(0\\.5s\\) exceeded for tasks\\.sleep\\[${results[0].id}\\]`));
    });

    test('ignore_result stores nothing', async () => {
      const [ignored] = await pythonClient(env, { wait: false, calls: [call({ task: 'tasks.add', args: [3, 3], options: { ignore_result: true } })] });
      const [after] = await pythonClient(env, { wait: true, calls: [call({ task: 'tasks.add', args: [4, 4] })] });
      expect(after.result).toBe(8);
      await worker.waitFor(new RegExp(`tasks\\.add\\[${ignored.id}\\] succeeded`));
      const redis = new Redis(REDIS_URL);
      try {
        expect(await redis.exists(`celery-task-meta-${ignored.id}`)).toBe(0);
      } finally {
        redis.disconnect();
      }
    });
  });

  describeWith(b.needs, `priorities on ${b.name}: with prefetch 1, waiting messages run in priority order`, () => {
    test('pre-filled priorities 1, 9, 5 run in the broker\'s priority order', async () => {
      const queue = uniqueName(`prio-${b.name}`);
      const extra = { CELERY_TASK_QUEUE_MAX_PRIORITY: '10' };
      const env = { broker: b.broker, backend: REDIS_URL, extra };
      const sent = await pythonClient(env, {
        wait: false,
        calls: [1, 9, 5].map((p) => ({ task: 'tasks.add', args: [p, 0], options: { queue, priority: p } })),
      });
      const worker = await startCeleriacWorker({ broker: b.broker, backend: REDIS_URL, queues: [queue], concurrency: 1, extraArgs: ['--prefetch-multiplier', '1'], env: extra });
      try {
        for (const s of sent) await worker.waitFor(new RegExp(`\\[${s.id}\\] succeeded`));
        const order = successOrder(worker, sent.map((s) => s.id)).map((id) => sent.findIndex((s) => s.id === id));
        // RabbitMQ: higher number first. kombu's Redis transport: lower number first (priority steps 0, 3, 6, 9).
        expect(order.map((i) => [1, 9, 5][i])).toEqual(b.name === 'amqp' ? [9, 5, 1] : [1, 5, 9]);
      } finally {
        await worker.stop();
      }
    });
  });

  describeWith(b.needs, `rate limits on ${b.name}`, () => {
    test("'5/s' is observed over a window; tasks over the rate wait and all complete", async () => {
      const queue = uniqueName(`rate-${b.name}`);
      const worker = await startCeleriacWorker({ broker: b.broker, backend: REDIS_URL, queues: [queue], concurrency: 8, env: { CELERY_TASK_DEFAULT_RATE_LIMIT: '5/s' } });
      try {
        const started = Date.now();
        const results = await pythonClient({ broker: b.broker, backend: REDIS_URL }, { wait: true, timeout: 30, calls: Array.from({ length: 10 }, (_, i) => ({ task: 'tasks.add', args: [i, 1], options: { queue } })) });
        expect(results.map((r) => r.result)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
        // 10 tasks at 5/s with a bucket of 1: the last starts ~1.8 s after the first. Generous lower bound only.
        expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      } finally {
        await worker.stop();
      }
    });
  });

  describeWith(b.needs, `retries crossing between Python and celeriac workers on ${b.name}`, () => {
    const pyQueue = uniqueName(`xpy-${b.name}`);
    const nodeQueue = uniqueName(`xnode-${b.name}`);
    let py: Proc;
    let node: Proc;
    const env = { broker: b.broker, backend: REDIS_URL };
    beforeAll(async () => {
      [py, node] = await Promise.all([
        startPythonWorker({ broker: b.broker, backend: REDIS_URL, queues: [pyQueue] }),
        startCeleriacWorker({ broker: b.broker, backend: REDIS_URL, queues: [nodeQueue] }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([py?.stop(), node?.stop()]);
    });

    test('a task retried by a Python worker continues on celeriac with the same count', async () => {
      const [r] = await pythonClient(env, { wait: true, timeout: 30, calls: [{ task: 'tasks.flaky', args: [2, nodeQueue], options: { queue: pyQueue } }] });
      expect(r.result).toBe(2);
      await py.waitFor(new RegExp(`tasks\\.flaky\\[${r.id}\\] retry`));
      await node.waitFor(new RegExp(`tasks\\.flaky\\[${r.id}\\] succeeded`));
    });

    test('a task retried by celeriac continues on a Python worker with the same count', async () => {
      const [r] = await pythonClient(env, { wait: true, timeout: 30, calls: [{ task: 'tasks.flaky', args: [2, pyQueue], options: { queue: nodeQueue } }] });
      expect(r.result).toBe(2);
      await node.waitFor(new RegExp(`tasks\\.flaky\\[${r.id}\\] retry`));
      await py.waitFor(new RegExp(`Task tasks\\.flaky\\[${r.id}\\] succeeded`));
    });
  });
}

describeWith(['redis', 'python'], 'results as Python reads them: track_started and result_extended', () => {
  test('STARTED is stored while the task runs, and the extended fields are written', async () => {
    const queue = uniqueName('ext');
    const worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], env: { CELERY_TASK_TRACK_STARTED: 'true', CELERY_RESULT_EXTENDED: 'true' }, extraArgs: ['-n', 'ext-node@%h'] });
    const redis = new Redis(REDIS_URL);
    try {
      const [r] = await pythonClient({ broker: REDIS_URL, backend: REDIS_URL }, { wait: true, collect_states: true, timeout: 30, calls: [{ task: 'tasks.sleep', args: [0.6], kwargs: {}, options: { queue } }] });
      expect(r.result).toBe(0.6);
      expect((r.states ?? []).map((s) => s.state)).toContain('STARTED');
      const stored = JSON.parse((await redis.get(`celery-task-meta-${r.id}`)) as string) as Record<string, unknown>;
      expect(stored).toMatchObject({ status: 'SUCCESS', result: 0.6, name: 'tasks.sleep', args: [0.6], kwargs: {}, retries: 0, queue, task_id: r.id });
      expect(String(stored.worker)).toMatch(/^ext-node@/);
      expect(Object.keys(stored)).toEqual(['status', 'result', 'traceback', 'children', 'date_done', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id']);
    } finally {
      redis.disconnect();
      await worker.stop();
    }
  });
});
