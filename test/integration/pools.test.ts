// Execution pools end to end: `celeriac worker -P threads|processes` on real Redis and RabbitMQ with a Python Celery
// producer. CPU-bound tasks run in parallel, the main thread keeps the AMQP connection (1 s heartbeats) and takes
// new messages and answers `celery inspect ping` (1 s timeout) while every slot burns, a hard time limit kills only its task, recycling and autoscale lose nothing,
// tasks choose their pool, and warm/cold shutdown behave as with the async pool. Wall times are logged, not judged,
// beyond one generous bound (threads faster than async).

import { Redis } from 'ioredis';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { celeryCli, uniqueNode } from '../helpers/ops';
import { celeriacCli, pythonClient, startCeleriacWorker, type Proc, type PyCall } from '../helpers/processes';

const TASKS = 'test/fixtures/pool-tasks.ts';
const redisEnv = { broker: REDIS_URL, backend: REDIS_URL };

function worker(queue: string, pool: string, extra: string[] = [], o: { broker?: string; concurrency?: number; env?: Record<string, string> } = {}): Promise<Proc> {
  return startCeleriacWorker({ broker: o.broker ?? REDIS_URL, backend: REDIS_URL, queues: [queue], concurrency: o.concurrency ?? 2, tasksModule: TASKS, extraArgs: ['-P', pool, ...extra], env: o.env });
}

const calls = (queue: string, task: string, args: unknown[], n: number, options: Record<string, unknown> = {}): PyCall[] =>
  Array.from({ length: n }, () => ({ task, args, options: { queue, ...options } }));

/** Epoch ms of a worker log line's timestamp (`[2024-01-02 03:04:05.678: INFO/celeriac] …`). */
function stamps(output: string, re: RegExp): number[] {
  const out: number[] = [];
  for (const line of output.split('\n')) {
    const m = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}): /.exec(line);
    if (m && re.test(line)) out.push(Date.parse(`${m[1]}T${m[2]}Z`));
  }
  return out;
}

