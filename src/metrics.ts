// Prometheus metrics and a health endpoint for a worker (`--metrics-port`), with prom-client: tasks by name and
// outcome, runtime and queue-wait histograms, in-flight / prefetched / ETA-held gauges, broker reconnects.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counter, Histogram, Registry } from 'prom-client';

/** prom-client, loaded when metrics are first asked for: requiring it costs ~20-30 ms of every worker start. */
function prom(): typeof import('prom-client') {
  return require('prom-client') as typeof import('prom-client');
}
import type { Broker } from './brokers/broker';
import type { RequestTracker } from './control/tracker';
import { silentLogger, type Logger } from './log';
import type { TaskLifecycleListener } from './worker/hooks';
import type { Request } from './worker/request';
import type { Worker } from './worker/worker';

const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export type TaskOutcome = 'succeeded' | 'failed' | 'retried' | 'rejected' | 'revoked';

/** Is the broker connection up? (AMQP: a live connection; Redis: the client is ready.) */
export function brokerConnected(broker: Broker): boolean {
  const b = broker as Broker & { model?: unknown; redis?: { status?: string } };
  if (broker.transport === 'amqp') return b.model !== undefined;
  if (broker.transport === 'redis') return b.redis?.status === 'ready';
  return true;
}

export class WorkerMetrics implements TaskLifecycleListener {
  readonly registry: Registry;
  readonly received_: Counter<'task'>;
  readonly outcomes: Counter<'task' | 'outcome'>;
  readonly runtime: Histogram<'task'>;
  readonly queueWait: Histogram<'task'>;
  readonly reconnects: Counter;

  constructor(
    worker: Worker,
    tracker: RequestTracker,
    options: { version: string; defaultMetrics?: boolean },
  ) {
    const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = prom();
    this.registry = new Registry();
    const registers = [this.registry];
    this.received_ = new Counter({ name: 'celeriac_tasks_received_total', help: 'Task messages received, by task name', labelNames: ['task'], registers });
    this.outcomes = new Counter({
      name: 'celeriac_tasks_total',
      help: 'Tasks finished, by task name and outcome (succeeded, failed, retried, rejected, revoked)',
      labelNames: ['task', 'outcome'],
      registers,
    });
    this.runtime = new Histogram({ name: 'celeriac_task_runtime_seconds', help: 'Time a task ran, from start to outcome', labelNames: ['task'], buckets: SECONDS_BUCKETS, registers });
    this.queueWait = new Histogram({
      name: 'celeriac_task_queue_wait_seconds',
      help: 'Time from receipt (or the ETA, if later) to start: how long a due task waited for a free slot',
      labelNames: ['task'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.reconnects = new Counter({ name: 'celeriac_broker_reconnects_total', help: 'Times the broker connection was lost and re-established', registers });
    new Gauge({
      name: 'celeriac_tasks_active',
      help: 'Tasks running now (in flight)',
      registers,
      collect() {
        this.set(worker.active.size);
      },
    });
    new Gauge({
      name: 'celeriac_tasks_prefetched',
      help: 'Tasks received and due, waiting for a free slot (or a rate limit)',
      registers,
      collect() {
        this.set(tracker.reserved().length);
      },
    });
    new Gauge({
      name: 'celeriac_tasks_eta_held',
      help: 'Tasks received and held until their ETA/countdown',
      registers,
      collect() {
        this.set(tracker.scheduled().length);
      },
    });
    new Gauge({ name: 'celeriac_worker_concurrency', help: 'Tasks the worker runs at once', registers }).set(worker.concurrency);
    new Gauge({ name: 'celeriac_worker_info', help: 'The worker: hostname and celeriac version', labelNames: ['hostname', 'version'], registers }).set({ hostname: worker.hostname, version: options.version }, 1);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'celeriac_' });
  }

  /** Count reconnects of a broker (chained with any callback already set). */
  watchBroker(broker: Broker): void {
    const previous = broker.onReconnect;
    broker.onReconnect = () => {
      this.reconnects.inc();
      previous?.();
    };
  }

  received(request: Request): void {
    this.received_.inc({ task: request.name });
  }

  started(request: Request): void {
    const due = Math.max(request.receivedAt, request.etaMs ?? 0);
    this.queueWait.observe({ task: request.name }, Math.max(0, (request.startedAt || Date.now()) - due) / 1000);
  }

  private done(request: Request, outcome: TaskOutcome): void {
    this.outcomes.inc({ task: request.name, outcome });
    if (request.startedAt > 0 && outcome !== 'succeeded') this.runtime.observe({ task: request.name }, (Date.now() - request.startedAt) / 1000);
  }

  succeeded(request: Request, _value: unknown, runtimeSeconds: number): void {
    this.outcomes.inc({ task: request.name, outcome: 'succeeded' });
    this.runtime.observe({ task: request.name }, runtimeSeconds);
  }

  failed(request: Request): void {
    this.done(request, 'failed');
  }

  retried(request: Request): void {
    this.done(request, 'retried');
  }

  rejected(request: Request): void {
    this.done(request, 'rejected');
  }

  revoked(request: Request): void {
    this.done(request, 'revoked');
  }
}

export interface HealthState {
  status: 'starting' | 'ok' | 'stopping';
  hostname: string;
  broker: boolean;
  active: number;
  processed: number;
  uptime: number;
}

/** The HTTP endpoint: GET /metrics (Prometheus text format) and GET /healthz (JSON, 200 when healthy, else 503). */
export class MetricsServer {
  private server: http.Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly health: () => HealthState,
    private readonly logger: Logger = silentLogger,
  ) {}

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.logger.error(`metrics server: ${err.message}`));
    this.server = server;
    const actual = (server.address() as AddressInfo).port;
    this.logger.info(`metrics on http://${host}:${actual}/metrics, health on /healthz`);
    return actual;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/metrics') {
        const text = await this.registry.metrics();
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
      } else if (path === '/healthz' || path === '/health') {
        const h = this.health();
        const healthy = h.status === 'ok' && h.broker;
        res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).message));
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
