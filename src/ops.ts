// A worker's operations side, on its own broker connection as Celery's: events (worker-online/heartbeat/offline,
// task-* with -E), the pidbox answering `celery inspect`/`control`, the revoked-ids state file, and the metrics
// endpoint. `attach` before `worker.start()`, `start` after it, `stop` after `worker.stop()`.

import { runCommand, type ControlContext } from './control/commands';
import { PidboxNode } from './control/node';
import { StateDb } from './control/statedb';
import { RequestTracker } from './control/tracker';
import { createBroadcastTransport, type BroadcastTransport } from './control/transport';
import { LamportClock } from './events/clock';
import { celeriacVersion, EventDispatcher } from './events/dispatcher';
import { WorkerEvents } from './events/worker-events';
import { silentLogger, type Logger } from './log';
import { brokerConnected, MetricsServer, WorkerMetrics } from './metrics';
import type { Worker } from './worker/worker';

export interface WorkerOpsOptions {
  /** Send task-* events (`-E`, `worker_send_task_events`). Worker events are sent whenever events are on. */
  taskEvents?: boolean;
  /** Send heartbeats (default true; `--without-heartbeat`). */
  heartbeat?: boolean;
  /** Seconds between heartbeats (default 2). */
  heartbeatInterval?: number;
  /** Answer remote control (default true; `worker_enable_remote_control`). */
  remoteControl?: boolean;
  /** `--statedb`: keep revoked ids across restarts in this JSON file. */
  statedb?: string;
  /** `--metrics-port`: serve /metrics and /healthz (0 = any free port). */
  metricsPort?: number;
  metricsHost?: string;
  /** The worker's prefetch multiplier (for `inspect stats`). */
  prefetchMultiplier?: number;
  logger?: Logger;
  /** A remote `shutdown` asks for this (default: `worker.stop()`). */
  onShutdown?: () => void;
}

export class WorkerOps {
  readonly clock = new LamportClock();
  readonly tracker = new RequestTracker();
  readonly version = celeriacVersion();
  readonly terminations = new Map<string, number>();
  metrics: WorkerMetrics | undefined;
  events: WorkerEvents | undefined;
  /** The port the metrics endpoint listens on, once started. */
  metricsPort: number | undefined;
  private transport: BroadcastTransport | null = null;
  private pidbox: PidboxNode | undefined;
  private statedb: StateDb | undefined;
  private server: MetricsServer | undefined;
  private readonly logger: Logger;
  private state: 'starting' | 'ok' | 'stopping' = 'starting';
  private readonly startedAt = Date.now();

  constructor(
    readonly worker: Worker,
    private readonly options: WorkerOpsOptions = {},
  ) {
    this.logger = options.logger ?? worker.app.logger ?? silentLogger;
  }

  /** Before `worker.start()`: load the state file and listen to the worker's task lifecycle. */
  attach(): void {
    const o = this.options;
    this.worker.addListener(this.tracker);
    if (o.statedb) {
      this.statedb = new StateDb(o.statedb, this.worker.revoked, this.clock, this.logger);
      const n = this.statedb.load();
      if (n > 0) this.logger.info(`statedb ${o.statedb}: ${n} revoked task id(s) restored`);
    }
    if (o.metricsPort !== undefined) {
      this.metrics = new WorkerMetrics(this.worker, this.tracker, { version: this.version });
      this.worker.addListener(this.metrics);
    }
  }

  /** After `worker.start()`: events, remote control, metrics endpoint. */
  async start(): Promise<void> {
    const o = this.options;
    const app = this.worker.app;
    if (this.metrics) {
      this.metrics.watchBroker(app.broker);
      this.server = new MetricsServer(this.metrics.registry, () => this.health(), this.logger);
      this.metricsPort = await this.server.listen(o.metricsPort ?? 0, o.metricsHost);
    }
    const wantEvents = o.taskEvents || o.heartbeat !== false;
    if (!wantEvents && o.remoteControl === false) {
      this.state = 'ok';
      return;
    }
    this.transport = createBroadcastTransport(app.conf, this.logger);
    if (!this.transport) {
      this.logger.info(`events and remote control are not available on ${app.broker.displayUrl}`);
      this.state = 'ok';
      return;
    }
    await this.transport.connect();
    // Celery's Events step: worker events always, task events with -E (groups=None), heartbeats unless disabled.
    const dispatcher = new EventDispatcher(this.transport, { hostname: this.worker.hostname, clock: this.clock, groups: o.taskEvents ? [] : ['worker'], logger: this.logger });
    this.events = new WorkerEvents(dispatcher, this.worker, {
      heartbeatInterval: o.heartbeatInterval,
      heartbeat: o.heartbeat,
      version: this.version,
      signumOf: (id) => this.terminations.get(id) ?? null,
    });
    if (!wantEvents) dispatcher.enabled = false;
    this.worker.addListener(this.events);
    // After the events listener, which reads the signal number for task-revoked.
    this.worker.addListener({ revoked: (request) => this.terminations.delete(request.id) });
    if (o.remoteControl !== false) {
      const ctx: ControlContext = {
        app,
        worker: this.worker,
        hostname: this.worker.hostname,
        clock: this.clock,
        tracker: this.tracker,
        logger: this.logger,
        version: this.version,
        startedAt: this.startedAt,
        prefetchMultiplier: o.prefetchMultiplier ?? app.conf.workerPrefetchMultiplier,
        events: this.events,
        terminations: this.terminations,
        revokedChanged: () => this.statedb?.changed(),
        shutdown: () => (o.onShutdown ? o.onShutdown() : void this.worker.stop()),
      };
      this.pidbox = new PidboxNode(this.transport, this.worker.hostname, this.clock, (method, args) => runCommand(ctx, method, args), { logger: this.logger });
      await this.pidbox.start();
    }
    await this.events.start();
    this.state = 'ok';
    const parts = [o.taskEvents ? 'task events on' : 'task events off (-E to enable)', o.remoteControl !== false ? 'remote control on' : 'remote control off'];
    this.logger.info(`${this.worker.hostname}: ${parts.join(', ')} (${this.transport.displayUrl})`);
  }

  /** A shutdown began: /healthz says so at once. */
  stopping(): void {
    this.state = 'stopping';
  }

  /** After `worker.stop()`: worker-offline, close the mailbox, write the state file, close the endpoint. */
  async stop(): Promise<void> {
    this.state = 'stopping';
    await this.pidbox?.stop();
    await this.events?.stop();
    this.statedb?.save();
    await this.transport?.close().catch(() => undefined);
    await this.server?.close();
  }

  health(): ReturnType<ConstructorParameters<typeof MetricsServer>[1]> {
    return {
      status: this.state,
      hostname: this.worker.hostname,
      broker: brokerConnected(this.worker.app.broker),
      active: this.worker.active.size,
      processed: this.worker.processedTotal,
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
    };
  }
}
