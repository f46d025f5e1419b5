// The threads and processes pools driven directly, as the worker drives its executor: values of every type the
// protocol carries cross the boundary, errors keep their Python identity and traceback, retry/updateState/soft limits
// work inside the pool, a hard limit or terminate ends only that task's pool worker, recycling (max tasks, max memory)
// loses nothing, autoscale grows and shrinks, a crash is WorkerLostError, and shutdown is warm or cold.

import { formatTraceback, PyDateTime, PyDecimal, PyUUID, toExceptionInfo } from '../../protocol';
import { Retry, TaskRevokedError } from '../../src/errors';
import { PoolExecutor, type PoolKind } from '../../src/worker/pools';
import type { Outcome } from '../../src/worker/tracer';
import { app } from '../fixtures/pool-tasks';
import { makeJob, POOL_TASKS, RecordingLogger } from '../helpers/pool-jobs';

function pool(kind: PoolKind, options: Partial<ConstructorParameters<typeof PoolExecutor>[0]> = {}): { pool: PoolExecutor; log: RecordingLogger } {
  const log = new RecordingLogger();
  return { pool: new PoolExecutor({ kind, appModule: POOL_TASKS, maxSize: 2, logger: log, ...options }), log };
}

function value(outcome: Outcome): unknown {
  if (outcome.kind !== 'success') throw new Error(`expected success, got ${outcome.kind}: ${outcome.kind === 'failure' ? String((outcome.error as Error)?.stack ?? outcome.error) : ''}`);
  return outcome.value;
}

function where(outcome: Outcome): { pid: number; threadId: number; mainThread: boolean } {
  return value(outcome) as { pid: number; threadId: number; mainThread: boolean };
}

