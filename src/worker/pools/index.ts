// Choosing a worker's executor: the pool of -P (async, threads, processes), the pools tasks ask for with their
// `pool` option (a router sends each task to its pool), --autoscale, and the recycling limits per pool worker.

import * as os from 'node:os';
import type { Celery } from '../../app';
import { ConfigurationError } from '../../config';
import { silentLogger, type Logger } from '../../log';
import type { Task } from '../../task';
import { AsyncExecutor, type ExecutionJob, type Executor } from '../hooks';
import type { Outcome } from '../tracer';
import { PoolExecutor } from './pool';

export { PoolExecutor, type PoolExecutorOptions, type PoolStats } from './pool';
export { PoolStartError, type PoolKind } from './member';

export type PoolName = 'async' | 'threads' | 'processes';

/** `-P` as Celery spells it: `prefork` is `processes`; `solo` is `async` (the CLI runs it one task at a time). */
export function parsePoolName(value: string | undefined): PoolName {
  const v = (value ?? 'async').toLowerCase();
  if (v === 'async' || v === 'solo') return 'async';
  if (v === 'threads') return 'threads';
  if (v === 'processes' || v === 'prefork') return 'processes';
  throw new ConfigurationError(`unknown pool ${JSON.stringify(value)}: use async, threads or processes (or Celery's prefork, solo)`);
}

/** `--autoscale max,min` (Celery's order; `--autoscale 10` is 10,0). */
export function parseAutoscale(value: string): { max: number; min: number } {
  const parts = value.split(',').map((p) => p.trim());
  const max = Number(parts[0]);
  const min = parts.length > 1 && parts[1] !== '' ? Number(parts[1]) : 0;
  if (parts.length > 2 || !Number.isInteger(max) || !Number.isInteger(min) || max < 1 || min < 0) {
    throw new ConfigurationError(`--autoscale takes max,min (e.g. 10,3), got ${JSON.stringify(value)}`);
  }
  return { max: Math.max(max, min), min: Math.min(max, min) };
}

export interface ExecutorSettings {
  /** The worker's pool (default async). */
  pool?: PoolName;
  /** The worker's concurrency (with autoscale: its max). */
  concurrency: number;
  /** The tasks module the threads and processes pools load (the CLI's `-A`). */
  appModule?: string;
  cwd?: string;
  autoscale?: { max: number; min: number };
  maxTasksPerChild?: number | null;
  /** KiB, as Celery. */
  maxMemoryPerChild?: number | null;
  /** Autoscale's idle seconds before shrinking (default AUTOSCALE_KEEPALIVE from the environment, else 30). */
  keepalive?: number;
  logger?: Logger;
}

/** Runs each task on the pool its `pool` option names, and every other task on the worker's own pool. */
export class ExecutorRouter implements Executor {
  readonly name: string;
  constructor(
    readonly primary: Executor,
    readonly others: ReadonlyMap<string, Executor>,
  ) {
    this.name = [primary.name, ...others.keys()].join('+');
  }

  async start(): Promise<void> {
    const started = await Promise.allSettled([this.primary, ...this.others.values()].map((e) => e.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stop(true);
      throw failed.reason;
    }
  }

  run(job: ExecutionJob): Promise<Outcome> {
    return this.executorFor(job.task).run(job);
  }

  executorFor(task: Task<never[], unknown>): Executor {
    const wanted = task.options.pool;
    return (wanted && this.others.get(wanted)) || this.primary;
  }

  async stop(cold: boolean): Promise<void> {
    await Promise.all([this.primary, ...this.others.values()].map((e) => e.stop(cold)));
  }
}

/**
 * The executor for a worker: its pool, plus a pool for each other `pool` its tasks ask for (sized to the CPUs, at
 * most the concurrency). One pool with no preferences elsewhere is returned as is.
 */
export function createExecutor(app: Celery, settings: ExecutorSettings): Executor {
  const logger = settings.logger ?? app.logger ?? silentLogger;
  const main = settings.pool ?? 'async';
  if (main === 'async') {
    if (settings.autoscale) logger.warning('--autoscale applies to the threads and processes pools; the async pool runs up to its max at once');
    if (settings.maxTasksPerChild || settings.maxMemoryPerChild) logger.warning('--max-tasks-per-child and --max-memory-per-child apply to the threads and processes pools');
  }
  const wanted = new Map<PoolName, string[]>();
  for (const task of app.tasks.values()) {
    const pool = task.options.pool;
    if (!task.handler || !pool || pool === main) continue;
    if (pool !== 'async' && pool !== 'threads' && pool !== 'processes') throw new ConfigurationError(`task ${task.name}: unknown pool ${JSON.stringify(pool)}`);
    wanted.set(pool, [...(wanted.get(pool) ?? []), task.name]);
  }
  const envKeepalive = process.env.AUTOSCALE_KEEPALIVE ? Number(process.env.AUTOSCALE_KEEPALIVE) : NaN;
  const build = (name: PoolName, primary: boolean): Executor => {
    if (name === 'async') return new AsyncExecutor();
    if (!settings.appModule) {
      const who = primary ? `-P ${name}` : `tasks ${(wanted.get(name) ?? []).join(', ')} (pool: '${name}')`;
      throw new ConfigurationError(`${who}: the ${name} pool loads the tasks in each pool worker, so it needs the tasks module (-A, or appModule)`);
    }
    const size = primary ? (settings.autoscale?.max ?? settings.concurrency) : Math.min(settings.concurrency, os.availableParallelism());
    return new PoolExecutor({
      kind: name,
      appModule: settings.appModule,
      cwd: settings.cwd,
      maxSize: size,
      minSize: primary ? settings.autoscale?.min : undefined,
      maxTasksPerChild: settings.maxTasksPerChild,
      maxMemoryPerChild: settings.maxMemoryPerChild,
      keepalive: settings.keepalive ?? (Number.isFinite(envKeepalive) && envKeepalive >= 0 ? envKeepalive : undefined),
      brokerUrl: app.conf.brokerUrl,
      resultBackend: app.conf.resultBackend ?? undefined,
      logger,
      requeueOnWorkerLost: (task) => (task.options.acksLate ?? app.conf.taskAcksLate) && (task.options.rejectOnWorkerLost ?? app.conf.taskRejectOnWorkerLost),
    });
  };
  const primary = build(main, true);
  if (wanted.size === 0) return primary;
  const others = new Map<string, Executor>();
  for (const [name, tasks] of wanted) {
    others.set(name, build(name, false));
    logger.info(`pool: ${tasks.join(', ')} run on the ${name} pool`);
  }
  return new ExecutorRouter(primary, others);
}
