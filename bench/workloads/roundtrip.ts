// W2 round trip: a warm client sends one tasks.add at a time and waits for its result, --roundtrips times;
// p50/p90/p99 for each client (celeriac, Python, bare) against each worker (celeriac, Python prefork, ceiling).

import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { runToEnd, stopProc, waitForOutput } from '../lib/procs';
import type { BrokerName } from '../lib/services';
import { nodeScript } from '../lib/scripts';
import { FigureBuilder, percentiles, type Figure, type Side } from '../lib/stats';
import { celeriacWorker, ceilingWorker, pythonWorker, type WorkerSpec } from '../workers';

type ClientName = 'celeriac' | 'python' | 'bare';

const CLIENT_LABEL: Record<ClientName, string> = { celeriac: 'celeriac client', python: 'Python client', bare: 'bare Node client' };
const WARMUP = 20;

interface Pair {
  worker: WorkerSpec;
  clients: ClientName[];
}

function pairs(ctx: Ctx): Pair[] {
  return [
    { worker: celeriacWorker(ctx.opts.w1Concurrency), clients: ['celeriac', 'python'] },
    { worker: pythonWorker('prefork', 2), clients: ['celeriac', 'python'] },
    { worker: ceilingWorker(200), clients: ['celeriac', 'python', 'bare'] },
  ];
}

/** celeriac client + celeriac worker is "celeriac", Python + Python is "python", bare + ceiling is "ceiling". */
function sideOf(client: ClientName, worker: WorkerSpec): Side {
  if (client === 'celeriac' && worker.side === 'celeriac') return 'celeriac';
  if (client === 'python' && worker.side === 'python') return 'python';
  if (client === 'bare' && worker.side === 'ceiling') return 'ceiling';
  return 'mixed';
}

async function runClient(ctx: Ctx, client: ClientName, broker: BrokerName, queue: string): Promise<{ latenciesMs: number[]; errors: number }> {
  const n = String(ctx.opts.roundtrips);
  const timeoutMs = 120000 + ctx.opts.roundtrips * 200;
  const common = { cwd: ctx.root, timeoutMs, logFile: ctx.logFile(queue, `client-${client}`) };
  let out: string;
  if (client === 'python') {
    const env = { ...process.env, CELERY_BROKER_URL: ctx.services.brokerUrl(broker), CELERY_RESULT_BACKEND: ctx.services.backendUrl() };
    out = await runToEnd('python client', ctx.opts.python, [path.join(ctx.root, 'bench/python/roundtrip.py'), '--queue', queue, '--n', n, '--warmup', String(WARMUP)], { ...common, env });
  } else {
    const args = [...nodeScript('clients/roundtrip'), '--client', client, '--broker', ctx.services.brokerUrl(broker), '--backend', ctx.services.backendUrl(), '--queue', queue, '--n', n, '--warmup', String(WARMUP)];
    out = await runToEnd(`${client} client`, process.execPath, args, common);
  }
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { latenciesMs: number[]; errors: number };
}

export function roundtripSteps(ctx: Ctx): number {
  return pairs(ctx).reduce((s, p) => s + p.clients.length, 0) * ctx.opts.runs;
}

export async function runRoundtrip(ctx: Ctx, broker: BrokerName): Promise<Figure[]> {
  const ps = pairs(ctx);
  const builders = new Map<string, FigureBuilder>();
  for (const p of ps)
    for (const c of p.clients)
      builders.set(
        `${c}→${p.worker.label}`,
        new FigureBuilder({
          workload: 'w2',
          broker,
          variant: `tasks.add, ${ctx.opts.roundtrips} sequential calls`,
          impl: `${CLIENT_LABEL[c]} → ${p.worker.label}`,
          side: sideOf(c, p.worker),
          primary: 'p50',
          unit: 'ms',
          higherIsBetter: false,
          columns: ['p90', 'p99', 'mean'],
        }),
      );
  for (let run = 1; run <= ctx.opts.runs; run++) {
    for (const p of ps) {
      const queue = ctx.queueName('w2', p.worker.side, broker);
      const proc = p.worker.start(ctx, broker, queue);
      try {
        if (p.worker.ready) await waitForOutput(proc, p.worker.ready, 60000);
        for (const c of p.clients) {
          const b = builders.get(`${c}→${p.worker.label}`) as FigureBuilder;
          ctx.progress.step(`W2 round trip · ${broker} · ${CLIENT_LABEL[c]} → ${p.worker.label} · run ${run}/${ctx.opts.runs}`);
          if (proc.exitInfo) {
            b.add(null, `${p.worker.label} exited: ${proc.tail().slice(-300)}`);
            continue;
          }
          try {
            const r = await runClient(ctx, c, broker, queue);
            const pc = percentiles(r.latenciesMs);
            b.add({ p50: pc.p50, p90: pc.p90, p99: pc.p99, mean: pc.mean }, r.errors ? `${r.errors} calls failed or returned a wrong value` : undefined);
            if (r.errors) ctx.progress.log(`  note: ${CLIENT_LABEL[c]} → ${p.worker.label}: ${r.errors} errors`);
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            ctx.progress.log(`  failed: ${CLIENT_LABEL[c]} → ${p.worker.label}: ${msg.slice(0, 500)}`);
            b.add(null, `failed: ${msg.split('\n')[0]}`);
          }
        }
      } finally {
        const stopped = await stopProc(proc);
        if (stopped.killed) ctx.progress.log(`  note: ${p.worker.label} did not stop within 15 s of SIGTERM (killed)`);
        await ctx.cleanup(broker, queue);
      }
    }
  }
  return [...builders.values()].map((b) => b.build());
}
