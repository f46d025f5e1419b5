// A worker's events: worker-online / worker-heartbeat (every 2 s) / worker-offline, and the task-* events from the
// worker's lifecycle notifications, with Celery's fields (celery/worker/request.py, strategy.py, heartbeat.py).

import { exceptionRepr, pyArgsRepr, pyKwargsRepr, pyRepr, type ExceptionInfo } from '../../protocol';
import type { TaskLifecycleListener } from '../worker/hooks';
import type { Request } from '../worker/request';
import type { Worker } from '../worker/worker';
import { loadAverage, softwareInfo, type EventDispatcher } from './dispatcher';

export interface WorkerEventsOptions {
  /** Seconds between heartbeats (Celery: 2.0). */
  heartbeatInterval?: number;
  /** Send heartbeats at all (`--without-heartbeat` turns them off; online/offline are still sent). */
  heartbeat?: boolean;
  version: string;
  /** The signal number a `revoke --terminate` asked for, by task id (for task-revoked `signum`). */
  signumOf?: (taskId: string) => number | null;
}

export class WorkerEvents implements TaskLifecycleListener {
  readonly interval: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly software: ReturnType<typeof softwareInfo>;

  constructor(
    readonly dispatcher: EventDispatcher,
    private readonly worker: Worker,
    private readonly options: WorkerEventsOptions,
  ) {
    this.interval = options.heartbeatInterval ?? 2.0;
    this.software = softwareInfo(options.version);
  }

  private workerFields(freq = this.interval): Record<string, unknown> {
    return { freq, active: this.worker.active.size, processed: this.worker.processedTotal, loadavg: loadAverage(), ...this.software };
  }

  async start(): Promise<void> {
    await this.dispatcher.send('worker-online', this.workerFields());
    if (this.options.heartbeat === false) return;
    this.timer = setInterval(() => void this.dispatcher.send('worker-heartbeat', this.workerFields()), this.interval * 1000);
    this.timer.unref();
  }

  /** The `heartbeat` control command: one extra heartbeat with freq 5 and the software fields only. */
  heartbeatNow(): Promise<void> {
    return this.dispatcher.send('worker-heartbeat', { freq: 5, ...this.software });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.dispatcher.send('worker-offline', this.workerFields());
  }

  private task(type: string, request: Request, fields: Record<string, unknown> = {}): void {
    if (!this.dispatcher.wants(type)) return;
    void this.dispatcher.send(type, { uuid: request.id, ...fields });
  }

  received(request: Request): void {
    if (!this.dispatcher.wants('task-received')) return;
    const d = request.data;
    this.task('task-received', request, {
      name: d.task,
      args: d.argsrepr ?? pyArgsRepr(d.args),
      kwargs: d.kwargsrepr ?? pyKwargsRepr(d.kwargs),
      root_id: d.rootId,
      parent_id: d.parentId,
      retries: d.retries,
      eta: d.eta,
      expires: d.expires,
    });
  }

  started(request: Request): void {
    this.task('task-started', request);
  }

  succeeded(request: Request, value: unknown, runtimeSeconds: number): void {
    if (!this.dispatcher.wants('task-succeeded')) return;
    this.task('task-succeeded', request, { result: pyRepr(value), runtime: runtimeSeconds });
  }

  failed(request: Request, info: ExceptionInfo, traceback: string | null): void {
    if (!this.dispatcher.wants('task-failed')) return;
    // NotRegistered carries no traceback field at all [captured].
    this.task('task-failed', request, traceback === null ? { exception: exceptionRepr(info) } : { exception: exceptionRepr(info), traceback });
  }

  retried(request: Request, info: ExceptionInfo, traceback: string | null): void {
    if (!this.dispatcher.wants('task-retried')) return;
    this.task('task-retried', request, { exception: exceptionRepr(info), traceback: traceback ?? '' });
  }

  rejected(request: Request, requeue: boolean): void {
    this.task('task-rejected', request, { requeue });
  }

  revoked(request: Request, reason: 'revoked' | 'expired' | 'terminated'): void {
    const terminated = reason === 'terminated';
    this.task('task-revoked', request, {
      terminated,
      signum: terminated ? (this.options.signumOf?.(request.id) ?? 15) : null,
      expired: reason === 'expired',
    });
  }
}
