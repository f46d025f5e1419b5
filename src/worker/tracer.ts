// Runs one task handler and classifies how it ended (success, failure, retry, reject, ignore, time limit),
// with Celery's retry rules (max_retries, autoretry_for with backoff) and the soft/hard time limits.

import { parseIsoMs } from '../../protocol';
import { Ignore, MaxRetriesExceededError, Reject, Retry, SoftTimeLimitExceeded, TimeLimitExceeded } from '../errors';
import type { CelerySettings } from '../config';
import type { RetryOptions, Task, TaskContext, TaskRequest } from '../task';
import { pyArgsRepr, pyKwargsRepr } from '../../protocol';
import { TaskCancel } from './cancel';

/** How a task run ended. */
export type Outcome =
  | { kind: 'success'; value: unknown }
  | { kind: 'failure'; error: unknown; timeLimit?: boolean }
  | { kind: 'retry'; retry: RetryPlan; cause: Retry }
  | { kind: 'reject'; requeue: boolean; reason: string }
  | { kind: 'ignore' };

/** Everything needed to re-send a task for a retry. */
export interface RetryPlan {
  /** Epoch ms when the retry is due. */
  etaMs: number;
  countdown: number | null;
  exc: unknown;
  args: unknown[];
  kwargs: Record<string, unknown>;
  queue?: string;
  priority?: number;
}

/** What the tracer needs from the worker for a running task. */
export interface RunServices {
  updateState(state: string, meta: unknown): Promise<void>;
}

export interface TimeLimits {
  hard: number | null;
  soft: number | null;
}

/** Time limits for a request: the message's `timelimit` header first, then the task's, then the worker's. */
export function timeLimitsFor(task: Task<never[], unknown>, request: TaskRequest, conf: CelerySettings, overrides?: Partial<TimeLimits>): TimeLimits {
  const [hard, soft] = request.timelimit;
  return {
    hard: hard ?? overrides?.hard ?? task.options.timeLimit ?? conf.taskTimeLimit ?? null,
    soft: soft ?? overrides?.soft ?? task.options.softTimeLimit ?? conf.taskSoftTimeLimit ?? null,
  };
}

/** Celery's get_exponential_backoff_interval. */
export function backoffSeconds(factor: number, retries: number, maximum: number, fullJitter: boolean): number {
  let countdown = Math.min(maximum, factor * 2 ** retries);
  if (fullJitter) countdown = Math.floor(Math.random() * (countdown + 1));
  return Math.max(0, countdown);
}

class RunContext implements TaskContext {
  readonly name: string;
  constructor(
    private readonly task: Task<never[], unknown>,
    readonly request: TaskRequest,
    private readonly cancel: TaskCancel,
    private readonly services: RunServices,
  ) {
    this.name = task.name;
  }

  get signal(): AbortSignal {
    return this.cancel.signal;
  }

  retry(options: RetryOptions = {}): never {
    throw planRetry(this.task, this.request, options);
  }

  updateState(state: string, meta?: unknown): Promise<void> {
    return this.services.updateState(state, meta ?? null);
  }

  progress(current: number, total: number, description?: string): Promise<void> {
    const percent = total > 0 ? Math.round((current / total) * 10000) / 100 : 0;
    return this.services.updateState('PROGRESS', { pending: false, current, total, percent, description: description ?? null });
  }
}

