// Per-task rate limits as Celery's: a token bucket (capacity 1) per task name; tasks over the rate wait in order,
// they are never dropped or failed.

/** Parse Celery's rate: `'10/s'`, `'100/m'`, `'1000/h'`, or a bare number per second. Null/0 = no limit. */
export function parseRate(rate: string | number | null | undefined): number | null {
  if (rate === null || rate === undefined || rate === '') return null;
  if (typeof rate === 'number') return rate > 0 ? rate : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?\s*$/.exec(rate);
  if (!m) throw new Error(`invalid rate limit ${JSON.stringify(rate)} (use e.g. '10/s', '100/m', '1000/h')`);
  const n = Number(m[1]);
  if (n <= 0) return null;
  const per = m[2] === 'm' ? 60 : m[2] === 'h' ? 3600 : 1;
  return n / per;
}

/** kombu's TokenBucket with capacity 1: one task may start every 1/rate seconds. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly fillRate: number,
    readonly capacity = 1,
  ) {
    this.tokens = capacity;
    this.last = performance.now();
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.fillRate);
    this.last = now;
  }

  /** Take a token if one is available. */
  tryConsume(n = 1): boolean {
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Milliseconds until `n` tokens are available. */
  msUntil(n = 1): number {
    this.refill();
    return this.tokens >= n ? 0 : ((n - this.tokens) / this.fillRate) * 1000;
  }
}
