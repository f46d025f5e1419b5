// Watching results land in the bench DB: the harness knows the task ids and polls pipelined multi-key EXISTS
// (500 keys a command) every 50 ms; then checks every stored meta is SUCCESS with the expected value.

import type { Redis } from 'ioredis';
import { resultKey, type JsonValue, type TaskSpec } from './celery-format';

const CHUNK = 500;

export class ResultWatcher {
  private readonly chunks: string[][] = [];
  private readonly found: number[] = [];
  private first = 0;
  done = 0;

  constructor(
    private readonly redis: Redis,
    ids: readonly string[],
  ) {
    for (let i = 0; i < ids.length; i += CHUNK) {
      this.chunks.push(ids.slice(i, i + CHUNK).map(resultKey));
      this.found.push(0);
    }
  }

  get total(): number {
    return this.chunks.reduce((s, c) => s + c.length, 0);
  }

  /**
   * One poll: EXISTS over the incomplete chunks in queue order, stopping after a chunk with nothing stored
   * (work proceeds roughly FIFO, so later chunks are empty too). Returns the number of results stored.
   */
  async poll(): Promise<number> {
    while (this.first < this.chunks.length && this.found[this.first] === this.chunks[this.first].length) this.first++;
    let i = this.first;
    while (i < this.chunks.length) {
      const batch: number[] = [];
      for (let j = i; j < this.chunks.length && batch.length < 8; j++) if (this.found[j] < this.chunks[j].length) batch.push(j);
      if (batch.length === 0) break;
      const pipe = this.redis.pipeline();
      for (const j of batch) pipe.exists(...this.chunks[j]);
      const replies = (await pipe.exec()) ?? [];
      let sawEmpty = false;
      batch.forEach((j, k) => {
        const [err, n] = replies[k] ?? [null, 0];
        if (err) throw err;
        this.found[j] = Number(n);
        if (this.found[j] === 0) sawEmpty = true;
      });
      if (sawEmpty) break;
      i = batch[batch.length - 1] + 1;
    }
    this.done = this.found.reduce((s, n) => s + n, 0);
    return this.done;
  }
}

export interface Verification {
  ok: number;
  bad: number;
  /** The first few unexpected metas, for the report. */
  samples: string[];
}

/** MGET every result and compare status and value with what the task should return. */
export async function verifyResults(redis: Redis, tasks: readonly TaskSpec[], expect: (i: number) => JsonValue): Promise<Verification> {
  const v: Verification = { ok: 0, bad: 0, samples: [] };
  for (let i = 0; i < tasks.length; i += CHUNK) {
    const slice = tasks.slice(i, i + CHUNK);
    const values = await redis.mget(slice.map((t) => resultKey(t.id)));
    values.forEach((raw, k) => {
      let good = false;
      if (raw) {
        try {
          const meta = JSON.parse(raw) as { status?: string; result?: JsonValue; task_id?: string };
          good = meta.status === 'SUCCESS' && meta.task_id === slice[k].id && JSON.stringify(meta.result) === JSON.stringify(expect(i + k));
        } catch {
          good = false;
        }
      }
      if (good) v.ok++;
      else {
        v.bad++;
        if (v.samples.length < 3) v.samples.push(`${slice[k].id}: ${raw ?? '(missing)'}`);
      }
    });
  }
  return v;
}
