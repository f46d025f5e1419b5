// The metrics registry without a broker: outcomes, histograms and gauges follow the lifecycle notifications,
// reconnects are counted through the broker's onReconnect hook, and /healthz reflects the worker's state.

import * as http from 'node:http';
import { Celery, Worker } from '../../../src';
import { RequestTracker } from '../../../src/control/tracker';
import { MetricsServer, WorkerMetrics } from '../../../src/metrics';
import { Request } from '../../../src/worker/request';
import { decodeTaskMessage } from '../../../protocol';

function request(app: Celery, countdown?: number): Request {
  const { message } = app.buildMessage('tasks.add', [1, 2], {}, { queue: 'celery', countdown });
  return new Request(decodeTaskMessage(message, new Set(['json'])), { message, queue: 'celery', exchange: '', routingKey: 'celery', redelivered: false, priority: 0, ack: () => undefined, reject: () => undefined });
}

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('counters, histograms, gauges and reconnects; /metrics and /healthz', async () => {
  const app = new Celery({ broker: 'memory://', backend: 'memory://' });
  const worker = new Worker(app, { hostname: 'm@h', concurrency: 3 });
  const tracker = new RequestTracker();
  const metrics = new WorkerMetrics(worker, tracker, { version: '9.9.9', defaultMetrics: false });
  const a = request(app);
  const held = request(app, 600);
  for (const l of [tracker, metrics]) {
    l.received?.(a);
    l.received?.(held);
  }
  a.startedAt = a.receivedAt + 250;
  metrics.started(a);
  tracker.started(a);
  metrics.succeeded(a, 3, 0.02);
  metrics.failed(request(app));
  metrics.watchBroker(app.broker);
  app.broker.onReconnect?.();
  app.broker.onReconnect?.();
  const text = await metrics.registry.metrics();
  expect(text).toContain('celeriac_tasks_received_total{task="tasks.add"} 2');
  expect(text).toContain('celeriac_tasks_total{task="tasks.add",outcome="succeeded"} 1');
  expect(text).toContain('celeriac_tasks_total{task="tasks.add",outcome="failed"} 1');
  expect(text).toContain('celeriac_task_runtime_seconds_count{task="tasks.add"} 1');
  expect(text).toContain('celeriac_task_queue_wait_seconds_bucket{le="0.25",task="tasks.add"} 1');
  expect(text).toContain('celeriac_tasks_eta_held 1');
  expect(text).toContain('celeriac_tasks_prefetched 0');
  expect(text).toContain('celeriac_broker_reconnects_total 2');
  expect(text).toContain('celeriac_worker_concurrency 3');
  expect(text).toContain('celeriac_worker_info{hostname="m@h",version="9.9.9"} 1');

  let status: 'starting' | 'ok' | 'stopping' = 'ok';
  const server = new MetricsServer(metrics.registry, () => ({ status, hostname: 'm@h', broker: true, active: 0, processed: 1, uptime: 1 }));
  const port = await server.listen(0, '127.0.0.1');
  try {
    expect((await get(port, '/metrics')).body).toContain('celeriac_tasks_total');
    expect((await get(port, '/healthz')).status).toBe(200);
    status = 'stopping';
    const h = await get(port, '/healthz');
    expect(h.status).toBe(503);
    expect(JSON.parse(h.body)).toMatchObject({ status: 'stopping', hostname: 'm@h' });
  } finally {
    await server.close();
  }
});
