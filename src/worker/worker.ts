// The worker: consume task queues, check each message the way Celery does (content type, registration, expiry,
// ETA), run tasks up to the concurrency limit, store results, settle messages, and shut down warm or cold.

import * as os from 'node:os';
import {
  ContentDisallowed,
  DecodeError,
  decodeTaskMessage,
  encodeTaskMessage,
  exceptionRepr,
  formatTraceback,
  InvalidTaskMessage,
  isoformatUtc,
  naiveIso,
  pyRepr,
  resultTuple,
  toExceptionInfo,
  type ResultMeta,
  type TaskRequestData,
  type WireMessage,
} from '../../protocol';
import type { Celery } from '../app';
import type { Consumer, Delivery, QueueSpec } from '../brokers/broker';
import { NotRegistered, TaskRevokedError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { LimitedSet } from '../control/limited-set';
import type { Task } from '../task';
import { Request } from './request';
import { Admission } from './admission';
import { timeLimitsFor, type Outcome, type RetryPlan } from './tracer';
import { AsyncExecutor, noCanvas, TaskCancel, type CanvasHandler, type Executor, type TaskLifecycleListener } from './hooks';
import { WorkerCanvas } from './canvas-handler';

export interface WorkerOptions {
  /** Queue names to consume (default: task_default_queue). */
  queues?: string[];
  /** Tasks run at once (default: the number of CPUs, as Celery). */
  concurrency?: number;
  prefetchMultiplier?: number;
  /** Node name, `celery@<host>` by default; `%h`, `%n`, `%d` expand as in Celery. */
  hostname?: string;
  logger?: Logger;
  /** Runs the tasks (default: on the event loop). */
  executor?: Executor;
  /** Canvas handling around results (callbacks, chains, chords, errbacks). */
  canvas?: CanvasHandler;
}

/** Expand Celery's node name placeholders: %h = host, %n = name part of host, %d = domain part. */
export function expandHostname(template: string | undefined): string {
  const host = os.hostname();
  const [name, ...domain] = host.split('.');
  const value = (template ?? 'celery@%h').replace(/%h/g, host).replace(/%n/g, name).replace(/%d/g, domain.join('.')).replace(/%%/g, '%');
  return value.includes('@') ? value : `celery@${value}`;
}

export class Worker {
  readonly hostname: string;
  readonly concurrency: number;
  readonly queues: QueueSpec[];
  private readonly logger: Logger;
  private readonly accept: ReadonlySet<string>;
  private readonly prefetchBase: number;
  private consumer: Consumer | undefined;
  /** Received and due, waiting for a free slot (prefetched). */
  private readonly ready: Request[] = [];
  /** Running now. */
  readonly active = new Map<string, { request: Request; abort: TaskCancel }>();
  /** ETA holds and rate limits: decides when a received request may run. */
  readonly admission: Admission;
  /** Result writes and publishes not yet finished; shutdown waits for them. */
  private readonly pendingWrites = new Set<Promise<unknown>>();
  /** Revoked task ids (Celery's LimitedSet: 50000 ids, 3 hours each), filled by remote control and --statedb. */
  readonly revoked = new LimitedSet(50000, 10800);
  private stopping = false;
  /** Tasks whose handler is done but whose result/ack/canvas work is still under way. */
  private finishing = 0;
  private readonly maxFinishing: number;
  private cold = false;
  private stopped: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Counts for `inspect stats` and the demo. */
  readonly processed = new Map<string, number>();
  private total = 0;
  readonly executor: Executor;
  canvas: CanvasHandler;
  private readonly listeners: TaskLifecycleListener[] = [];

  constructor(
    readonly app: Celery,
    options: WorkerOptions = {},
  ) {
    const conf = app.conf;
    this.logger = options.logger ?? app.logger ?? silentLogger;
    this.hostname = expandHostname(options.hostname);
    this.concurrency = Math.max(1, options.concurrency ?? conf.workerConcurrency ?? os.availableParallelism());
    const multiplier = options.prefetchMultiplier ?? conf.workerPrefetchMultiplier;
    this.prefetchBase = multiplier > 0 ? this.concurrency * multiplier : 0;
    this.maxFinishing = Math.max(100, this.concurrency * 4);
    this.accept = new Set(conf.acceptContent);
    const names = options.queues && options.queues.length > 0 ? options.queues : [conf.taskDefaultQueue];
    this.queues = names.map((n) => app.queueSpec(n));
    this.admission = new Admission({
      logger: this.logger,
      onDue: (request) => {
        if (this.stopping) {
          request.reject(true);
          return;
        }
        if (this.discardIfRevoked(request)) return;
        this.ready.push(request);
        this.pump();
      },
      onHeldChange: (extra) => {
        if (this.prefetchBase > 0) this.consumer?.setPrefetch(this.prefetchBase + extra);
      },
      rateFor: (name) => (conf.workerDisableRateLimits ? null : (this.app.tasks.get(name)?.options.rateLimit ?? conf.taskDefaultRateLimit)),
      maxHoldMs: etaHoldLimitMs(app),
      republish: (request) => this.republish(request),
      unpark: async (request) => {
        let unreadable = false;
        const decode = (message: WireMessage): TaskRequestData | null => {
          try {
            return decodeTaskMessage(message, this.accept);
          } catch (err) {
            unreadable = true;
            this.logger.error(`Held task ${request.label} cannot be decoded any more (${(err as Error)?.message ?? String(err)}); message discarded`);
            return null;
          }
        };
        if (await request.unpark(decode)) return true;
        // Purged, or restored by another worker: nothing to run here; settle our side of it.
        if (!unreadable) this.logger.warning(`Held task ${request.label} is no longer in the broker's unacked messages (purged or restored elsewhere); dropping it here`);
        request.ack();
        return false;
      },
    });
    this.executor = options.executor ?? new AsyncExecutor();
    this.canvas = options.canvas ?? new WorkerCanvas(app, { hostname: this.hostname, logger: this.logger });
  }

  /** Be told of every task's lifecycle (events, metrics). */
  addListener(listener: TaskLifecycleListener): void {
    this.listeners.push(listener);
  }

  private notify<K extends keyof TaskLifecycleListener>(event: K, ...args: Parameters<NonNullable<TaskLifecycleListener[K]>>): void {
    for (const l of this.listeners) {
      const fn = l[event] as ((...a: unknown[]) => void) | undefined;
      if (!fn) continue;
      try {
        fn.apply(l, args);
      } catch (err) {
        this.logger.error(`${event} listener failed: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }

  /** Tasks completed so far (all outcomes). */
  get processedTotal(): number {
    return this.total;
  }

  async start(): Promise<void> {
    await this.app.connect();
    await this.executor.start();
    this.consumer = await this.app.broker.consume(this.queues, (d) => this.onDelivery(d), { prefetch: this.prefetchBase });
    this.logger.info(`${this.hostname} ready. Consuming ${this.queues.map((q) => q.name).join(', ')} from ${this.app.broker.displayUrl} (concurrency ${this.concurrency}, prefetch ${this.prefetchBase || 'unlimited'})`);
  }

  // ---- receiving ----------------------------------------------------------------------------------

  private onDelivery(delivery: Delivery): void {
    if (this.stopping) {
      delivery.reject(true);
      return;
    }
    const limit = this.app.conf.workerMaxMessageSize;
    if (limit > 0 && delivery.message.body.length > limit) {
      this.logger.error(`Received a message of ${delivery.message.body.length} bytes on ${delivery.queue}, over the ${limit}-byte limit (--max-message-size); message rejected`);
      delivery.reject(false);
      return;
    }
    let data: TaskRequestData;
    try {
      data = decodeTaskMessage(delivery.message, this.accept);
    } catch (err) {
      this.onBadMessage(delivery, err);
      return;
    }
    const request = new Request(data, delivery);
    if (data.eta && request.etaMs === null) {
      this.logger.error(`Received invalid task message ${request.label}: cannot read eta ${JSON.stringify(data.eta)}; message discarded`);
      request.reject(false);
      return;
    }
    const task = this.app.tasks.get(data.task);
    if (!task || !task.handler) {
      this.onUnregistered(request);
      return;
    }
    if (this.logger.isEnabled('info')) this.logger.info(`Task ${request.label} received`);
    if (this.listeners.length) this.notify('received', request);
    if (this.discardIfRevoked(request)) return;
    this.admission.admit(request);
  }

  /** Malformed or refused messages: log the reason and remove the message, as Celery does; never crash. */
  private onBadMessage(delivery: Delivery, err: unknown): void {
    const preview = delivery.message.body.subarray(0, 200).toString('utf8');
    if (err instanceof ContentDisallowed) {
      this.logger.error(`Received invalid task message: ${err.message}; message rejected`);
      delivery.reject(false);
    } else if (err instanceof InvalidTaskMessage) {
      this.logger.error(`Received and deleted unknown message (${err.message}). Wrong destination?!? Body: ${JSON.stringify(preview)}`);
      delivery.reject(false);
    } else if (err instanceof DecodeError) {
      this.logger.error(`Can't decode message body: ${err.message}; message discarded. Body: ${JSON.stringify(preview)}`);
      delivery.ack();
    } else {
      this.logger.error(`Unexpected error reading a message: ${(err as Error)?.stack ?? String(err)}; message rejected`);
      delivery.reject(false);
    }
  }

  private onUnregistered(request: Request): void {
    this.logger.error(
      `Received unregistered task of type '${request.name}'. The message has been ignored and discarded. ` +
        `Did you remember to import the module containing this task? Registered: ${[...this.app.tasks.keys()].sort().join(', ') || '(none)'}`,
    );
    const info = toExceptionInfo(new NotRegistered(request.name));
    this.track(this.store(request, 'FAILURE', info, null));
    request.reject(false);
    if (this.listeners.length) this.notify('failed', request, info, null);
  }

  /** Revoked ids and expired messages are discarded with REVOKED stored (Celery: "Discarding revoked task"). */
  private discardIfRevoked(request: Request): boolean {
    const expired = request.isExpired();
    if (!expired && !this.revoked.has(request.id)) return false;
    this.logger.info(`Discarding revoked task: ${request.label}${expired ? ' (expired)' : ''}`);
    const reason = expired ? 'expired' : 'revoked';
    const info = toExceptionInfo(new TaskRevokedError(reason));
    // As Celery's mark_as_revoked: a revoked chord member still counts, so the chord fails instead of waiting forever.
    this.track(this.store(request, 'REVOKED', info, null).then(() => this.canvas.afterStore(request, 'REVOKED', info)));
    request.ack();
    this.count(request);
    if (this.listeners.length) this.notify('revoked', request, reason);
    return true;
  }

  /** Send a held message again, unchanged, to where it came from, then ack the original (far-future ETA). */
  private async republish(request: Request): Promise<void> {
    const d = request.delivery;
    await this.app.broker.publish({ exchange: d.exchange, routingKey: d.routingKey }, d.message);
    request.ack();
  }

  // ---- running ------------------------------------------------------------------------------------

  private pump(): void {
    while (this.active.size < this.concurrency && this.finishing < this.maxFinishing && this.ready.length > 0) {
      const request = this.ready.shift() as Request;
      if (request.delivery.isLive?.() === false) {
        // Its AMQP channel closed before it started: the broker delivers the message again, so running this copy
        // would run the task twice (Celery clears its reserved requests on connection loss for the same reason).
        this.logger.info(`Task ${request.label} not started: its channel closed and the broker delivers it again`);
        request.reject(true); // settles it here; nothing is sent on the dead channel
        continue;
      }
      if (this.discardIfRevoked(request)) continue;
      void this.execute(request);
    }
  }

  private acksLate(task: Task<never[], unknown>): boolean {
    return task.options.acksLate ?? this.app.conf.taskAcksLate;
  }

  private async execute(request: Request): Promise<void> {
    const task = this.app.tasks.get(request.name) as Task<never[], unknown>;
    const abort = new TaskCancel();
    this.active.set(request.id, { request, abort });
    request.startedAt = Date.now();
    if (!this.acksLate(task)) request.ack(); // early ack: when the pool accepts the job, as Celery
    const trackStarted = task.options.trackStarted ?? this.app.conf.taskTrackStarted;
    const info = request.toTaskRequest(this.hostname);
    if (trackStarted) this.track(this.store(request, 'STARTED', { pid: process.pid, hostname: this.hostname }, null));
    if (this.listeners.length) this.notify('started', request);
    let outcome: Outcome;
    try {
      outcome = await this.executor.run({
        task,
        request: info,
        limits: timeLimitsFor(task, info, this.app.conf),
        services: { updateState: (state, meta) => this.store(request, state, meta, null) },
        cancel: abort,
        get signal() {
          return abort.signal;
        },
      });
    } catch (err) {
      outcome = { kind: 'failure', error: err };
    }
    // A cold shutdown already returned this message to the queue; its late outcome must not be recorded.
    if (!this.active.has(request.id)) return;
    const runtime = (Date.now() - request.startedAt) / 1000;
    // The slot is free as soon as the handler is done: storing the result, acks and canvas steps go on in the
    // background (bounded by MAX_FINISHING), so a result round trip never idles a concurrency slot.
    this.active.delete(request.id);
    this.finishing++;
    this.pump();
    // revoke --terminate ended it: REVOKED ["terminated"] whatever the run returned (as Celery's Request.terminate).
    const terminated = abort.reason instanceof TaskRevokedError;
    void this.track(
      (terminated ? this.finishTerminated(request) : this.finish(task, request, outcome, runtime))
        .catch((err: unknown) => {
          this.logger.error(`Task ${request.label}: handling its outcome failed: ${(err as Error)?.stack ?? String(err)}`);
          request.ack();
        })
        .finally(() => {
          this.finishing--;
          this.count(request);
          this.pump();
          this.notifyIdle();
        }),
    );
  }

  private async finish(task: Task<never[], unknown>, request: Request, outcome: Outcome, runtime: number): Promise<void> {
    const ignoreResult = request.data.ignoreResult || (task.options.ignoreResult ?? this.app.conf.taskIgnoreResult);
    switch (outcome.kind) {
      case 'success': {
        if (this.logger.isEnabled('info')) this.logger.info(`Task ${request.label} succeeded in ${runtime.toFixed(6)}s: ${pyRepr(outcome.value)}`);
        // Callbacks and the next chain step go out before the result is stored, so `children` lists them (Celery's order).
        const children = this.canvas === noCanvas ? [] : await this.canvas.beforeStoreSuccess(request, outcome.value);
        if (!ignoreResult) await this.store(request, 'SUCCESS', outcome.value, null, children); // finish() itself is tracked
        if (this.canvas !== noCanvas) await this.canvas.afterStore(request, 'SUCCESS', outcome.value);
        request.ack();
        if (this.listeners.length) this.notify('succeeded', request, outcome.value, runtime);
        return;
      }
      case 'failure': {
        const info = toExceptionInfo(outcome.error);
        const traceback = formatTraceback(outcome.error, info);
        if (outcome.timeLimit) this.logger.error(`Hard time limit (${(info.exc_message as unknown[])[0]}s) exceeded for ${request.label}`);
        this.logger.error(`Task ${request.label} raised unexpected: ${exceptionRepr(info)}\n${traceback}`);
        const storeErrors = task.options.storeErrorsEvenIfIgnored ?? this.app.conf.taskStoreErrorsEvenIfIgnored;
        if (!ignoreResult || storeErrors) await this.store(request, 'FAILURE', info, traceback);
        if (this.canvas !== noCanvas) {
          await this.canvas.afterStore(request, 'FAILURE', info);
          await this.canvas.afterFailure(request, info, traceback, outcome.error);
        }
        if (this.listeners.length) this.notify('failed', request, info, traceback);
        const ackOnFailure = task.options.acksOnFailureOrTimeout ?? this.app.conf.taskAcksOnFailureOrTimeout;
        if (ackOnFailure || !this.acksLate(task)) request.ack();
        else request.reject(false);
        return;
      }
      case 'retry': {
        const cause = outcome.cause;
        this.logger.info(`Task ${request.label} retry: ${cause.message}`);
        await this.publishRetry(request, outcome.retry);
        const excInfo = toExceptionInfo(outcome.retry.exc ?? cause);
        const traceback = formatTraceback(outcome.retry.exc ?? cause, excInfo);
        await this.store(request, 'RETRY', excInfo, traceback, [resultTuple(request.id)]);
        request.ack();
        if (this.listeners.length) this.notify('retried', request, excInfo, traceback);
        return;
      }
      case 'reject':
        this.logger.info(`Task ${request.label} rejected${outcome.requeue ? ' (requeued)' : ''}: ${outcome.reason}`);
        request.reject(outcome.requeue);
        if (this.listeners.length) this.notify('rejected', request, outcome.requeue);
        return;
      case 'ignore':
        request.ack();
        return;
    }
  }

  /** Re-send the task with the same id, retries + 1 and an ETA, as Celery's retry (custom headers and canvas kept). */
  private async publishRetry(request: Request, plan: RetryPlan): Promise<void> {
    const d = request.data;
    const queue = plan.queue ?? (request.delivery.exchange === '' ? request.delivery.routingKey : request.delivery.queue);
    const custom: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d.headers)) if (!STANDARD_HEADERS.has(k)) custom[k] = v;
    const message = encodeTaskMessage({
      id: d.id,
      task: d.task,
      args: plan.args,
      kwargs: plan.kwargs,
      embed: d.embed,
      shadow: d.shadow,
      eta: isoformatUtc(plan.etaMs),
      expires: d.expires,
      group: d.group,
      groupIndex: d.groupIndex,
      retries: d.retries + 1,
      timelimit: d.timelimit,
      rootId: d.rootId ?? d.id,
      parentId: d.id,
      origin: this.hostname,
      ignoreResult: d.ignoreResult,
      replyTo: d.replyTo ?? this.app.oid,
      priority: plan.priority ?? request.delivery.priority,
      headers: custom,
      taggedJson: this.app.conf.jsonTaggedTypes,
    });
    if (d.correlationId) message.properties.correlationId = d.correlationId;
    await this.app.ensureQueue(queue);
    await this.app.broker.publish({ exchange: '', routingKey: queue }, message);
  }

  // ---- results ------------------------------------------------------------------------------------

  /** Store one state of a request's task (with result_extended fields when enabled). */
  store(request: Request, status: string, result: unknown, traceback: string | null, children: ResultMeta['children'] = []): Promise<void> {
    const d = request.data;
    const ready = status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
    const meta: ResultMeta = {
      status,
      result,
      traceback,
      children,
      date_done: ready ? naiveIso(Date.now()) : null,
      group_id: d.group,
      parent_id: d.parentId,
      task_id: d.id,
    };
    if (this.app.conf.resultExtended) {
      meta.extended = { name: d.task, args: d.args, kwargs: d.kwargs, worker: this.hostname, retries: d.retries, queue: request.delivery.routingKey || request.delivery.queue };
    }
    return this.app.backend.store(meta, { replyTo: d.replyTo, correlationId: d.correlationId ?? d.id, priority: request.delivery.priority }).catch((err: unknown) => {
      this.logger.error(`Storing ${status} for ${request.label} failed: ${(err as Error)?.message ?? String(err)}`);
    });
  }

  /** Keep a write in the pending set until it settles, so shutdown can wait for it. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.pendingWrites.add(p);
    void p.finally(() => this.pendingWrites.delete(p)).catch(() => undefined);
    return p;
  }

  private count(request: Request): void {
    this.total++;
    this.processed.set(request.name, (this.processed.get(request.name) ?? 0) + 1);
  }

  private notifyIdle(): void {
    if (this.active.size > 0 || this.finishing > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  // ---- shutdown -----------------------------------------------------------------------------------

  /**
   * Warm shutdown (default): stop consuming, return prefetched and held messages to the queue, let running tasks
   * finish and store their results. Cold (`{ cold: true }`, or a second call): also return the running tasks'
   * unacknowledged messages and stop without waiting.
   */
  stop(options: { cold?: boolean } = {}): Promise<void> {
    if (this.stopped && !options.cold) return this.stopped;
    if (options.cold) {
      this.stopping = true;
      this.cold = true;
      for (const { request, abort } of this.active.values()) {
        abort.abort(new Error('cold shutdown'));
        request.reject(true); // no-op for early-acked tasks, as Celery: their messages are gone
      }
      this.active.clear();
      this.notifyIdle();
      this.stopped ??= this.shutdown();
      return this.stopped;
    }
    this.stopping = true;
    this.stopped = this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    for (const name of [...this.extraConsumers.keys()]) await this.cancelConsumer(name);
    await this.consumer?.cancel();
    for (const request of this.admission.drain()) request.reject(true);
    for (const request of this.ready.splice(0)) request.reject(true);
    if (this.active.size > 0) {
      this.logger.info(`Warm shutdown: waiting for ${this.active.size} running task(s) to finish`);
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        this.notifyIdle();
      });
    }
    await this.executor.stop(this.cold);
    while (this.pendingWrites.size > 0) await Promise.allSettled([...this.pendingWrites]);
    await this.app.close();
    this.logger.info(`${this.hostname} stopped`);
  }

  // ---- remote control: revoke --terminate, add_consumer, cancel_consumer ----------------------------

  /** `revoke --terminate` ended a running task: REVOKED ["terminated"] and task-revoked, as Celery's Request.terminate. */
  private async finishTerminated(request: Request): Promise<void> {
    this.logger.info(`Task ${request.label} terminated (revoked)`);
    await this.track(this.store(request, 'REVOKED', toExceptionInfo(new TaskRevokedError('terminated')), null));
    request.ack();
    if (this.listeners.length) this.notify('revoked', request, 'terminated');
  }

  /** Consumers started by add_consumer, by queue name. */
  private readonly extraConsumers = new Map<string, Consumer>();

  /** Start consuming one more queue (Celery's add_task_queue); false if it is consumed already. */
  async addConsumer(queue: QueueSpec): Promise<boolean> {
    if (this.stopping || this.queues.some((q) => q.name === queue.name)) return false;
    this.queues.push(queue);
    this.extraConsumers.set(queue.name, await this.app.broker.consume([queue], (d) => this.onDelivery(d), { prefetch: this.prefetchBase }));
    return true;
  }

  /** Stop consuming a queue (Celery's cancel_task_queue); messages already received still run. */
  async cancelConsumer(name: string): Promise<boolean> {
    const i = this.queues.findIndex((q) => q.name === name);
    if (i === -1) return false;
    this.queues.splice(i, 1);
    const extra = this.extraConsumers.get(name);
    this.extraConsumers.delete(name);
    if (extra) {
      await extra.cancel();
      return true;
    }
    // One of the start queues: restart the main consumer on the others.
    const old = this.consumer;
    this.consumer = undefined;
    await old?.cancel();
    const rest = this.queues.filter((q) => !this.extraConsumers.has(q.name));
    if (rest.length > 0 && !this.stopping) this.consumer = await this.app.broker.consume(rest, (d) => this.onDelivery(d), { prefetch: this.prefetchBase });
    return true;
  }
}

/**
 * RabbitMQ closes a channel whose delivery stays unacked past consumer_timeout (30 min by default), so on AMQP an
 * ETA further off than `eta_hold_max` (broker transport option, seconds; default 15 min) is re-published instead of
 * held. Redis has no such limit: held messages are kept visible by renewing their unacked_index score.
 */
function etaHoldLimitMs(app: Celery): number | null {
  const opt = app.conf.brokerTransportOptions.eta_hold_max;
  if (typeof opt === 'number') return opt > 0 ? opt * 1000 : null;
  return /^(amqps?|pyamqp):/i.test(app.conf.brokerUrl) ? 15 * 60 * 1000 : null;
}

const STANDARD_HEADERS = new Set([
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit', 'root_id',
  'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result', 'redelivered', 'compression',
]);
