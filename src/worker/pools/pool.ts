// The threads and processes pools: an Executor that runs each task in a pool worker (a worker thread or a child
// process), one task per pool worker at a time, so the main thread stays free for the broker, acks and events.
// It enforces hard time limits and terminate by ending the pool worker and starting a replacement, recycles pool
// workers after --max-tasks-per-child tasks or above --max-memory-per-child KiB, and autoscales between min and max.

import { TaskRevokedError, TimeLimitExceeded, WorkerLostError } from '../../errors';
import { silentLogger, type Logger } from '../../log';
import type { Task } from '../../task';
import type { ExecutionJob, Executor } from '../hooks';
import type { Outcome } from '../tracer';
import { PoolMember, PoolStartError, type PoolKind } from './member';
import { decodeOutcome, decodeValue, encodeRequest, EncodeError, type FromPool, type PoolInit } from './wire';

export interface PoolExecutorOptions {
  kind: PoolKind;
  /** The tasks module the pool workers load (`-A`). */
  appModule: string;
  cwd?: string;
  /** Pool workers at most: the worker's concurrency, or autoscale's max. */
  maxSize: number;
  /** Pool workers kept even when idle: autoscale's min (default: maxSize, a fixed pool). */
  minSize?: number;
  /** Replace a pool worker after this many tasks (Celery's worker_max_tasks_per_child). */
  maxTasksPerChild?: number | null;
  /**
   * Replace a pool worker after a task that left it above this many KiB (Celery's worker_max_memory_per_child):
   * a child process's resident memory, or a thread's own V8 heap and external memory.
   */
  maxMemoryPerChild?: number | null;
  /** Seconds an extra pool worker stays idle before autoscale ends it (Celery's AUTOSCALE_KEEPALIVE, 30). */
  keepalive?: number;
  /** Command-line overrides of the app, for tasks that send tasks or read results from a pool worker. */
  brokerUrl?: string;
  resultBackend?: string;
  logger?: Logger;
  /** acks_late + reject_on_worker_lost for this task: requeue its message when its pool worker dies. */
  requeueOnWorkerLost?: (task: Task<never[], unknown>) => boolean;
}

interface PendingJob {
  id: number;
  job: ExecutionJob;
  resolve: (outcome: Outcome) => void;
  settled: boolean;
  hardTimer?: NodeJS.Timeout;
  onAbort: () => void;
}

interface Slot {
  member: PoolMember;
  state: 'starting' | 'idle' | 'busy' | 'closing';
  job?: PendingJob;
  tasksRun: number;
  idleTimer?: NodeJS.Timeout;
}

/** What `inspect stats` can show of a pool. */
export interface PoolStats {
  kind: PoolKind;
  maxConcurrency: number;
  minConcurrency: number;
  processes: number[];
  busy: number;
  waiting: number;
  replaced: number;
}

export class PoolExecutor implements Executor {
  readonly name: PoolKind;
  private readonly logger: Logger;
  private readonly init: PoolInit;
  private readonly minSize: number;
  private readonly maxSize: number;
  private readonly slots = new Map<PoolMember, Slot>();
  private readonly queue: PendingJob[] = [];
  private nextJobId = 0;
  private nextIndex = 0;
  private stopping = false;
  private startFailures = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private replacedCount = 0;
  private started = false;

  constructor(private readonly options: PoolExecutorOptions) {
    this.name = options.kind;
    this.logger = options.logger ?? silentLogger;
    this.maxSize = Math.max(1, options.maxSize);
    this.minSize = Math.min(this.maxSize, Math.max(0, options.minSize ?? this.maxSize));
    this.init = { appModule: options.appModule, cwd: options.cwd ?? process.cwd(), brokerUrl: options.brokerUrl, resultBackend: options.resultBackend };
  }

  /** `1 thread`, `3 processes`. */
  private count(n: number): string {
    return n === 1 ? `1 ${this.options.kind === 'threads' ? 'thread' : 'process'}` : `${n} ${this.options.kind}`;
  }

