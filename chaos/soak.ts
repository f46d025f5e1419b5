// `npm run soak`: a celeriac worker runs N no-op tasks from a Redis queue kept fed by a batched feeder, while its
// RSS, heap and event-loop lag are sampled; fails if RSS grows more than the bound between the 25 % mark and the end.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Celery } from '../src';
import { freePort } from './services';
import { WorkerProcess } from './worker';

export interface SoakOptions {
  tasks: number;
  redisUrl?: string;
  concurrency?: number;
  /** Seconds between samples. */
  sampleSeconds?: number;
  /** Allowed RSS growth from the 25 % mark to the end: the larger of these two. */
  maxGrowthMb?: number;
  maxGrowthPercent?: number;
  log?: (line: string) => void;
}

export interface SoakSample {
  seconds: number;
  done: number;
  rssMb: number;
  heapUsedMb: number;
  eventLoopLagP99Ms: number;
  backlog: number;
}

export interface SoakReport {
  tasks: number;
  wallSeconds: number;
  tasksPerSecond: number;
  samples: SoakSample[];
  rssStartMb: number;
  rssAt25Mb: number;
  rssEndMb: number;
  rssPeakMb: number;
  heapAt25Mb: number;
  heapEndMb: number;
  growthMb: number;
  allowedGrowthMb: number;
  ok: boolean;
  failures: string[];
}

/** Backlog kept between these marks: the worker never starves, and the queue never grows without bound. */
const LOW_WATER = 2000;
const HIGH_WATER = 6000;
const FEED_BATCH = 500;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

/** One value from Prometheus text (first line that starts with `name` and the label filter). */
function metric(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && line.includes(labels)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return NaN;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redisUrl = o.redisUrl ?? 'redis://127.0.0.1:6379/0';
  const n = o.tasks;
  const queue = `soak-${process.pid}-${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const feeder = new Celery({ broker: redisUrl, backend: redisUrl, config: { taskDefaultQueue: queue } });
  // The no-op tasks have no priority: the queue is the one list (kombu's priority 0).
  const admin = new Redis(redisUrl, { connectionName: 'soak-suite' });
  let worker: WorkerProcess | undefined;
  const samples: SoakSample[] = [];
  const failures: string[] = [];
  const started = Date.now();
  try {
    worker = await WorkerProcess.start({
      broker: redisUrl,
      backend: redisUrl,
      queue,
      concurrency: o.concurrency ?? 16,
      env: {},
      loglevel: 'warning', // a line per task would measure the logger
      extraArgs: ['--metrics-port', String(port), '--metrics-host', '127.0.0.1'],
      healthUrl: `http://127.0.0.1:${port}/healthz`,
    });
    const pid = worker.pid;
    let fed = 0;
    let done = 0;
    let feeding = Promise.resolve();
    // Feed in batches through the celeriac client (auto-pipelined LPUSHes), only while the backlog is low.
    const feed = async (): Promise<void> => {
      while (fed < n && (await admin.llen(queue)) < LOW_WATER) {
        const upto = Math.min(n, fed + HIGH_WATER - LOW_WATER);
        while (fed < upto) {
          const batch = Math.min(FEED_BATCH, upto - fed);
          await Promise.all(Array.from({ length: batch }, () => feeder.sendTask('chaos.noop', [], {}, { ignoreResult: true })));
          fed += batch;
        }
      }
    };
    const sampleEvery = (o.sampleSeconds ?? 5) * 1000;
    let nextSample = Date.now();
    while (done < n) {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) throw new Error(`the worker exited\n${worker.output.slice(-3000)}`);
      feeding = feeding.then(feed);
      await feeding;
      const text = await fetch(metricsUrl).then((r) => r.text());
      done = metric(text, 'celeriac_tasks_total', 'outcome="succeeded"') || 0;
      if (Date.now() >= nextSample || done >= n) {
        nextSample += sampleEvery;
        const sample: SoakSample = {
          seconds: Math.round((Date.now() - started) / 100) / 10,
          done,
          rssMb: rssMb(pid),
          heapUsedMb: Math.round(metric(text, 'celeriac_nodejs_heap_size_used_bytes') / 104857.6) / 10,
          eventLoopLagP99Ms: Math.round(metric(text, 'celeriac_nodejs_eventloop_lag_p99_seconds') * 10000) / 10,
          backlog: await admin.llen(queue),
        };
        samples.push(sample);
        log(`[soak] ${sample.seconds}s done ${sample.done}/${n} rss ${sample.rssMb} MB heap ${sample.heapUsedMb} MB lag p99 ${sample.eventLoopLagP99Ms} ms backlog ${sample.backlog}`);
      }
      await new Promise((r) => setTimeout(r, 100)); // progress is polled from the metrics endpoint
    }
  } finally {
    await worker?.stop();
    await admin.del(queue);
    admin.disconnect();
    await feeder.close();
  }
  const wallSeconds = Math.round((Date.now() - started) / 100) / 10;
  const at25 = samples.find((s) => s.done >= n / 4) ?? samples[0];
  const end = samples[samples.length - 1];
  const growthMb = Math.round((end.rssMb - at25.rssMb) * 10) / 10;
  const allowedGrowthMb = Math.round(Math.max(o.maxGrowthMb ?? 30, (at25.rssMb * (o.maxGrowthPercent ?? 20)) / 100) * 10) / 10;
  if (growthMb > allowedGrowthMb) failures.push(`RSS grew ${growthMb} MB from the 25 % mark (${at25.rssMb} MB) to the end (${end.rssMb} MB); allowed ${allowedGrowthMb} MB`);
  return {
    tasks: n,
    wallSeconds,
    tasksPerSecond: Math.round(n / wallSeconds),
    samples,
    rssStartMb: samples[0].rssMb,
    rssAt25Mb: at25.rssMb,
    rssEndMb: end.rssMb,
    rssPeakMb: Math.max(...samples.map((s) => s.rssMb)),
    heapAt25Mb: at25.heapUsedMb,
    heapEndMb: end.heapUsedMb,
    growthMb,
    allowedGrowthMb,
    ok: failures.length === 0,
    failures,
  };
}

/** The RSS curve as a Markdown table, at most `rows` rows (evenly spaced samples, always the first and last). */
export function soakTable(report: SoakReport, rows = 12): string {
  const s = report.samples;
  const picks = s.length <= rows ? s : Array.from({ length: rows }, (_, i) => s[Math.round((i * (s.length - 1)) / (rows - 1))]);
  const lines = ['| time | tasks done | RSS MB | heap used MB | event-loop lag p99 ms | backlog |', '| --- | --- | --- | --- | --- | --- |'];
  for (const p of picks) lines.push(`| ${p.seconds} s | ${p.done} | ${p.rssMb} | ${p.heapUsedMb} | ${p.eventLoopLagP99Ms} | ${p.backlog} |`);
  return lines.join('\n');
}
