// Small statistics and the shape of a benchmark figure (one implementation on one workload/broker, over runs).

export type Side = 'celeriac' | 'python' | 'ceiling' | 'mixed';

export interface Stat {
  /** One value per run; null where the run failed. */
  values: Array<number | null>;
  median: number | null;
  min: number | null;
  max: number | null;
}

export interface Figure {
  /** w1, w2, w3, w4, producer */
  workload: string;
  broker: string;
  /** Sub-case within the workload, e.g. "c=100" (empty when none). */
  variant: string;
  /** Row label, e.g. "celeriac worker -c 50". */
  impl: string;
  side: Side;
  /** Key of the headline metric in `metrics`. */
  primary: string;
  unit: string;
  higherIsBetter: boolean;
  metrics: Record<string, Stat>;
  /** Secondary metrics shown in the table after the primary one (keys of `metrics`). */
  columns: string[];
  /** "n/a: …", failures, wrong results: shown under the table. */
  notes: string[];
}

export function stat(values: Array<number | null>): Stat {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  return { values, median: xs.length ? quantileSorted(xs, 0.5) : null, min: xs.length ? xs[0] : null, max: xs.length ? xs[xs.length - 1] : null };
}

/** Linear-interpolated quantile of a sorted array (numpy's default). */
export function quantileSorted(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const pos = (xs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo);
}

export function percentiles(samples: readonly number[]): { p50: number; p90: number; p99: number; mean: number } {
  const xs = [...samples].sort((a, b) => a - b);
  return { p50: quantileSorted(xs, 0.5), p90: quantileSorted(xs, 0.9), p99: quantileSorted(xs, 0.99), mean: xs.reduce((s, x) => s + x, 0) / xs.length };
}

/** Collects per-run measurements into a Figure. */
export class FigureBuilder {
  private readonly runs: Record<string, Array<number | null>> = {};
  readonly notes: string[] = [];

  constructor(private readonly base: Omit<Figure, 'metrics' | 'notes'>) {}

  add(run: Record<string, number | null> | null, note?: string): void {
    const keys = new Set([...Object.keys(this.runs), ...Object.keys(run ?? {}), this.base.primary]);
    const len = Math.max(0, ...Object.values(this.runs).map((v) => v.length));
    for (const k of keys) {
      this.runs[k] ??= new Array<number | null>(len).fill(null);
      this.runs[k].push(run?.[k] ?? null);
    }
    if (note && !this.notes.includes(note)) this.notes.push(note);
  }

  build(): Figure {
    const metrics: Record<string, Stat> = {};
    for (const [k, v] of Object.entries(this.runs)) metrics[k] = stat(v);
    return { ...this.base, metrics, notes: this.notes };
  }
}
