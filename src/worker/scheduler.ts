// One timer for many deadlines: a min-heap of due times served by a single setTimeout, so ten thousand held ETA
// messages cost a heap entry each rather than ten thousand timers.

/** One pending call, and its own cancel handle (no closure per entry: thousands of ETA holds may be pending). */
class Entry implements Scheduled {
  cancelled = false;

  constructor(
    readonly at: number,
    readonly seq: number,
    private readonly fn: (arg: never) => void,
    private readonly arg: unknown,
    private readonly owner: Scheduler,
  ) {}

  run(): void {
    (this.fn as (arg: unknown) => void)(this.arg);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.owner.cancelled();
  }
}

/** A handle to cancel a scheduled call. */
export interface Scheduled {
  cancel(): void;
  readonly at: number;
}

/** Node timers cannot wait longer than this (about 24.8 days); longer waits are re-armed. */
const MAX_TIMEOUT = 2 ** 31 - 1;

export class Scheduler {
  private readonly heap: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private seq = 0;
  private live = 0;

  /** Number of pending (not cancelled) calls. */
  get size(): number {
    return this.live;
  }

  /**
   * Call `run(arg)` at epoch ms `at` (or at once if that has passed). Passing `arg` lets many entries share one
   * function instead of a closure each.
   */
  at(at: number, run: () => void): Scheduled;
  at<T>(at: number, run: (arg: T) => void, arg: T): Scheduled;
  at<T>(at: number, run: (arg: T) => void, arg?: T): Scheduled {
    const entry = new Entry(at, this.seq++, run, arg, this);
    this.push(entry);
    this.live++;
    this.arm();
    return entry;
  }

  /** An entry was cancelled (it stays in the heap until it surfaces). */
  cancelled(): void {
    this.live--;
  }

  /** Drop every pending call. */
  clear(): void {
    for (const e of this.heap) e.cancelled = true;
    this.heap.length = 0;
    this.live = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(): void {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
    const next = this.heap[0];
    if (!next) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    if (this.timer && this.armedFor <= next.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next.at;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, next.at - Date.now()), MAX_TIMEOUT));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && (this.heap[0].cancelled || this.heap[0].at <= now)) {
      const e = this.pop() as Entry;
      if (e.cancelled) continue;
      e.cancelled = true;
      this.live--;
      e.run();
    }
    this.arm();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as Entry;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
