// Task definitions: a name, declared parameters, options with Celery's meaning, and the handler; plus the typed
// handle (`delay`, `applyAsync`, `s`, `si`) a producer uses, and the context (`this`) a running task sees.

import type { ResultMeta, SignatureDict, TaskRequestData } from '../protocol';
import type { AsyncResult } from './result';
import { bindArguments, compileParams, type ParamSpec } from './params';
import type { Signature } from './canvas';

/** Options of a task type, with Celery's meaning (camelCase of the task attribute names). */
export interface TaskOptions {
  /** Declared parameter names, so Python keyword calls bind: `['x', 'y']`, `['*args', '**kwargs']`. */
  params?: ParamSpec[];
  queue?: string;
  priority?: number;
  ignoreResult?: boolean;
  trackStarted?: boolean;
  storeErrorsEvenIfIgnored?: boolean;
  acksLate?: boolean;
  acksOnFailureOrTimeout?: boolean;
  rejectOnWorkerLost?: boolean;
  /** Maximum retries before MaxRetriesExceededError (default 3; null = forever). */
  maxRetries?: number | null;
  /** Seconds before a retry when none is given (default 180). */
  defaultRetryDelay?: number;
  /** Error classes that retry the task automatically. */
  autoretryFor?: Array<abstract new (...args: never[]) => unknown>;
  /** Exponential backoff for automatic retries: true (factor 1 s) or the factor in seconds. */
  retryBackoff?: boolean | number;
  retryBackoffMax?: number;
  retryJitter?: boolean;
  /** Hard time limit in seconds. */
  timeLimit?: number | null;
  /** Soft time limit in seconds (the task's AbortSignal fires). */
  softTimeLimit?: number | null;
  /** `'10/s'`, `'100/m'`, `'1000/h'`. */
  rateLimit?: string | null;
  /** celeriac: where the task runs when the worker's pool differs, e.g. `'threads'` for CPU-bound work (see -P). */
  pool?: 'async' | 'threads' | 'processes';
}

/** What a running task knows about its message (Celery's `self.request`). */
export interface TaskRequest {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  retries: number;
  eta: string | null;
  expires: string | null;
  group: string | null;
  groupIndex: number | null;
  rootId: string | null;
  parentId: string | null;
  correlationId: string | null;
  replyTo: string | null;
  origin: string | null;
  hostname: string;
  timelimit: [number | null, number | null];
  deliveryInfo: { exchange: string; routingKey: string; priority: number; redelivered: boolean };
  headers: Record<string, unknown>;
  /** The raw decoded message, for canvas work. */
  message: TaskRequestData;
}

export interface RetryOptions {
  /** Seconds from now. */
  countdown?: number;
  eta?: Date | string;
  /** Overrides the task's maxRetries for this call. */
  maxRetries?: number | null;
  /** The cause: stored with RETRY, and raised as the final error when retries are exhausted. */
  exc?: unknown;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  queue?: string;
  priority?: number;
}

/** `this` inside a task handler (Celery's bound task `self`). */
export interface TaskContext {
  readonly name: string;
  readonly request: TaskRequest;
  /** Fires on the soft time limit and on `revoke --terminate`; cooperative code should stop. */
  readonly signal: AbortSignal;
  /** Re-send this task later: throws the Retry the worker handles (use `throw this.retry(...)` or just call it). */
  retry(options?: RetryOptions): never;
  /** Store a custom state (e.g. PROGRESS) with its meta. */
  updateState(state: string, meta?: unknown): Promise<void>;
  /** Store PROGRESS in the shape Python dashboards read (celery-progress). */
  progress(current: number, total: number, description?: string): Promise<void>;
}

export type TaskHandler<A extends unknown[] = unknown[], R = unknown> = (this: TaskContext, ...args: A) => R | Promise<R>;

/** The argument lists a partial signature may hold: the task's parameters minus any number of leading ones. */
export type ArgsTail<A extends unknown[]> = A | (A extends [unknown, ...infer Rest] ? ArgsTail<Rest> : never);

/** A signature object or its wire dict. */
export type SignatureLike = Signature | SignatureDict;

/** Per-call options (Celery's apply_async options). */
export interface ApplyOptions {
  taskId?: string;
  countdown?: number;
  eta?: Date | string;
  /** Seconds from now, or an absolute time. */
  expires?: number | Date | string;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  priority?: number;
  headers?: Record<string, unknown>;
  timeLimit?: number;
  softTimeLimit?: number;
  ignoreResult?: boolean;
  shadow?: string;
  argsrepr?: string;
  kwargsrepr?: string;
  parentId?: string | null;
  rootId?: string | null;
  retries?: number;
  groupId?: string | null;
  groupIndex?: number | null;
  replyTo?: string;
  link?: SignatureLike | SignatureLike[];
  linkError?: SignatureLike | SignatureLike[];
  /** Canvas internals, as on the wire. */
  chain?: SignatureLike[] | null;
  chord?: SignatureLike | null;
}

/** The producer side a Task needs from the app (kept minimal so task.ts does not import the app). */
export interface TaskProducer {
  sendTask<R>(name: string, args?: readonly unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>>;
  signature(name: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions & { immutable?: boolean }): Signature;
}

/** A task type: runnable by a worker when it has a handler, and callable from any producer. */
export class Task<A extends unknown[] = unknown[], R = unknown> {
  private readonly compiled;
  /** Python's function name for TypeError messages: the last dotted part of the task name. */
  readonly fnName: string;

  constructor(
    readonly name: string,
    readonly options: TaskOptions,
    readonly handler: TaskHandler<A, R> | null,
    private readonly producer: TaskProducer,
  ) {
    this.compiled = options.params ? compileParams(name, options.params) : null;
    this.fnName = name.split('.').pop() ?? name;
  }

  /** The handler's arguments for a message's args/kwargs (Python binding rules; TypeError when they do not fit). */
  bind(args: readonly unknown[], kwargs: Record<string, unknown>): unknown[] {
    return bindArguments(this.fnName, this.compiled, args, kwargs);
  }

  /** Send with positional arguments: `add.delay(2, 3)`. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.producer.sendTask<R>(this.name, args, {}, this.defaultOptions());
  }

  /** Send with arguments, keyword arguments and options: `add.applyAsync([2, 3], {}, { countdown: 10 })`. */
  applyAsync(args?: A | unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>> {
    return this.producer.sendTask<R>(this.name, args ?? [], kwargs ?? {}, { ...this.defaultOptions(), ...options });
  }

  /** A signature (partial call) for canvases: any tail of the parameters (a parent's result fills the head). */
  s(...args: ArgsTail<A>): Signature<R> {
    return this.producer.signature(this.name, args as unknown[], {}, this.defaultOptions()) as Signature<R>;
  }

  /** An immutable signature: the parent's result is not prepended. */
  si(...args: A): Signature<R> {
    return this.producer.signature(this.name, args, {}, { ...this.defaultOptions(), immutable: true }) as Signature<R>;
  }

  private defaultOptions(): ApplyOptions {
    const o: ApplyOptions = {};
    if (this.options.queue) o.queue = this.options.queue;
    if (this.options.priority !== undefined) o.priority = this.options.priority;
    if (this.options.ignoreResult) o.ignoreResult = true;
    return o;
  }
}

export type { ResultMeta };
