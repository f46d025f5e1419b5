// The worker workloads' common run (W1, W3, W4): pre-fill N tasks, start the worker, poll until every result is
// stored, stop the worker, check the results, clean up. Time runs from the worker's spawn.

import { performance } from 'node:perf_hooks';
import { makeTasks, type TaskKind } from '../lib/celery-format';
import type { Ctx } from '../lib/context';
import { stopProc, waitForOutput } from '../lib/procs';
import { ResultWatcher, verifyResults } from '../lib/results';
import { RssSampler } from '../lib/rss';
import type { BrokerName } from '../lib/services';
import type { WorkerSpec } from '../workers';

export interface DrainOutcome {
  status: 'ok' | 'n/a' | 'failed';
  note?: string;
  /** tasks/s from spawn to the last result. */
  rate?: number;
  /** tasks/s from the first result seen to the last (startup excluded). */
  steady?: number;
  /** Seconds from spawn to the first result. */
  startupS?: number;
  rssMb?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until the broker holds `n` messages (RabbitMQ counts confirmed messages with a small lag). */
async function waitQueued(ctx: Ctx, broker: BrokerName, queue: string, n: number): Promise<void> {
  const until = Date.now() + 10000;
  for (;;) {
    const len = await ctx.services.queueLength(broker, queue);
    if (len >= n) return;
    if (Date.now() > until) throw new Error(`pre-fill: queue ${queue} holds ${len} of ${n} messages`);
    await sleep(20);
  }
}

function firstLines(text: string, n = 2): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' | ').slice(0, 300);
}

/** BENCH_DEBUG=1: phase timings on stderr. */
const debug = (ctx: Ctx, t0: number, what: string): void => {
  if (process.env.BENCH_DEBUG) ctx.progress.log(`    [${((performance.now() - t0) / 1000).toFixed(2)} s] ${what}`);
};

export async function drainRun(ctx: Ctx, broker: BrokerName, worker: WorkerSpec, kind: TaskKind, n: number, opts: { timeoutS: number; naOnEarlyExit?: boolean }): Promise<DrainOutcome> {
  const tStart = performance.now();
  const queue = ctx.queueName(kind.task.replace('tasks.', ''), worker.side, broker);
  const tasks = makeTasks(kind, n);
  try {
    const producer = await ctx.producer(broker);
    await producer.publish(queue, tasks);
    await producer.settle();
    await waitQueued(ctx, broker, queue, n);
    debug(ctx, tStart, 'pre-filled');

    const watcher = new ResultWatcher(ctx.services.redis, tasks.map((t) => t.id));
    const t0 = performance.now();
    const proc = worker.start(ctx, broker, queue);
    const rss = new RssSampler(proc.pid).start();
    let readyAt: number | undefined;
    if (worker.ready) void waitForOutput(proc, worker.ready, opts.timeoutS * 1000).then((r) => r === 'matched' && (readyAt = performance.now()));

    let first: { t: number; count: number } | undefined;
    let tDone: number | undefined;
    let failure: DrainOutcome | undefined;
    while (tDone === undefined && !failure) {
      await sleep(50);
      const done = await watcher.poll();
      const now = performance.now();
      if (done > 0 && !first) first = { t: now, count: done };
      ctx.progress.detail(`${done}/${n} results, ${((now - t0) / 1000).toFixed(1)} s`);
      if (done >= n) tDone = now;
      else if (proc.exitInfo) {
        const how = proc.exitInfo.code ?? proc.exitInfo.signal;
        const early = done === 0 && readyAt === undefined;
        failure = early && opts.naOnEarlyExit ? { status: 'n/a', note: `${worker.label}: the CLI rejected it (exit ${how}): ${firstLines(proc.tail(), 1)}` } : { status: 'failed', note: `${worker.label} exited (${how}) after ${done}/${n} results: ${firstLines(proc.tail())}` };
      } else if (now - t0 > opts.timeoutS * 1000) {
        failure = { status: 'failed', note: `${worker.label}: timeout after ${opts.timeoutS} s with ${done}/${n} results stored` };
      }
    }
    debug(ctx, tStart, `results stored (first at ${first ? ((first.t - t0) / 1000).toFixed(2) : '–'} s after spawn)`);
    const stopped = await stopProc(proc);
    debug(ctx, tStart, 'worker stopped');
    const rssMb = rss.stop();
    if (failure) return failure;
    const end = tDone as number;
    const out: DrainOutcome = {
      status: 'ok',
      rate: n / ((end - t0) / 1000),
      // Only meaningful when most results came after the first poll that saw one.
      steady: first && end > first.t && first.count <= n / 2 ? (n - first.count) / ((end - first.t) / 1000) : undefined,
      startupS: first ? (first.t - t0) / 1000 : undefined,
      rssMb,
    };
    const notes: string[] = [];
    if (stopped.killed) notes.push(`${worker.label} did not stop within 15 s of SIGTERM (killed)`);
    else if (stopped.exit.code !== 0) notes.push(`${worker.label} exited with ${stopped.exit.code ?? stopped.exit.signal} on SIGTERM: ${firstLines(proc.tail())}`);
    // Every message acked: nothing left in the queue, nor in kombu's unacked structures (Redis).
    const left = await ctx.services.queueLength(broker, queue).catch(() => 0);
    if (left > 0) notes.push(`${worker.label}: ${left} messages still in the queue after every result was stored and the worker stopped`);
    if (broker === 'redis') {
      const [unacked, index] = await Promise.all([ctx.services.redis.hlen('unacked'), ctx.services.redis.zcard('unacked_index')]);
      if (unacked + index > 0) notes.push(`${worker.label}: unacked bookkeeping not cleared after stop (HLEN unacked ${unacked}, ZCARD unacked_index ${index})`);
    }
    const v = await verifyResults(ctx.services.redis, tasks, kind.expect);
    if (v.bad > 0) notes.push(`${worker.label}: ${v.bad}/${n} results wrong or missing, e.g. ${v.samples[0]}`);
    if (notes.length) out.note = notes.join('; ');
    return out;
  } finally {
    await ctx.cleanup(broker, queue);
    debug(ctx, tStart, 'cleaned up');
  }
}
