// W1 (throughput of tasks.add), W3 (I/O-bound tasks.sleep(0.05) at high concurrency) and W4 (CPU-bound
// tasks.burn(20)): each implementation drains the same pre-filled queue; runs are interleaved across implementations.

import { ADD, burnTask, sleepTask, type TaskKind } from '../lib/celery-format';
import type { Ctx } from '../lib/context';
import type { BrokerName } from '../lib/services';
import { FigureBuilder, type Figure } from '../lib/stats';
import { celeriacWorker, ceilingWorker, pythonWorker, type WorkerSpec } from '../workers';
import { drainRun, type DrainOutcome } from './drain';

interface Case {
  worker: WorkerSpec;
  variant: string;
  kind: TaskKind;
  n: number;
  /** tasks/s a perfect worker would reach (W3, W4), for the "% of ideal" column. */
  ideal?: number;
  naOnEarlyExit?: boolean;
}

const SLEEP_S = 0.05;
const BURN_MS = 20;

/** Generous: a worker below ~50 tasks/s on tasks.add is broken, not slow. */
function timeoutFor(c: Case): number {
  const floorRate = c.ideal ? c.ideal / 20 : 50;
  return Math.round(60 + c.n / floorRate);
}

export function casesFor(ctx: Ctx, workload: 'w1' | 'w3' | 'w4'): Case[] {
  const o = ctx.opts;
  if (workload === 'w1') {
    const v = `tasks.add ×${o.n}`;
    return [
      { worker: celeriacWorker(o.w1Concurrency), variant: v, kind: ADD, n: o.n },
      { worker: pythonWorker('prefork', 2), variant: v, kind: ADD, n: o.n },
      { worker: ceilingWorker(200), variant: v, kind: ADD, n: o.n },
    ];
  }
  if (workload === 'w3') {
    return o.ioConcurrency.flatMap((c) => {
      const base = { variant: `tasks.sleep(${SLEEP_S}) ×${o.ioTasks}, concurrency ${c}`, kind: sleepTask(SLEEP_S), n: o.ioTasks, ideal: c / SLEEP_S };
      return [
        { ...base, worker: celeriacWorker(c) },
        { ...base, worker: pythonWorker('threads', c) },
        { ...base, worker: ceilingWorker(c) },
      ];
    });
  }
  const base = { variant: `tasks.burn(${BURN_MS}) ×${o.cpuTasks}, ${o.cpus} cores`, kind: burnTask(BURN_MS), n: o.cpuTasks, ideal: o.cpus / (BURN_MS / 1000) };
  return [
    ...o.celeriacPools.map((pool) => ({ ...base, worker: celeriacWorker(o.cpus, pool), naOnEarlyExit: true })),
    { ...base, worker: pythonWorker('prefork', o.cpus) },
    { ...base, worker: ceilingWorker(2, o.cpus) },
  ];
}

const WORKLOAD_TITLES: Record<string, string> = { w1: 'W1 throughput', w3: 'W3 I/O-bound', w4: 'W4 CPU-bound' };

export async function runWorkerWorkload(ctx: Ctx, workload: 'w1' | 'w3' | 'w4', broker: BrokerName): Promise<Figure[]> {
  const cases = casesFor(ctx, workload);
  const builders = cases.map(
    (c) =>
      new FigureBuilder({
        workload,
        broker,
        variant: c.variant,
        impl: c.worker.label,
        side: c.worker.side,
        primary: 'rate',
        unit: 'tasks/s',
        higherIsBetter: true,
        columns: c.ideal ? ['pctIdeal', 'steady', 'rssMb'] : ['steady', 'startupS', 'rssMb'],
      }),
  );
  const unavailable = new Set<number>();
  for (let run = 1; run <= ctx.opts.runs; run++) {
    for (const [i, c] of cases.entries()) {
      ctx.progress.step(`${WORKLOAD_TITLES[workload]} · ${broker} · ${c.worker.label} · ${c.variant} · run ${run}/${ctx.opts.runs}`);
      if (unavailable.has(i)) {
        builders[i].add(null);
        continue;
      }
      let o: DrainOutcome;
      try {
        o = await drainRun(ctx, broker, c.worker, c.kind, c.n, { timeoutS: timeoutFor(c), naOnEarlyExit: c.naOnEarlyExit });
      } catch (err) {
        o = { status: 'failed', note: `${c.worker.label}: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (o.note) ctx.progress.log(`  ${o.status === 'ok' ? 'note' : o.status}: ${o.note}`);
      if (o.status === 'n/a') unavailable.add(i);
      builders[i].add(
        o.status === 'ok'
          ? { rate: o.rate ?? null, steady: o.steady ?? null, startupS: o.startupS ?? null, rssMb: o.rssMb ?? null, pctIdeal: c.ideal && o.rate ? (100 * o.rate) / c.ideal : null }
          : null,
        o.status === 'n/a' ? `n/a: ${o.note ?? ''}` : o.note,
      );
    }
  }
  return builders.map((b) => b.build());
}

/** Steps this workload will show in the progress line. */
export function workerWorkloadSteps(ctx: Ctx, workload: 'w1' | 'w3' | 'w4'): number {
  return casesFor(ctx, workload).length * ctx.opts.runs;
}
