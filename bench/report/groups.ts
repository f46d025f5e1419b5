// Grouping figures for the report (one group per workload × broker × variant) and the ratios against the Python
// and ceiling rows of each group.

import type { Figure, Side } from '../lib/stats';

export const WORKLOAD_TITLE: Record<string, string> = {
  w1: 'W1 throughput',
  w2: 'W2 round trip',
  w3: 'W3 I/O-bound',
  w4: 'W4 CPU-bound',
  producer: 'Producer rate',
};

export const METRIC_LABEL: Record<string, string> = {
  rate: 'tasks/s',
  steady: 'steady tasks/s',
  startupS: 'startup s',
  rssMb: 'peak RSS MB',
  pctIdeal: '% of ideal',
  p50: 'p50 ms',
  p90: 'p90 ms',
  p99: 'p99 ms',
  mean: 'mean ms',
};

export interface Group {
  workload: string;
  broker: string;
  variant: string;
  title: string;
  figures: Figure[];
}

export function groupFigures(figures: readonly Figure[]): Group[] {
  const groups: Group[] = [];
  for (const f of figures) {
    let g = groups.find((x) => x.workload === f.workload && x.broker === f.broker && x.variant === f.variant);
    if (!g) {
      g = { workload: f.workload, broker: f.broker, variant: f.variant, title: `${WORKLOAD_TITLE[f.workload] ?? f.workload} · ${f.broker} · ${f.variant}`, figures: [] };
      groups.push(g);
    }
    g.figures.push(f);
  }
  // Workload first (W1 amqp, W1 redis, W2 amqp, …), keeping the run order otherwise.
  const order = Object.keys(WORKLOAD_TITLE);
  return groups.map((g, i) => ({ g, i })).sort((a, b) => order.indexOf(a.g.workload) - order.indexOf(b.g.workload) || a.i - b.i).map((x) => x.g);
}

export const median = (f: Figure | undefined): number | null => (f ? (f.metrics[f.primary]?.median ?? null) : null);

/** The first row of a side that has a value (the reference for ratios). */
export function reference(g: Group, side: Side): Figure | undefined {
  return g.figures.find((f) => f.side === side && median(f) !== null);
}

export function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b !== 0 ? a / b : null;
}

export interface Ratio {
  workload: string;
  broker: string;
  variant: string;
  metric: string;
  higherIsBetter: boolean;
  celeriac: string | null;
  celeriacOverPython: number | null;
  celeriacOverCeiling: number | null;
}

export function ratios(groups: readonly Group[]): Ratio[] {
  return groups.map((g) => {
    const c = reference(g, 'celeriac');
    const first = g.figures[0];
    return {
      workload: g.workload,
      broker: g.broker,
      variant: g.variant,
      metric: first.primary,
      higherIsBetter: first.higherIsBetter,
      celeriac: c?.impl ?? null,
      celeriacOverPython: ratio(median(c), median(reference(g, 'python'))),
      celeriacOverCeiling: ratio(median(c), median(reference(g, 'ceiling'))),
    };
  });
}