describe.each<PoolKind>(['threads', 'processes'])('%s pool', (kind) => {
  const { pool: shared } = pool(kind);
  beforeAll(() => shared.start(), 30000);
  afterAll(() => shared.stop(false));

  test('runs the task off the main thread; values keep the types the protocol carries', async () => {
    const at = where(await shared.run(makeJob(app, 'pools.where').job));
    if (kind === 'threads') {
      expect(at.mainThread).toBe(false);
      expect(at.pid).toBe(process.pid);
    } else expect(at.pid).not.toBe(process.pid);
    const sent = {
      big: 2n ** 70n,
      neg: -(2n ** 64n),
      dec: new PyDecimal('1.10'),
      when: new PyDateTime('2024-01-02T03:04:05.123456+00:00'),
      id: new PyUUID('12345678-1234-5678-1234-567812345678'),
      raw: Buffer.from([0xff, 0x00, 0x10]),
      text: Buffer.from('héllo'),
      floats: [1.5, NaN, Infinity, -Infinity],
      nested: { a: [null, true, 'x'] },
    };
    const got = value(await shared.run(makeJob(app, 'pools.roundtrip', [sent]).job)) as { value: typeof sent; big: bigint; nan: number };
    expect(got.big).toBe(2n ** 70n);
    expect(got.nan).toBeNaN();
    const v = got.value;
    expect(v.big).toBe(2n ** 70n);
    expect(v.neg).toBe(-(2n ** 64n));
    expect(v.dec).toBeInstanceOf(PyDecimal);
    expect(v.dec.value).toBe('1.10');
    expect(v.when).toBeInstanceOf(PyDateTime);
    expect(v.when.isoformat()).toBe('2024-01-02T03:04:05.123456+00:00');
    expect(v.id).toBeInstanceOf(PyUUID);
    expect(v.id.value).toBe('12345678-1234-5678-1234-567812345678');
    expect(Buffer.isBuffer(v.raw) && [...v.raw]).toEqual([0xff, 0x00, 0x10]);
    expect(v.text.toString()).toBe('héllo');
    expect(v.floats[0]).toBe(1.5);
    expect(v.floats[1]).toBeNaN();
    expect(v.floats.slice(2)).toEqual([Infinity, -Infinity]);
    expect(v.nested).toEqual({ a: [null, true, 'x'] });
  });

  test('an error keeps its Python identity and its traceback points at the task source', async () => {
    const outcome = await shared.run(makeJob(app, 'tasks.fail', ['boom']).job);
    expect(outcome.kind).toBe('failure');
    const error = (outcome as { error: unknown }).error;
    const info = toExceptionInfo(error);
    expect(info).toEqual({ exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' });
    const tb = formatTraceback(error, info);
    expect(tb).toMatch(/File ".*interop[\\/]tasks\.ts", line \d+/);
    expect(tb.trim().split('\n').pop()).toBe('ValueError: boom');
    const bad = await shared.run(makeJob(app, 'tasks.add', [1, 2, 3]).job);
    expect(toExceptionInfo((bad as { error: unknown }).error)).toMatchObject({ exc_type: 'TypeError', exc_module: 'builtins' });
  });

  test('retry() comes back as a retry outcome with its plan; updateState/progress reach the main thread', async () => {
    const retried = await shared.run(makeJob(app, 'tasks.flaky', [1]).job);
    expect(retried.kind).toBe('retry');
    const r = retried as Extract<Outcome, { kind: 'retry' }>;
    expect(r.cause).toBeInstanceOf(Retry);
    expect(r.cause.message).toMatch(/^Retry in 0\.1s: ValueError\('failure 1 of 1'\)/);
    expect(r.retry.countdown).toBe(0.1);
    expect(r.retry.args).toEqual([1]);
    expect(toExceptionInfo(r.retry.exc)).toEqual({ exc_type: 'ValueError', exc_message: ['failure 1 of 1'], exc_module: 'builtins' });
    const progress = makeJob(app, 'tasks.progress', [2]);
    expect(value(await shared.run(progress.job))).toBe(2);
    expect(progress.states).toEqual([
      { state: 'PROGRESS', meta: { current: 1, total: 2 } },
      { state: 'PROGRESS', meta: { current: 2, total: 2 } },
    ]);
  });

  test('the soft time limit fires the task signal inside the pool worker', async () => {
    expect(value(await shared.run(makeJob(app, 'tasks.cooperative_sleep', [10], { soft: 0.3 }).job))).toBe('soft limit');
  });

  test('a hard time limit ends only the pool worker running that task; the other task finishes; a replacement serves', async () => {
    const started = performance.now();
    let killedAfter = 0;
    const [limited, other] = await Promise.all([
      shared.run(makeJob(app, 'tasks.burn', [30000], { hard: 0.5 }).job).finally(() => (killedAfter = performance.now() - started)),
      shared.run(makeJob(app, 'tasks.burn', [1500]).job),
    ]);
    expect(limited).toMatchObject({ kind: 'failure', timeLimit: true });
    expect(toExceptionInfo((limited as { error: unknown }).error)).toEqual({ exc_type: 'TimeLimitExceeded', exc_message: [0.5], exc_module: 'billiard.exceptions' });
    expect(value(other)).toBe(1500);
    console.log(`[pools] ${kind}: burn(30000) with a 0.5 s hard limit returned TimeLimitExceeded after ${killedAfter.toFixed(0)} ms; the burn(1500) beside it finished`);
    const after = await Promise.all([shared.run(makeJob(app, 'pools.where').job), shared.run(makeJob(app, 'pools.where').job)]);
    expect(after.every((o) => o.kind === 'success')).toBe(true);
    expect(shared.stats().processes).toHaveLength(2);
  });

  test('terminate (the job signal) ends the task and its pool worker; the pool keeps serving', async () => {
    const running = makeJob(app, 'tasks.burn', [30000]);
    const result = shared.run(running.job);
    const beside = shared.run(makeJob(app, 'tasks.burn', [300]).job);
    setImmediate(() => running.abort.abort(new TaskRevokedError('terminated')));
    const outcome = await result;
    expect(outcome.kind).toBe('failure');
    expect(toExceptionInfo((outcome as { error: unknown }).error)).toEqual({ exc_type: 'TaskRevokedError', exc_message: ['terminated'], exc_module: 'celery.exceptions' });
    expect(value(await beside)).toBe(300);
    expect(value(await shared.run(makeJob(app, 'tasks.add', [2, 3]).job))).toBe(5);
  });

  test('a pool worker that dies mid-task: WorkerLostError (or requeue under acks_late + reject_on_worker_lost)', async () => {
    const lost = await shared.run(makeJob(app, 'pools.crash').job);
    expect(toExceptionInfo((lost as { error: unknown }).error)).toMatchObject({ exc_type: 'WorkerLostError', exc_module: 'billiard.exceptions' });
    expect(String((lost as { error: Error }).error.message)).toMatch(/^Worker exited prematurely: exitcode 3 Job: \d+\.$/);
    const { pool: requeueing } = pool(kind, { maxSize: 1, requeueOnWorkerLost: () => true });
    await requeueing.start();
    try {
      expect(await requeueing.run(makeJob(app, 'pools.crash').job)).toMatchObject({ kind: 'reject', requeue: true });
      expect(value(await requeueing.run(makeJob(app, 'tasks.add', [1, 1]).job))).toBe(2);
    } finally {
      await requeueing.stop(false);
    }
  });
});

describe('recycling and autoscale', () => {
  test('--max-tasks-per-child: a pool worker is replaced after N tasks', async () => {
    const { pool: p } = pool('threads', { maxSize: 1, maxTasksPerChild: 2 });
    await p.start();
    try {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push(where(await p.run(makeJob(app, 'pools.where').job)).threadId);
      expect(ids[0]).toBe(ids[1]);
      expect(ids[2]).toBe(ids[3]);
      expect(new Set(ids).size).toBe(3);
    } finally {
      await p.stop(false);
    }
  });

  test('--max-memory-per-child: a child above the limit is replaced after its task; the task beside it is not lost', async () => {
    const { pool: p, log } = pool('processes', { maxSize: 2, maxMemoryPerChild: 200 * 1024 });
    await p.start();
    try {
      const [hog, burn] = await Promise.all([p.run(makeJob(app, 'pools.hog', [300]).job), p.run(makeJob(app, 'tasks.burn', [1500]).job)]);
      const hogPid = where(hog).pid;
      expect(value(burn)).toBe(1500);
      const line = await log.waitFor(/replacing process \d+: memory/);
      expect(line).toContain(`process ${hogPid}`);
      console.log(`[pools] processes: ${line}`);
      expect(p.stats().replaced).toBe(1);
      const pids = await Promise.all([p.run(makeJob(app, 'pools.where').job), p.run(makeJob(app, 'pools.where').job)]);
      expect(pids.map((o) => where(o).pid)).not.toContain(hogPid);
    } finally {
      await p.stop(false);
    }
  });

  test('--autoscale: grows under a backlog up to max, shrinks to min after the keepalive', async () => {
    const { pool: p, log } = pool('threads', { maxSize: 3, minSize: 1, keepalive: 0.5 });
    await p.start();
    try {
      expect(p.stats().processes).toHaveLength(1);
      const outs = await Promise.all([1, 2, 3].map(() => p.run(makeJob(app, 'tasks.burn', [1000]).job)));
      expect(outs.map(value)).toEqual([1000, 1000, 1000]);
      await log.waitFor(/growing to 3 threads/);
      await log.waitFor(/shrinking to 1 thread/);
      await p.run(makeJob(app, 'tasks.add', [1, 1]).job);
      expect(p.stats().processes).toHaveLength(1);
    } finally {
      await p.stop(false);
    }
  });
});

describe('shutdown', () => {
  test('warm: stop waits for the running task', async () => {
    const { pool: p } = pool('processes', { maxSize: 1 });
    await p.start();
    const running = p.run(makeJob(app, 'tasks.burn', [800]).job);
    await p.stop(false);
    expect(value(await running)).toBe(800);
  });

  test('cold: stop ends the running task at once', async () => {
    const { pool: p } = pool('threads', { maxSize: 1 });
    await p.start();
    const running = p.run(makeJob(app, 'tasks.burn', [30000]).job);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const started = performance.now();
    await p.stop(true);
    expect((await running).kind).toBe('failure');
    expect(performance.now() - started).toBeLessThan(10000);
  });
});
