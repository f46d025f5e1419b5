// `--metrics-port`: the Prometheus endpoint of a celeriac worker is scraped and its numbers checked against the
// work done (tasks by name and outcome, runtime and queue-wait histograms, in-flight, ETA-held), plus /healthz.

import * as http from 'node:http';
import { Celery } from '../../src';
import { describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { startCeleriacWorker } from '../helpers/processes';
import { uniqueNode } from '../helpers/ops';

jest.setTimeout(120000);

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

/** The value of one sample (`name{labels} value`) in Prometheus text format, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[k] = v;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describeWith(['redis'], 'worker metrics endpoint', () => {
  test('numbers match the work done: outcomes, histograms, in-flight, ETA held; /healthz is ok', async () => {
    const queue = uniqueName('metrics');
    const node = uniqueNode('ops-metrics');
    const worker = await startCeleriacWorker({
      broker: REDIS_URL,
      backend: REDIS_URL,
      queues: [queue],
      concurrency: 2,
      extraArgs: ['-n', node.arg, '--metrics-port', '0', '--metrics-host', '127.0.0.1'],
    });
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL });
    try {
      const port = Number(/- metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(worker.stdout)?.[1]);
      expect(port).toBeGreaterThan(0);
      const base = `http://127.0.0.1:${port}`;

      const health = await get(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', hostname: node.name, broker: true, active: 0, processed: 0 });

      // 5 successes, 2 failures, 1 retried-then-succeeded, 1 held for an ETA, 1 still running
      const adds = await Promise.all([1, 2, 3, 4, 5].map((i) => app.sendTask('tasks.add', [i, i], {}, { queue })));
      const fails = await Promise.all(['a', 'b'].map((m) => app.sendTask('tasks.fail', [m], {}, { queue })));
      const flaky = await app.sendTask('tasks.flaky', [1], {}, { queue });
      for (const r of adds) await r.get({ timeout: 20 });
      for (const r of fails) await expect(r.get({ timeout: 20 })).rejects.toThrow();
      expect(await flaky.get({ timeout: 20 })).toBe(1);
      const held = await app.sendTask('tasks.add', [0, 0], {}, { queue, countdown: 600 });
      const running = await app.sendTask('tasks.sleep', [5], {}, { queue });
      await worker.waitFor(new RegExp(`tasks\\.add\\[${held.id}\\] received`));
      await worker.waitFor(new RegExp(`tasks\\.sleep\\[${running.id}\\] received`));

      const res = await get(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = res.body;
      expect(sample(m, 'celeriac_tasks_received_total', { task: 'tasks.add' })).toBe(6); // 5 run + 1 held
      expect(sample(m, 'celeriac_tasks_total', { task: 'tasks.add', outcome: 'succeeded' })).toBe(5);
      expect(sample(m, 'celeriac_tasks_total', { task: 'tasks.fail', outcome: 'failed' })).toBe(2);
      expect(sample(m, 'celeriac_tasks_total', { task: 'tasks.flaky', outcome: 'retried' })).toBe(1);
      expect(sample(m, 'celeriac_tasks_total', { task: 'tasks.flaky', outcome: 'succeeded' })).toBe(1);
      expect(sample(m, 'celeriac_tasks_received_total', { task: 'tasks.flaky' })).toBe(2); // the first run and the retry
      expect(sample(m, 'celeriac_task_runtime_seconds_count', { task: 'tasks.add' })).toBe(5);
      expect(sample(m, 'celeriac_task_runtime_seconds_count', { task: 'tasks.fail' })).toBe(2);
      expect(sample(m, 'celeriac_task_runtime_seconds_bucket', { task: 'tasks.add', le: '+Inf' })).toBe(5);
      expect(sample(m, 'celeriac_task_queue_wait_seconds_count', { task: 'tasks.add' })).toBe(5);
      expect(sample(m, 'celeriac_task_queue_wait_seconds_count', { task: 'tasks.sleep' })).toBe(1);
      expect(sample(m, 'celeriac_tasks_active')).toBe(1);
      expect(sample(m, 'celeriac_tasks_eta_held')).toBe(1);
      expect(sample(m, 'celeriac_tasks_prefetched')).toBe(0);
      expect(sample(m, 'celeriac_broker_reconnects_total')).toBe(0);
      expect(sample(m, 'celeriac_worker_concurrency')).toBe(2);
      expect(sample(m, 'celeriac_worker_info', { hostname: node.name })).toBe(1);
      expect(sample(m, 'celeriac_process_resident_memory_bytes')).toBeGreaterThan(0);

      expect((await get(`${base}/nope`)).status).toBe(404);
      // A warm shutdown lets the sleeper finish and returns the held ETA message to the queue (out of the shared
      // `unacked` hash, where a SIGKILL would leave it for other tests' restores to find).
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(await running.get({ timeout: 20 })).toBe(5);
    } finally {
      await worker.stop('SIGKILL');
      await app.broker.purge(queue).catch(() => 0);
      await app.close();
    }
  });
});
