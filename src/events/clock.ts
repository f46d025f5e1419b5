// Lamport clock, as kombu.clocks.LamportClock: forward on each event sent, adjust to max(mine, theirs) + 1 on receipt.

export class LamportClock {
  constructor(private current = 0) {}

  get value(): number {
    return this.current;
  }

  /** The next value, for an event or message we send. */
  forward(): number {
    this.current += 1;
    return this.current;
  }

  /** Take another process's clock into account (a received message's `clock` header). */
  adjust(other: unknown): number {
    const n = typeof other === 'number' ? other : typeof other === 'string' ? Number(other) : NaN;
    if (Number.isFinite(n) && n > this.current) this.current = Math.trunc(n);
    this.current += 1;
    return this.current;
  }
}
