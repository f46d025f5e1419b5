// The chaos and soak suites' tasks (`celeriac worker -A chaos/tasks.ts`): `chaos.add` records every execution in a
// Redis hash so the suite can count tasks that ran twice; `chaos.noop` is the soak's do-nothing task.

import { setTimeout as sleepMs } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Celery } from 'celeriac';

export const app = new Celery({
  // The CLI's -b / --result-backend (or CELERY_BROKER_URL / CELERY_RESULT_BACKEND) set the real ones.
  broker: 'redis://127.0.0.1:6379/0',
  backend: 'redis://127.0.0.1:6379/0',
});

let executions: Redis | undefined;

/**
 * x + y, after counting this execution under the task id in the hash `counter` (on CHAOS_REDIS_URL, default the local
 * Redis). `holdMs` keeps the task in flight a little, so that kills and drops find tasks running.
 */
export const add = app.task('chaos.add', { params: ['x', 'y', 'counter', { name: 'hold_ms', default: 0 }] }, async function (x: number, y: number, counter: string, holdMs: number) {
  // Not named celeriac:*, so dropping the worker's own connections leaves this bookkeeping connection alone.
  executions ??= new Redis(process.env.CHAOS_REDIS_URL || 'redis://127.0.0.1:6379/0', { connectionName: `chaos-executions:${process.pid}`, maxRetriesPerRequest: null });
  await executions.hincrby(counter, this.request.id, 1);
  if (holdMs > 0) await sleepMs(holdMs);
  return x + y;
});

/** Does nothing: the soak measures the worker, not the task. */
export const noop = app.task('chaos.noop', { ignoreResult: true }, () => null);
