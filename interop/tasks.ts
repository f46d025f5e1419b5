// The example tasks: the same names and behaviour as interop/python/celery_app.py, used by the README, the tests,
// the demo and the benchmark. Run them with `npx celeriac worker -A interop/tasks.ts`.

import { setTimeout as sleepMs } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Celery, PythonError, SoftTimeLimitExceeded, ValueError, type TaskRequest } from 'celeriac';

export const app = new Celery({
  // CELERY_BROKER_URL / CELERY_RESULT_BACKEND (or the CLI's -b / --result-backend) override these.
  broker: 'amqp://guest:guest@127.0.0.1:5672//',
  backend: 'redis://127.0.0.1:6379/0',
});

/** Python's `+` on JSON values: numbers add, strings and lists concatenate, anything else is a TypeError. */
function pyAdd(x: unknown, y: unknown): unknown {
  if (typeof x === 'number' && typeof y === 'number') return x + y;
  if (typeof x === 'bigint' || typeof y === 'bigint') {
    if ((typeof x === 'bigint' || Number.isInteger(x)) && (typeof y === 'bigint' || Number.isInteger(y))) {
      const sum = BigInt(x as number | bigint) + BigInt(y as number | bigint);
      return Number.isSafeInteger(Number(sum)) ? Number(sum) : sum;
    }
  }
  if (typeof x === 'string' && typeof y === 'string') return x + y;
  if (Array.isArray(x) && Array.isArray(y)) return [...x, ...y];
  throw new PythonError('TypeError', [`unsupported operand type(s) for +: '${pyType(x)}' and '${pyType(y)}'`]);
}

function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return Array.isArray(v) ? 'list' : 'dict';
}

export const add = app.task('tasks.add', { params: ['x', 'y'] }, (x: unknown, y: unknown) => pyAdd(x, y));

export const echo = app.task('tasks.echo', { params: ['*args', '**kwargs'] }, (args: unknown[], kwargs: Record<string, unknown>) => [args, kwargs]);

export const fail = app.task('tasks.fail', { params: ['message'] }, (message: string): never => {
  throw new ValueError(message);
});

// No abort signal here: a terminated or timed-out run is abandoned by the worker anyway, and an AbortController per
// call is measurable at thousands of sleeps a second (the I/O benchmark). cooperative_sleep shows the signal in use.
export const sleep = app.task('tasks.sleep', { params: ['seconds'] }, async (seconds: number) => {
  await sleepMs(seconds * 1000);
  return seconds;
});

export const progress = app.task('tasks.progress', { params: ['steps'] }, async function (steps: number) {
  for (let i = 1; i <= steps; i++) {
    await this.updateState('PROGRESS', { current: i, total: steps });
    await sleepMs(200, undefined, { signal: this.signal });
  }
  return steps;
});

/** Retries itself (countdown 0.1 s) until it has retried `failures` times; `retry_queue` sends the retries elsewhere. */
export const flaky = app.task('tasks.flaky', { params: ['failures', { name: 'retry_queue', default: null }], maxRetries: 5 }, function (failures: number, retryQueue: string | null) {
  if (this.request.retries < failures) {
    this.retry({ countdown: 0.1, exc: new ValueError(`failure ${this.request.retries + 1} of ${failures}`), queue: retryQueue ?? undefined });
  }
  return this.request.retries;
});

export const retryForever = app.task('tasks.retry_forever', { params: [] }, function (): never {
  return this.retry({ countdown: 0.1, maxRetries: 2 });
});

export const cooperativeSleep = app.task('tasks.cooperative_sleep', { params: ['seconds'] }, async function (seconds: number) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (this.signal.aborted) {
      if (this.signal.reason instanceof SoftTimeLimitExceeded) return 'soft limit';
      throw this.signal.reason;
    }
    await sleepMs(Math.min(50, until - Date.now()));
  }
  return seconds;
});

export const burn = app.task('tasks.burn', { params: ['ms'] }, (ms: number) => {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x = (x * 31 + 7) % 1000003;
  return x >= 0 ? ms : ms;
});

export const mul = app.task('tasks.mul', { params: ['x', 'y'] }, (x: number, y: number) => x * y);

/** The sum of a list (a chord body). */
export const tsum = app.task('tasks.tsum', { params: ['numbers'] }, (numbers: unknown[]) => numbers.reduce<unknown>((acc, n) => pyAdd(acc, n), 0));

let errorsRedis: Redis | undefined;

/** A new-style errback: called inline on the worker where a task failed; records the failed task's id. */
export const onError = app.task('tasks.on_error', { params: ['request', 'exc', 'traceback'] }, async (request: TaskRequest, _exc: unknown, _traceback: string | null) => {
  errorsRedis ??= new Redis(process.env.INTEROP_REDIS_URL || 'redis://127.0.0.1:6379/0', { maxRetriesPerRequest: 3 });
  await errorsRedis.rpush('interop:errors', request.id);
});

/** An old-style errback: sent as a task with the failed task's id. */
export const logFailed = app.task('tasks.log_failed', { params: ['task_id'] }, (taskId: string) => taskId);
