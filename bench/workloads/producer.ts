// Producer rate: N tasks.add enqueued by the celeriac client (sendTask, limited in-flight), Python apply_async, and
// the bare Node producer (ceiling). Time = from the producer's first send until the broker holds every message.

import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { spawnProc, stopProc } from '../lib/procs';
import type { BrokerName } from '../lib/services';
import { nodeScript } from '../lib/scripts';
import { FigureBuilder, type Figure, type Side } from '../lib/stats';

const INFLIGHT = 100;

interface ProducerSpec {
  label: string;
  side: Side;
  command(ctx: Ctx, broker: BrokerName, queue: string, guard?: boolean): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };
}

const PRODUCERS: ProducerSpec[] = [
  {
    label: `celeriac client (sendTask, ${INFLIGHT} in flight)`,
    side: 'celeriac',
    command: (ctx, broker, queue, guard = true) => ({
      cmd: process.execPath,
      args: [...nodeScript('producers/cli'), '--producer', 'celeriac', '--broker', ctx.services.brokerUrl(broker), '--backend', ctx.services.backendUrl(), '--queue', queue, '--n', String(ctx.opts.producerTasks), '--inflight', String(INFLIGHT), '--guard', guard ? '1' : '0'],
    }),
  },
  {
    label: 'Python Celery 5 client (apply_async loop)',
    side: 'python',
    command: (ctx, broker, queue) => ({
      cmd: ctx.opts.python,
      args: [path.join(ctx.root, 'bench/python/produce.py'), '--queue', queue, '--n', String(ctx.opts.producerTasks)],
      env: { ...process.env, CELERY_BROKER_URL: ctx.services.brokerUrl(broker), CELERY_RESULT_BACKEND: ctx.services.backendUrl() },
    }),
  },
  {
    label: 'ceiling (bare Node producer)',
    side: 'ceiling',
    command: (ctx, broker, queue) => ({
      cmd: process.execPath,
      args: [...nodeScript('producers/cli'), '--producer', 'bare', '--broker', ctx.services.brokerUrl(broker), '--backend', ctx.services.backendUrl(), '--queue', queue, '--n', String(ctx.opts.producerTasks)],
    }),
  },
];

export const producerSteps = (ctx: Ctx): number => PRODUCERS.length * ctx.opts.runs + 1;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One producer run: returns tasks/s, or throws. */
async function produceOnce(ctx: Ctx, spec: ProducerSpec, broker: BrokerName): Promise<number> {
  const queue = ctx.queueName('prod', spec.side, broker);
  const n = ctx.opts.producerTasks;
  const expected = n + 1; // + the warm-up task
  try {
    await ctx.services.ensureQueue(broker, queue);
    const { cmd, args, env } = spec.command(ctx, broker, queue);
    const proc = spawnProc(spec.label, cmd, args, { cwd: ctx.root, env, logFile: ctx.logFile(queue, spec.side) });
    let fullAt: number | undefined;
    const deadline = Date.now() + 60000 + n * 5;
    let last = { len: -1, at: Date.now() };
    while (fullAt === undefined) {
      const len = await ctx.services.queueLength(broker, queue);
      ctx.progress.detail(`${len}/${expected} queued`);
      if (len !== last.len) last = { len, at: Date.now() };
      if (len >= expected) fullAt = Date.now();
      else if (proc.exitInfo && proc.exitInfo.code !== 0) throw new Error(`${spec.label} exited with ${proc.exitInfo.code ?? proc.exitInfo.signal}: ${proc.tail().slice(-400)}`);
      else if (proc.exitInfo && Date.now() - last.at > 3000) throw new Error(`${spec.label} finished, but only ${len}/${expected} messages reached the broker`);
      else if (Date.now() > deadline) {
        await stopProc(proc, 1000);
        throw new Error(`${spec.label}: only ${len}/${expected} messages reached the broker`);
      } else await sleep(20);
    }
    const exit = await proc.exited;
    if (exit.code !== 0) throw new Error(`${spec.label} exited with ${exit.code ?? exit.signal}: ${proc.tail().slice(-400)}`);
    const r = JSON.parse(proc.stdout.trim().split('\n').pop() ?? '') as { startMs: number; endMs: number };
    return n / ((Math.max(r.endMs, fullAt) - r.startMs) / 1000);
  } finally {
    await ctx.cleanup(broker, queue);
  }
}

/**
 * Correctness check, not timed: the celeriac client closing the app as soon as the last sendTask resolved, as a
 * script would. Returns a note when messages went missing.
 */
async function closeAtOnceCheck(ctx: Ctx, broker: BrokerName): Promise<string | undefined> {
  const spec = PRODUCERS[0];
  const queue = ctx.queueName('prodchk', spec.side, broker);
  const expected = ctx.opts.producerTasks + 1;
  try {
    await ctx.services.ensureQueue(broker, queue);
    const { cmd, args } = spec.command(ctx, broker, queue, false);
    const proc = spawnProc(`${spec.label} (close at once)`, cmd, args, { cwd: ctx.root, logFile: ctx.logFile(queue, 'celeriac-close-check') });
    const exit = await proc.exited;
    await sleep(1000);
    const len = await ctx.services.queueLength(broker, queue);
    if (exit.code !== 0) return `close-at-once check: the client exited with ${exit.code ?? exit.signal}: ${proc.tail().slice(-300)}`;
    if (len < expected) return `app.close() right after the last sendTask resolved: only ${len}/${expected} messages reached the broker (timed runs wait for the broker before closing)`;
    return undefined;
  } finally {
    await ctx.cleanup(broker, queue);
  }
}

export async function runProducer(ctx: Ctx, broker: BrokerName): Promise<Figure[]> {
  const builders = PRODUCERS.map(
    (p) => new FigureBuilder({ workload: 'producer', broker, variant: `tasks.add ×${ctx.opts.producerTasks}`, impl: p.label, side: p.side, primary: 'rate', unit: 'tasks/s', higherIsBetter: true, columns: [] }),
  );
  for (let run = 1; run <= ctx.opts.runs; run++) {
    for (const [i, p] of PRODUCERS.entries()) {
      ctx.progress.step(`producer rate · ${broker} · ${p.label} · run ${run}/${ctx.opts.runs}`);
      try {
        builders[i].add({ rate: await produceOnce(ctx, p, broker) });
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        ctx.progress.log(`  failed: ${msg.slice(0, 500)}`);
        builders[i].add(null, `failed: ${msg.split('\n')[0]}`);
      }
    }
  }
  ctx.progress.step(`producer rate · ${broker} · celeriac client closing at once (correctness check)`);
  const note = await closeAtOnceCheck(ctx, broker).catch((err: unknown) => `close-at-once check failed: ${String(err)}`);
  if (note) {
    ctx.progress.log(`  note: ${note}`);
    builders[0].notes.push(note);
  }
  return builders.map((b) => b.build());
}