/** Decide a retry as Celery's Task.retry: past max_retries raise `exc` (or MaxRetriesExceededError), else a Retry. */
export function planRetry(task: Task<never[], unknown>, request: TaskRequest, options: RetryOptions): Error {
  const retries = request.retries + 1;
  const maxRetries = options.maxRetries !== undefined ? options.maxRetries : task.options.maxRetries !== undefined ? task.options.maxRetries : 3;
  const args = options.args ?? request.args;
  const kwargs = options.kwargs ?? request.kwargs;
  if (maxRetries !== null && retries > maxRetries) {
    if (options.exc !== undefined) return options.exc instanceof Error ? options.exc : new Error(String(options.exc));
    return new MaxRetriesExceededError(`Can't retry ${task.name}[${request.id}] args:${pyArgsRepr(args)} kwargs:${pyKwargsRepr(kwargs)}`);
  }
  let etaMs: number;
  let countdown: number | null = null;
  if (options.eta !== undefined) {
    etaMs = options.eta instanceof Date ? options.eta.getTime() : parseIsoMs(options.eta);
  } else {
    countdown = options.countdown ?? task.options.defaultRetryDelay ?? 180;
    etaMs = Date.now() + countdown * 1000;
  }
  const when = countdown !== null ? `in ${countdown}s` : `at ${new Date(etaMs).toISOString()}`;
  const excRepr = options.exc instanceof Error ? `${options.exc.name}(${JSON.stringify(options.exc.message).replace(/^"|"$/g, "'")})` : null;
  const retry = new Retry(excRepr ? `Retry ${when}: ${excRepr}` : `Retry ${when}`, options.exc ?? null, countdown ?? etaMs);
  (retry as Retry & { plan: RetryPlan }).plan = { etaMs, countdown, exc: options.exc ?? null, args, kwargs, queue: options.queue, priority: options.priority };
  return retry;
}

/** Run a task handler with its context and limits, and say how it ended. */
export async function runTask(
  task: Task<never[], unknown>,
  request: TaskRequest,
  limits: TimeLimits,
  services: RunServices,
  cancel: TaskCancel = new TaskCancel(),
): Promise<Outcome> {
  const ctx = new RunContext(task, request, cancel, services);
  let softTimer: NodeJS.Timeout | undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  try {
    const handler = task.handler;
    if (!handler) throw new Error(`task ${task.name} has no handler in this process`);
    if (limits.soft) {
      softTimer = setTimeout(() => cancel.abort(new SoftTimeLimitExceeded(limits.soft as number)), limits.soft * 1000);
    }
    if (limits.hard) {
      const hardSeconds = limits.hard;
      hardTimer = setTimeout(() => cancel.abort(new TimeLimitExceeded(hardSeconds)), hardSeconds * 1000);
    }
    const returned: unknown = handler.apply(ctx, task.bind(request.args, request.kwargs) as never[]);
    // A synchronous result needs no promise machinery (the hot path for small tasks).
    if (!isThenable(returned)) return { kind: 'success', value: returned };
    // An asynchronous run is abandoned when the hard limit passes or it is terminated (revoke --terminate, cold
    // shutdown); the soft limit only fires the signal the task may watch.
    const run = Promise.resolve(returned);
    run.catch(() => undefined); // an abandoned run may still fail later; that must not be unhandled
    const ended = new Promise<never>((_, reject) => {
      cancel.onAbort((reason) => {
        if (!(reason instanceof SoftTimeLimitExceeded)) reject(reason);
      });
    });
    const value = await Promise.race([run, ended]);
    return { kind: 'success', value };
  } catch (err) {
    return classify(task, request, err);
  } finally {
    if (softTimer) clearTimeout(softTimer);
    if (hardTimer) clearTimeout(hardTimer);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function classify(task: Task<never[], unknown>, request: TaskRequest, err: unknown, autoretry = true): Outcome {
  if (err instanceof Retry) {
    const plan = (err as Retry & { plan?: RetryPlan }).plan;
    if (plan) return { kind: 'retry', retry: plan, cause: err };
  }
  if (err instanceof Reject) return { kind: 'reject', requeue: err.requeue, reason: err.reason };
  if (err instanceof Ignore) return { kind: 'ignore' };
  if (err instanceof TimeLimitExceeded) return { kind: 'failure', error: err, timeLimit: true };
  const retryFor = task.options.autoretryFor;
  if (autoretry && retryFor && retryFor.some((cls) => err instanceof (cls as new () => unknown))) {
    const o = task.options;
    let countdown: number | undefined;
    if (o.retryBackoff) {
      const factor = o.retryBackoff === true ? 1 : o.retryBackoff;
      countdown = backoffSeconds(factor, request.retries, o.retryBackoffMax ?? 600, o.retryJitter ?? true);
    }
    const decided = planRetry(task, request, { exc: err, countdown });
    return classify(task, request, decided, false);
  }
  return { kind: 'failure', error: err };
}