/** Pool worker pids from the "pool: processes ready (…)" line. */
function poolPids(output: string): number[] {
  const m = /pool: processes ready \([^:]*: ([^)]*)\)/.exec(output);
  return m ? [...m[1].matchAll(/process (\d+)/g)].map((x) => Number(x[1])) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describeWith(['redis', 'amqp', 'python'], 'execution pools (-P) with a Python producer', () => {
  test('20 × burn(200) with -c 2: threads and processes run in parallel, async on one thread', async () => {
    const figures: Record<string, { wallMs: number; workerMs: number }> = {};
    for (const pool of ['async', 'threads', 'processes']) {
      const queue = uniqueName(`burn-${pool}`);
      const w = await worker(queue, pool);
      try {
        const started = performance.now();
        const results = await pythonClient(redisEnv, { wait: true, timeout: 60, calls: calls(queue, 'tasks.burn', [200], 20) });
        const wallMs = performance.now() - started;
        expect(results.map((r) => r.result)).toEqual(Array(20).fill(200));
        for (const r of results) await w.waitFor(new RegExp(`tasks\\.burn\\[${r.id}\\] succeeded`));
        const first = Math.min(...stamps(w.output, /Task tasks\.burn\[.*\] received/));
        const last = Math.max(...stamps(w.output, /Task tasks\.burn\[.*\] succeeded/));
        figures[pool] = { wallMs, workerMs: last - first };
      } finally {
        await w.stop();
      }
    }
    const line = (p: string): string => `${p.padEnd(9)} client wall ${figures[p].wallMs.toFixed(0)} ms, worker first received → last succeeded ${figures[p].workerMs} ms`;
    console.log(`[pools] 20 × burn(200), -c 2, Redis, Python producer:\n  ${['async', 'threads', 'processes'].map(line).join('\n  ')}\n  speedup threads/async ${(figures.async.workerMs / figures.threads.workerMs).toFixed(2)}x (worker span), ${(figures.async.wallMs / figures.threads.wallMs).toFixed(2)}x (client wall)`);
    expect(figures.async.workerMs).toBeGreaterThan(1.3 * figures.threads.workerMs);
  }, 180000);

  test('while both slots burn, the main thread keeps 1 s AMQP heartbeats, receives a new message at once and answers inspect ping within 1 s', async () => {
    const queue = uniqueName('hb');
    const broker = `${AMQP_URL}?heartbeat=1`;
    const node = uniqueNode('burning');
    const w = await worker(queue, 'threads', ['-n', node.arg], { broker });
    const app = new Celery({ broker: AMQP_URL, backend: REDIS_URL });
    try {
      expect(await (await app.sendTask<number>('tasks.add', [1, 1], {}, { queue })).get({ timeout: 30 })).toBe(2); // connected, queue declared
      const burns = await pythonClient({ broker: AMQP_URL, backend: REDIS_URL }, { wait: false, calls: calls(queue, 'tasks.burn', [10000], 2) });
      for (const b of burns) await w.waitFor(new RegExp(`tasks\\.burn\\[${b.id}\\] received`));
      const sentAt = Date.now();
      const add = await app.sendTask<number>('tasks.add', [2, 3], {}, { queue });
      await w.waitFor(new RegExp(`tasks\\.add\\[${add.id}\\] received`));
      // The worker's own log timestamp, so this process's scheduling does not count.
      const receivedAfter = stamps(w.output, new RegExp(`tasks\\.add\\[${add.id}\\] received`))[0] - sentAt;
      console.log(`[pools] -P threads -c 2 on RabbitMQ, both slots in burn(10000): tasks.add received ${receivedAfter} ms after it was sent`);
      expect(receivedAfter).toBeLessThan(1000);
      // Remote control while both slots still burn: both tools wait at most 1 s for the reply.
      const pyPing = await celeryCli(AMQP_URL, ['inspect', 'ping', '-d', node.name, '-t', '1']);
      expect(pyPing.stdout).toContain(`->  ${node.name}: OK`);
      const nodePing = await celeriacCli(['inspect', 'ping', '-d', node.name, '-t', '1'], { CELERY_BROKER_URL: AMQP_URL });
      expect(nodePing.stdout).toContain(node.name);
      expect(nodePing.code).toBe(0);
      expect(w.output).not.toMatch(/tasks\.burn\[.*\] succeeded/); // the pings came while both slots burned
      expect(await add.get({ timeout: 30 })).toBe(5);
      for (const b of burns) expect(await app.AsyncResult(b.id).get({ timeout: 30 })).toBe(10000);
      expect(w.output).not.toMatch(/connection to broker .* lost/);
    } finally {
      await app.close();
      await w.stop();
    }
  }, 60000);

  test.each(['threads', 'processes'])('-P %s: a hard time limit on a burning task kills only that task', async (pool) => {
    const queue = uniqueName(`hard-${pool}`);
    const w = await worker(queue, pool);
    try {
      const [limited, beside, after] = await pythonClient(redisEnv, {
        wait: true,
        timeout: 60,
        calls: [
          { task: 'tasks.burn', args: [30000], options: { queue, time_limit: 1 } },
          { task: 'tasks.burn', args: [2000], options: { queue } },
          { task: 'tasks.add', args: [2, 3], options: { queue } },
        ],
      });
      expect(limited).toMatchObject({ ok: false, state: 'FAILURE', exc_class: 'TimeLimitExceeded' });
      expect(beside).toMatchObject({ ok: true, result: 2000 });
      expect(after).toMatchObject({ ok: true, result: 5 });
      expect(w.output).toMatch(new RegExp(`pool: hard time limit \\(1s\\) exceeded for tasks\\.burn\\[${limited.id}\\]: terminating ${pool === 'threads' ? 'thread' : 'process'} \\d+`));
      const [t0] = stamps(w.output, new RegExp(`tasks\\.burn\\[${limited.id}\\] received`));
      const [t1] = stamps(w.output, new RegExp(`tasks\\.burn\\[${limited.id}\\] raised`));
      console.log(`[pools] -P ${pool}: burn(30000) with time_limit=1 failed with TimeLimitExceeded ${t1 - t0} ms after it was received; burn(2000) beside it and the next task succeeded`);
    } finally {
      await w.stop();
    }
  }, 90000);

  test('-P processes --max-memory-per-child: a child over the limit is replaced after its task, nothing is lost', async () => {
    const queue = uniqueName('mem');
    const w = await worker(queue, 'processes', ['--max-memory-per-child', String(200 * 1024)]);
    try {
      const results = await pythonClient(redisEnv, {
        wait: true,
        timeout: 60,
        calls: [...calls(queue, 'pools.hog', [300], 1), ...calls(queue, 'tasks.burn', [500], 4), ...calls(queue, 'pools.where', [], 4)],
      });
      expect(results.every((r) => r.ok)).toBe(true);
      const hogPid = (results[0].result as { pid: number }).pid;
      const line = /pool: replacing process (\d+): memory (\d+) KiB exceeds 204800 KiB/.exec(w.output);
      expect(line && Number(line[1])).toBe(hogPid);
      const fresh = (results[results.length - 1].result as { rssKiB: number }).rssKiB;
      console.log(`[pools] --max-memory-per-child 204800: child ${hogPid} at ${line?.[2]} KiB after hog(300 MiB) replaced; a fresh child holds ~${fresh} KiB; 9/9 tasks succeeded`);
    } finally {
      await w.stop();
    }
  }, 90000);

  test('--autoscale 3,1: grows under a backlog, shrinks when idle', async () => {
    const queue = uniqueName('autoscale');
    const w = await worker(queue, 'threads', ['--autoscale', '3,1'], { env: { AUTOSCALE_KEEPALIVE: '1' } });
    try {
      expect(w.output).toMatch(/concurrency: 3 \(threads\+async, autoscale 3,1\)/);
      const results = await pythonClient(redisEnv, { wait: true, timeout: 60, calls: calls(queue, 'tasks.burn', [500], 6) });
      expect(results.map((r) => r.result)).toEqual(Array(6).fill(500));
      await w.waitFor(/pool: growing to 3 threads/);
      await w.waitFor(/pool: shrinking to 1 thread/);
    } finally {
      await w.stop();
    }
  }, 60000);

  test('tasks choose their pool: CPU-bound to threads under -P async, I/O to the event loop under -P threads', async () => {
    const queue = uniqueName('route');
    const onAsync = await worker(queue, 'async');
    try {
      const [burn, where, big] = await pythonClient(redisEnv, {
        wait: true,
        calls: [
          { task: 'pools.burn_in_thread', args: [100], options: { queue } },
          { task: 'pools.where', options: { queue } },
          { task: 'pools.roundtrip', args: [2n ** 70n], options: { queue } },
        ],
      });
      expect(burn.result).toMatchObject({ mainThread: false, poolWorker: 'thread' });
      expect(where.result).toMatchObject({ mainThread: true, poolWorker: null });
      expect((big.result as { value: bigint }).value).toBe(2n ** 70n);
      expect(onAsync.output).toMatch(/concurrency: 2 \(async\+threads\)/);
    } finally {
      await onAsync.stop();
    }
    const onThreads = await worker(queue, 'threads');
    try {
      const [loop, pooled, big] = await pythonClient(redisEnv, {
        wait: true,
        calls: [
          { task: 'pools.where_async', options: { queue } },
          { task: 'pools.where', options: { queue } },
          { task: 'pools.roundtrip', args: [2n ** 70n], options: { queue } },
        ],
      });
      expect(loop.result).toMatchObject({ mainThread: true });
      expect(pooled.result).toMatchObject({ mainThread: false, poolWorker: 'thread' });
      expect((big.result as { value: bigint; big: bigint }).value).toBe(2n ** 70n);
      expect((big.result as { value: bigint; big: bigint }).big).toBe(2n ** 70n);
    } finally {
      await onThreads.stop();
    }
  }, 60000);

  test('-P processes warm shutdown: the running task finishes and is stored; the children exit', async () => {
    const queue = uniqueName('pwarm');
    const w = await worker(queue, 'processes');
    const pids = poolPids(w.output);
    expect(pids).toHaveLength(2);
    const [sent] = await pythonClient(redisEnv, { wait: false, calls: calls(queue, 'tasks.burn', [1500], 1) });
    await w.waitFor(new RegExp(`tasks\\.burn\\[${sent.id}\\] received`));
    expect(await w.stop('SIGTERM')).toBe(0);
    expect(w.output).toMatch(new RegExp(`tasks\\.burn\\[${sent.id}\\] succeeded`));
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL });
    try {
      expect(await app.AsyncResult(sent.id).get({ timeout: 5 })).toBe(1500);
    } finally {
      await app.close();
    }
    expect(pids.filter(alive)).toEqual([]);
  }, 60000);

  test('-P processes cold shutdown: the running acksLate message goes back to the queue; the children are gone', async () => {
    const queue = uniqueName('pcold');
    const w = await worker(queue, 'processes', [], { env: { CELERY_TASK_ACKS_LATE: 'true' } });
    const pids = poolPids(w.output);
    const [sent] = await pythonClient(redisEnv, { wait: false, calls: calls(queue, 'tasks.burn', [30000], 1) });
    await w.waitFor(new RegExp(`tasks\\.burn\\[${sent.id}\\] received`));
    w.child.kill('SIGTERM');
    await w.waitFor(/Warm shutdown/);
    expect(await w.stop('SIGINT')).toBe(1);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.llen(queue)).toBe(1);
      await redis.del(queue);
    } finally {
      redis.disconnect();
    }
    expect(pids.filter(alive)).toEqual([]);
  }, 60000);
});