  /** Start the pool (at least one pool worker, to prove the tasks module loads) and wait until it is ready. */
  async start(): Promise<void> {
    const first = Array.from({ length: Math.max(1, this.minSize) }, () => this.spawn());
    try {
      await Promise.all(first.map((s) => s.member.ready));
    } catch (err) {
      await this.stop(true);
      throw err;
    }
    this.started = true;
    const scale = this.minSize === this.maxSize ? `${this.maxSize}` : `${this.minSize}..${this.maxSize}, now ${this.liveCount()}`;
    this.logger.info(`pool: ${this.options.kind} ready (${scale}: ${[...this.slots.values()].map((s) => s.member.label).join(', ')})`);
  }

  run(job: ExecutionJob): Promise<Outcome> {
    if (job.signal.aborted) return Promise.resolve(abortOutcome(job.signal));
    return new Promise<Outcome>((resolve) => {
      const pending: PendingJob = { id: ++this.nextJobId, job, resolve, settled: false, onAbort: () => this.onAbort(pending) };
      job.signal.addEventListener('abort', pending.onAbort, { once: true });
      this.queue.push(pending);
      this.dispatch();
    });
  }

  /** Warm: wait for running tasks, then let each pool worker close its connections and exit. Cold: end them now. */
  async stop(cold: boolean): Promise<void> {
    this.stopping = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    if (cold) {
      for (const p of this.queue.splice(0)) this.settle(p, { kind: 'failure', error: new WorkerLostError('cold shutdown') });
      for (const slot of this.slots.values()) {
        if (slot.job) this.settle(slot.job, { kind: 'failure', error: new WorkerLostError('cold shutdown') });
        slot.member.kill();
      }
    } else {
      if (this.queue.length > 0 || this.busyCount() > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      for (const slot of this.slots.values()) {
        if (slot.idleTimer) clearTimeout(slot.idleTimer);
        if (slot.state === 'starting') slot.member.kill();
        else void slot.member.close();
      }
    }
    await Promise.all([...this.slots.keys()].map((m) => m.exited));
  }

  stats(): PoolStats {
    return {
      kind: this.options.kind,
      maxConcurrency: this.maxSize,
      minConcurrency: this.minSize,
      processes: [...this.slots.values()].filter((s) => s.state !== 'closing').map((s) => s.member.pid),
      busy: this.busyCount(),
      waiting: this.queue.length,
      replaced: this.replacedCount,
    };
  }

  // ---- pool workers -------------------------------------------------------------------------------

  private spawn(): Slot {
    const member = new PoolMember(this.options.kind, ++this.nextIndex, this.init, (m, msg) => this.onMessage(m, msg), (m, code, signal) => this.onExit(m, code, signal));
    const slot: Slot = { member, state: 'starting', tasksRun: 0 };
    this.slots.set(member, slot);
    member.ready.then(
      () => {
        if (slot.state !== 'starting') return;
        this.startFailures = 0;
        this.logger.debug(`pool: ${member.label} ready`);
        this.markIdle(slot);
        this.dispatch();
      },
      (err: unknown) => {
        if (this.started && !this.stopping) this.logger.error((err as Error)?.message ?? String(err));
      },
    );
    return slot;
  }

  private liveCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state !== 'closing') n++;
    return n;
  }

  private busyCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state === 'busy') n++;
    return n;
  }

  /** Start pool workers: replacements up to the minimum, and more (up to the maximum) for tasks waiting. */
  private grow(): void {
    if (this.stopping || this.respawnTimer) return;
    let live = 0;
    let starting = 0;
    for (const s of this.slots.values()) {
      if (s.state !== 'closing') live++;
      if (s.state === 'starting') starting++;
    }
    const forMin = this.minSize - live;
    const forBacklog = Math.min(this.queue.length - starting, this.maxSize - live);
    const n = Math.max(forMin, forBacklog, 0);
    if (n === 0) return;
    if (this.minSize < this.maxSize && forBacklog > 0 && live + n > this.minSize) {
      this.logger.info(`pool: growing to ${this.count(live + n)} (${this.queue.length} task(s) waiting)`);
    } else {
      this.logger.debug(`pool: starting ${this.count(n)}`);
    }
    for (let i = 0; i < n; i++) this.spawn();
  }

  private markIdle(slot: Slot): void {
    slot.state = 'idle';
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    if (this.minSize < this.maxSize && !this.stopping) {
      // Autoscale: an idle pool worker above the minimum goes after the keepalive.
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined;
        if (slot.state !== 'idle' || this.liveCount() <= this.minSize || this.stopping) return;
        slot.state = 'closing';
        this.logger.info(`pool: shrinking to ${this.count(this.liveCount())}: ${slot.member.label} idle for ${this.keepalive}s`);
        void slot.member.close();
      }, this.keepalive * 1000);
      slot.idleTimer.unref();
    }
  }

  private get keepalive(): number {
    return this.options.keepalive ?? 30;
  }

  private dispatch(): void {
    for (const slot of this.slots.values()) {
      if (this.queue.length === 0) break;
      if (slot.state === 'idle') this.assign(slot, this.queue.shift() as PendingJob);
    }
    this.grow();
    this.markIdleWaiters();
  }

  private assign(slot: Slot, pending: PendingJob): void {
    let request: string;
    try {
      request = encodeRequest(pending.job.request);
    } catch (err) {
      this.settle(pending, { kind: 'failure', error: new EncodeError(`cannot send the request to the pool: ${(err as Error)?.message ?? String(err)}`) });
      return;
    }
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.state = 'busy';
    slot.job = pending;
    const { hard, soft } = pending.job.limits;
    if (hard) pending.hardTimer = setTimeout(() => this.onHardLimit(slot, pending, hard), hard * 1000);
    slot.member.send({ type: 'run', jobId: pending.id, task: pending.job.task.name, request, soft });
  }

  private onMessage(member: PoolMember, msg: FromPool): void {
    const slot = this.slots.get(member);
    const pending = slot?.job;
    if (!slot || !pending || (msg.type !== 'state' && msg.type !== 'done') || msg.jobId !== pending.id) return;
    if (msg.type === 'state') {
      const ack = (error?: string): void => member.send({ type: 'stateAck', jobId: msg.jobId, seq: msg.seq, error });
      let meta: unknown;
      try {
        meta = decodeValue(msg.meta);
      } catch (err) {
        ack((err as Error)?.message ?? String(err));
        return;
      }
      pending.job.services.updateState(msg.state, meta).then(
        () => ack(),
        (err: unknown) => ack((err as Error)?.message ?? String(err)),
      );
      return;
    }
    slot.job = undefined;
    slot.tasksRun++;
    let outcome: Outcome;
    try {
      outcome = decodeOutcome(msg.outcome);
    } catch (err) {
      outcome = { kind: 'failure', error: err };
    }
    this.settle(pending, outcome);
    const maxTasks = this.options.maxTasksPerChild;
    const maxMemory = this.options.maxMemoryPerChild;
    if (maxTasks && slot.tasksRun >= maxTasks) {
      this.replace(slot, 'info', `it ran ${slot.tasksRun} task(s) (max tasks per child ${maxTasks})`);
    } else if (maxMemory && msg.memoryKiB > maxMemory) {
      this.replace(slot, 'warning', `memory ${msg.memoryKiB} KiB exceeds ${maxMemory} KiB (max memory per child)`);
    } else {
      this.markIdle(slot);
    }
    this.dispatch();
  }

  /** Recycle a pool worker after its task (Celery's max tasks/memory per child): close it, start a replacement. */
  private replace(slot: Slot, level: 'info' | 'warning', why: string): void {
    slot.state = 'closing';
    this.replacedCount++;
    this.logger[level](`pool: replacing ${slot.member.label}: ${why}`);
    void slot.member.close();
  }

  private onHardLimit(slot: Slot, pending: PendingJob, seconds: number): void {
    if (pending.settled || slot.job !== pending) return;
    this.logger.error(`pool: hard time limit (${seconds}s) exceeded for ${pending.job.task.name}[${pending.job.request.id}]: terminating ${slot.member.label}`);
    this.end(slot, pending, { kind: 'failure', error: new TimeLimitExceeded(seconds), timeLimit: true });
  }

  private onAbort(pending: PendingJob): void {
    if (pending.settled) return;
    const outcome = abortOutcome(pending.job.signal);
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(pending, outcome);
      this.markIdleWaiters();
      return;
    }
    for (const slot of this.slots.values()) {
      if (slot.job !== pending) continue;
      const reason = pending.job.signal.reason as Error | undefined;
      this.logger.info(`pool: terminating ${slot.member.label} running ${pending.job.task.name}[${pending.job.request.id}] (${reason?.message ?? 'terminated'})`);
      this.end(slot, pending, outcome);
      return;
    }
  }

  /** End the pool worker running `pending` now; its replacement starts when it has exited. */
  private end(slot: Slot, pending: PendingJob, outcome: Outcome): void {
    slot.job = undefined;
    slot.state = 'closing';
    this.replacedCount++;
    this.settle(pending, outcome);
    slot.member.kill();
    this.markIdleWaiters();
  }

  private onExit(member: PoolMember, code: number | null, signal: string | null): void {
    const slot = this.slots.get(member);
    if (!slot) return;
    this.slots.delete(member);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    const how = signal ? `signal ${signal}` : `exitcode ${code}`;
    const why = member.lastError ? `: ${member.lastError.stack ?? member.lastError.message}` : '';
    const pending = slot.job;
    if (pending && !pending.settled) {
      this.logger.error(`pool: ${member.label} exited prematurely (${how}) while running ${pending.job.task.name}[${pending.job.request.id}]${why}`);
      this.replacedCount++;
      this.settle(pending, this.workerLost(pending, how));
    } else if (!member.endedOnPurpose && slot.state !== 'starting' && !this.stopping) {
      this.logger.warning(`pool: ${member.label} exited unexpectedly (${how}); starting a replacement${why}`);
    }
    if (this.stopping) {
      this.markIdleWaiters();
      return;
    }
    if (slot.state === 'starting') {
      // It could not start (the tasks module failed to load?): retry with backoff, never in a tight loop.
      this.startFailures++;
      const delay = Math.min(30000, 500 * 2 ** (this.startFailures - 1));
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = undefined;
        this.dispatch();
      }, delay);
      return;
    }
    this.dispatch();
  }

  private markIdleWaiters(): void {
    if (this.queue.length > 0 || this.busyCount() > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Celery: requeue under acks_late + reject_on_worker_lost, else fail with WorkerLostError. */
  private workerLost(pending: PendingJob, how: string): Outcome {
    if (this.options.requeueOnWorkerLost?.(pending.job.task)) {
      return { kind: 'reject', requeue: true, reason: `worker lost (${how})` };
    }
    return { kind: 'failure', error: new WorkerLostError(`Worker exited prematurely: ${how} Job: ${pending.id}.`) };
  }

  private settle(pending: PendingJob, outcome: Outcome): void {
    if (pending.settled) return;
    pending.settled = true;
    if (pending.hardTimer) clearTimeout(pending.hardTimer);
    pending.job.signal.removeEventListener('abort', pending.onAbort);
    pending.resolve(outcome);
  }
}

/** A job ended by its signal (revoke --terminate, cold shutdown): the signal's reason, or TaskRevokedError. */
function abortOutcome(signal: AbortSignal): Outcome {
  const reason: unknown = signal.reason;
  const isDefault = reason instanceof Error && reason.name === 'AbortError';
  return { kind: 'failure', error: reason instanceof Error && !isDefault ? reason : new TaskRevokedError('terminated') };
}

export { PoolStartError };
