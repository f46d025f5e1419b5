// The remote control commands a worker answers (celery/worker/control.py's Panel): inspect ping/active/reserved/
// scheduled/registered/stats/revoked/active_queues/query_task/conf/clock/report and control revoke/terminate/
// rate_limit/time_limit/add_consumer/cancel_consumer/enable_events/disable_events/heartbeat/shutdown/hello.

import * as os from 'node:os';
import type { Celery } from '../app';
import { taskQueue } from '../brokers/broker';
import { TaskRevokedError } from '../errors';
import type { LamportClock } from '../events/clock';
import type { WorkerEvents } from '../events/worker-events';
import type { Logger } from '../log';
import { maskSecrets } from '../url';
import type { Request } from '../worker/request';
import type { Worker } from '../worker/worker';
import { brokerInfo, confTable, parseRate, poolStats, queueAsDict, requestInfo, rusage, signum } from './info';
import type { RequestTracker } from './tracker';

export { confTable, parseRate, queueAsDict, requestInfo, signum } from './info';

/** A command's result that must not be replied to (shutdown: Celery's WorkerShutdown ends the handler). */
export const NO_REPLY = Symbol('no reply');
export type CommandResult = unknown | typeof NO_REPLY;

export interface ControlContext {
  app: Celery;
  worker: Worker;
  hostname: string;
  clock: LamportClock;
  tracker: RequestTracker;
  logger: Logger;
  version: string;
  startedAt: number;
  /** Messages per concurrency slot, for `stats.prefetch_count`. */
  prefetchMultiplier: number;
  events?: WorkerEvents;
  /** Signal numbers of terminated tasks, read by the task-revoked event. */
  terminations: Map<string, number>;
  /** Persist the revoked set (`--statedb`). */
  revokedChanged(): void;
  /** Begin a warm shutdown, as the first SIGTERM does. */
  shutdown(): void;
}

type Args = Record<string, unknown>;
type Handler = (ctx: ControlContext, args: Args) => CommandResult | Promise<CommandResult>;

const ok = (value: unknown): { ok: unknown } => ({ ok: value });
const nok = (value: unknown): { error: unknown } => ({ error: value });

