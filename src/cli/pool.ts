// `celeriac worker` pool flags (-P, --autoscale, --max-tasks-per-child, --max-memory-per-child) turned into the
// worker's concurrency and executor, with Celery's settings (worker_pool, worker_max_*_per_child) as defaults.

import * as os from 'node:os';
import type { Celery } from '../app';
import type { Logger } from '../log';
import type { Executor } from '../worker/hooks';
import { createExecutor, parseAutoscale, parsePoolName } from '../worker/pools';

export interface PoolFlags {
  app?: string;
  concurrency?: number;
  pool?: string;
  autoscale?: string;
  maxTasksPerChild?: number;
  maxMemoryPerChild?: number;
}

/** The concurrency (autoscale's max; 1 for `-P solo`), the executor, and a summary for the banner. */
export function poolFromFlags(app: Celery, flags: PoolFlags, logger: Logger): { concurrency: number; executor: Executor; summary: string } {
  const poolFlag = flags.pool ?? app.conf.workerPool;
  const pool = parsePoolName(poolFlag);
  const autoscale = flags.autoscale !== undefined ? parseAutoscale(flags.autoscale) : undefined;
  const solo = poolFlag.toLowerCase() === 'solo';
  const concurrency = Math.max(1, solo ? 1 : (autoscale?.max ?? flags.concurrency ?? app.conf.workerConcurrency ?? os.availableParallelism()));
  const executor = createExecutor(app, {
    pool,
    concurrency,
    appModule: flags.app,
    cwd: process.cwd(),
    autoscale,
    maxTasksPerChild: flags.maxTasksPerChild ?? app.conf.workerMaxTasksPerChild,
    maxMemoryPerChild: flags.maxMemoryPerChild ?? app.conf.workerMaxMemoryPerChild,
    logger,
  });
  const summary = autoscale && pool !== 'async' ? `${executor.name}, autoscale ${autoscale.max},${autoscale.min}` : executor.name;
  return { concurrency, executor, summary };
}
