// Celery's LimitedSet for revoked task ids: at most `maxlen` ids, each kept `expires` seconds, oldest dropped first.
// Iterates in insertion order; `toData()` is the `{id: [timestamp, id]}` shape mingle's `hello` shares.

export class LimitedSet implements Iterable<string> {
  /** id → insertion time in epoch seconds (a Map keeps insertion order, so the oldest comes first). */
  private readonly data = new Map<string, number>();

  constructor(
    readonly maxlen = 50000,
    /** Seconds an id is kept (0 = forever). */
    readonly expires = 10800,
  ) {}

  add(id: string, insertedAt = Date.now() / 1000): this {
    this.data.delete(id); // re-adding refreshes the entry and moves it to the end
    this.data.set(id, insertedAt);
    this.purge();
    return this;
  }

  has(id: string): boolean {
    const at = this.data.get(id);
    if (at === undefined) return false;
    if (this.expires > 0 && at + this.expires < Date.now() / 1000) {
      this.data.delete(id);
      return false;
    }
    return true;
  }

  delete(id: string): boolean {
    return this.data.delete(id);
  }

  discard(id: string): void {
    this.data.delete(id);
  }

  clear(): void {
    this.data.clear();
  }

  get size(): number {
    return this.data.size;
  }

  /** Drop expired ids, then the oldest beyond maxlen. */
  purge(now = Date.now() / 1000): void {
    if (this.expires > 0) {
      for (const [id, at] of this.data) {
        if (at + this.expires >= now) break; // insertion order = age order
        this.data.delete(id);
      }
    }
    if (this.maxlen > 0) {
      for (const id of this.data.keys()) {
        if (this.data.size <= this.maxlen) break;
        this.data.delete(id);
      }
    }
  }

  update(ids: Iterable<string> | Record<string, unknown>): void {
    if (Symbol.iterator in Object(ids)) {
      for (const id of ids as Iterable<string>) this.add(id);
      return;
    }
    // mingle's dict form: {id: timestamp} or {id: [timestamp, id]}
    for (const [id, v] of Object.entries(ids)) {
      const at = Array.isArray(v) ? v[0] : v;
      this.add(id, typeof at === 'number' && Number.isFinite(at) ? at : Date.now() / 1000);
    }
    this.purge();
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.data.keys();
  }

  values(): IterableIterator<string> {
    return this.data.keys();
  }

  /** `{id: [timestamp, id]}`, the shape of Celery's `LimitedSet._data`; timestamps always carry a fraction. */
  toData(): Record<string, [number, string]> {
    const out: Record<string, [number, string]> = {};
    for (const [id, at] of this.data) out[id] = [pyFloat(at), id];
    return out;
  }

  /** `[id, timestamp]` pairs in age order, for a state file. */
  entries(): Array<[string, number]> {
    return [...this.data.entries()];
  }
}

/** Python's LimitedSet.update insists on float timestamps; JSON writes 5.0 as 5, so keep a fraction. */
function pyFloat(n: number): number {
  return Number.isInteger(n) ? n + 0.000001 : n;
}