function ids(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function findRequests(ctx: ControlContext, wanted: string[]): Array<{ request: Request; state: 'active' | 'reserved' }> {
  const out: Array<{ request: Request; state: 'active' | 'reserved' }> = [];
  for (const id of wanted) {
    const active = ctx.worker.active.get(id);
    if (active) out.push({ request: active.request, state: 'active' });
    else {
      const waiting = ctx.tracker.waiting.get(id);
      if (waiting) out.push({ request: waiting, state: 'reserved' });
    }
  }
  return out;
}

function optionalNumber(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function revoke(ctx: ControlContext, args: Args): CommandResult {
  const taskIds = [...new Set(ids(args.task_id))];
  for (const id of taskIds) ctx.worker.revoked.add(id);
  ctx.revokedChanged();
  if (args.terminate) {
    const num = signum(args.signal);
    const terminated: string[] = [];
    for (const { request, state } of findRequests(ctx, taskIds)) {
      if (terminated.includes(request.id)) continue;
      terminated.push(request.id);
      ctx.logger.info(`Terminating ${request.id} (${num})`);
      if (state === 'active') {
        ctx.terminations.set(request.id, num);
        // The cooperative signal of the event loop: the task's AbortSignal fires; the worker then stores REVOKED.
        ctx.worker.active.get(request.id)?.abort.abort(new TaskRevokedError('terminated'));
      }
      // Not started yet: the revoked set discards it before it runs.
    }
    if (terminated.length === 0) return ok('terminate: tasks unknown');
    return ok(`terminate: ${terminated.join(', ')}`);
  }
  const idstr = taskIds.join(', ');
  ctx.logger.info(`Tasks flagged as revoked: ${idstr}`);
  return ok(`tasks ${idstr} flagged as revoked`);
}

const PANEL: Record<string, Handler> = {
  ping: () => ok('pong'),

  active: (ctx, args) => [...ctx.worker.active.values()].map(({ request }) => requestInfo(request, ctx.hostname, !!args.safe, true)),

  reserved: (ctx) => ctx.tracker.reserved().map((r) => requestInfo(r, ctx.hostname)),

  scheduled: (ctx) =>
    ctx.tracker.scheduled().map((r) => ({ eta: r.data.eta, priority: 6, request: requestInfo(r, ctx.hostname) })),

  query_task: (ctx, args) => {
    const out: Record<string, unknown> = {};
    for (const { request, state } of findRequests(ctx, ids(args.ids))) out[request.id] = [state, requestInfo(request, ctx.hostname, false, state === 'active')];
    return out;
  },

  revoked: (ctx) => [...ctx.worker.revoked],

  registered: (ctx, args) => {
    const items = ids(args.taskinfoitems);
    const wanted = items.length > 0 ? items : ['exchange', 'routing_key', 'rate_limit'];
    const names = [...ctx.app.tasks.values()].filter((t) => t.handler && !t.name.startsWith('celery.')).map((t) => t.name).sort();
    return names.map((name) => {
      const options = (ctx.app.tasks.get(name)?.options ?? {}) as Record<string, unknown>;
      const fields = wanted
        .map((item) => [item, options[item.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())]] as const)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}=${String(v)}`);
      return fields.length > 0 ? `${name} [${fields.join(' ')}]` : name;
    });
  },

  stats: (ctx) => {
    const total: Record<string, number> = {};
    for (const [name, n] of ctx.worker.processed) total[name] = n;
    const conf = ctx.app.conf;
    const base = ctx.prefetchMultiplier > 0 ? ctx.worker.concurrency * ctx.prefetchMultiplier : 0;
    const pool = poolStats(ctx.worker.executor);
    return {
      total,
      pid: process.pid,
      clock: String(ctx.clock.value),
      uptime: Math.floor((Date.now() - ctx.startedAt) / 1000),
      pool: {
        'max-concurrency': pool?.maxConcurrency ?? ctx.worker.concurrency,
        processes: pool && pool.processes.length > 0 ? pool.processes : [process.pid],
        'max-tasks-per-child': 'N/A',
        'put-guarded-by-semaphore': false,
        timeouts: [conf.taskSoftTimeLimit ?? 0, conf.taskTimeLimit ?? 0],
        implementation: `celeriac:${ctx.worker.executor.name}`,
      },
      broker: brokerInfo(ctx.app),
      prefetch_count: base > 0 ? base + ctx.tracker.scheduled().length : 0,
      rusage: rusage(),
      sw_ident: 'celeriac',
      sw_ver: ctx.version,
    };
  },

  active_queues: (ctx) => ctx.worker.queues.map(queueAsDict),

  conf: (ctx, args) => confTable(ctx.app.conf, args.with_defaults === true || args.with_defaults === 'true' || args.with_defaults === 1),
  dump_conf: (ctx, args) => PANEL.conf(ctx, args),

  clock: (ctx) => ({ clock: ctx.clock.value }),

  report: (ctx) => ok(`software -> celeriac:${ctx.version} node:${process.versions.node} (${ctx.worker.executor.name})\nplatform -> system:${os.type()} arch:${os.arch()}\nsettings -> transport:${ctx.app.broker.transport} results:${maskSecrets(ctx.app.conf.resultBackend ?? 'disabled')}`),

  memsample: () => `${(process.memoryUsage().rss / (1024 * 1024)).toFixed(2)}MiB`,

  revoke,

  terminate: (ctx, args) => revoke(ctx, { ...args, terminate: true }),

  rate_limit: (ctx, args) => {
    const name = String(args.task_name);
    const limit = args.rate_limit;
    try {
      if (limit !== null && limit !== undefined && limit !== '') parseRate(limit);
    } catch (err) {
      return nok(`Invalid rate limit string: ValueError(${JSON.stringify((err as Error).message).replace(/^"|"$/g, "'")})`);
    }
    const task = ctx.app.tasks.get(name);
    if (!task || !task.handler) {
      ctx.logger.error(`Rate limit attempt for unknown task ${name}`);
      return nok('unknown task');
    }
    // The worker reads task.options.rateLimit when it admits the next request.
    task.options.rateLimit = limit === null || limit === undefined || limit === '' ? null : String(limit);
    if (!task.options.rateLimit) {
      ctx.logger.info(`Rate limits disabled for tasks of type ${name}`);
      return ok('rate limit disabled successfully');
    }
    ctx.logger.info(`New rate limit for tasks of type ${name}: ${task.options.rateLimit}.`);
    return ok('new rate limit set successfully');
  },

  time_limit: (ctx, args) => {
    const name = String(args.task_name);
    const task = ctx.app.tasks.get(name);
    if (!task || !task.handler) {
      ctx.logger.error(`Change time limit attempt for unknown task ${name}`);
      return nok('unknown task');
    }
    // Read by timeLimitsFor() when the next request of this task starts.
    task.options.softTimeLimit = optionalNumber(args.soft);
    task.options.timeLimit = optionalNumber(args.hard);
    ctx.logger.info(`New time limits for tasks of type ${name}: soft=${task.options.softTimeLimit ?? 'None'} hard=${task.options.timeLimit ?? 'None'}`);
    return ok('time limits set successfully');
  },

  enable_events: (ctx) => {
    const d = ctx.events?.dispatcher;
    if (d && d.groups.size > 0 && !d.groups.has('task')) {
      d.groups.add('task');
      ctx.logger.info('Events of group {task} enabled by remote.');
      return ok('task events enabled');
    }
    return ok('task events already enabled');
  },

  disable_events: (ctx) => {
    const d = ctx.events?.dispatcher;
    if (d && (d.groups.size === 0 || d.groups.has('task'))) {
      if (d.groups.size === 0) d.groups.add('worker');
      d.groups.delete('task');
      ctx.logger.info('Events of group {task} disabled by remote.');
      return ok('task events disabled');
    }
    return ok('task events already disabled');
  },

  heartbeat: async (ctx) => {
    ctx.logger.debug('Heartbeat requested by remote.');
    await ctx.events?.heartbeatNow();
    return null;
  },

  add_consumer: (ctx, args) => {
    const queue = String(args.queue);
    const spec = taskQueue(queue, {
      exchange: typeof args.exchange === 'string' && args.exchange ? args.exchange : undefined,
      exchangeType: typeof args.exchange_type === 'string' && args.exchange_type ? args.exchange_type : undefined,
      routingKey: typeof args.routing_key === 'string' && args.routing_key ? args.routing_key : undefined,
      maxPriority: ctx.app.conf.taskQueueMaxPriority,
    });
    // Celery's call_soon: the reply does not wait for the consumer.
    ctx.worker.addConsumer(spec).then(
      (added) => ctx.logger.info(added ? `Started consuming from ${queue}` : `Already consuming from ${queue}`),
      (err: unknown) => ctx.logger.error(`add_consumer ${queue} failed: ${(err as Error)?.message ?? String(err)}`),
    );
    return ok(`add consumer ${queue}`);
  },

  cancel_consumer: (ctx, args) => {
    const queue = String(args.queue);
    ctx.worker.cancelConsumer(queue).then(
      (cancelled) => cancelled && ctx.logger.info(`Stopped consuming from ${queue}`),
      (err: unknown) => ctx.logger.error(`cancel_consumer ${queue} failed: ${(err as Error)?.message ?? String(err)}`),
    );
    return ok(`no longer consuming from ${queue}`);
  },

  pool_grow: (ctx) => nok(`pool_grow is not supported by the ${ctx.worker.executor.name} pool`),
  pool_shrink: (ctx) => nok(`pool_shrink is not supported by the ${ctx.worker.executor.name} pool`),
  autoscale: () => nok("ValueError('Autoscale not enabled')"),

  election: () => null,

  shutdown: (ctx, args) => {
    ctx.logger.warning(typeof args.msg === 'string' ? args.msg : 'Got shutdown from remote');
    ctx.shutdown();
    return NO_REPLY;
  },

  hello: (ctx, args) => {
    if (args.from_node === ctx.hostname) return null;
    ctx.logger.info(`sync with ${String(args.from_node)}`);
    if (args.revoked && typeof args.revoked === 'object') {
      ctx.worker.revoked.update(args.revoked as Record<string, unknown>);
      ctx.revokedChanged();
    }
    ctx.worker.revoked.purge();
    return { revoked: ctx.worker.revoked.toData(), clock: ctx.clock.forward() };
  },
};

/** Run one command as kombu's Node.dispatch does: unknown or failing commands reply `{"error": repr(exc)}`. */
export async function runCommand(ctx: ControlContext, method: string, args: Args): Promise<CommandResult> {
  const handler = Object.prototype.hasOwnProperty.call(PANEL, method) ? PANEL[method] : undefined;
  if (!handler) {
    ctx.logger.error(`No such control command: ${method}`);
    return nok(`KeyError('${method}')`);
  }
  try {
    return await handler(ctx, args ?? {});
  } catch (err) {
    ctx.logger.error(`pidbox command error: ${(err as Error)?.stack ?? String(err)}`);
    return nok(`${(err as Error)?.name ?? 'Error'}(${JSON.stringify((err as Error)?.message ?? String(err)).replace(/^"|"$/g, "'")})`);
  }
}

export const COMMANDS = Object.keys(PANEL);
