// The ceiling's result writer: Celery's SETEX celery-task-meta-<id> + PUBLISH, queued and sent as one pipeline per
// tick; the Redis consumer adds its unacked bookkeeping to the same pipeline through the hooks.

import type { ChainableCommander, Redis } from 'ioredis';
import { failureMeta, RESULT_EXPIRES, resultKey, successMeta, type JsonValue } from '../lib/celery-format';
import { runTask, UnknownTask } from './tasks';

export interface BatchHooks {
  /** Commands to send before this tick's results (Redis: ZADD/HSET of fetched messages). */
  before?: (pipe: ChainableCommander) => void;
  /** Commands to send after them (Redis: ZREM/HDEL acks); returns a token handed to `written`. */
  after?: (pipe: ChainableCommander) => number;
  /** Called once Redis has answered the pipeline. */
  written?: (token: number) => void;
}

export class ResultWriter {
  private batch: Array<[string, string]> = [];
  private scheduled = false;
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly hooks: BatchHooks = {},
  ) {}

  success(id: string, value: JsonValue): void {
    this.batch.push([resultKey(id), successMeta(id, value)]);
    this.schedule();
  }

  failure(id: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.batch.push([resultKey(id), failureMeta(id, err instanceof UnknownTask ? 'NotRegistered' : 'Exception', message)]);
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  /** Send what is queued; resolves when Redis has answered. */
  flush(): Promise<unknown> {
    this.scheduled = false;
    const pipe = this.redis.pipeline();
    this.hooks.before?.(pipe);
    for (const [key, meta] of this.batch) pipe.setex(key, RESULT_EXPIRES, meta).publish(key, meta);
    this.batch = [];
    const token = this.hooks.after?.(pipe) ?? 0;
    if (pipe.length === 0) return this.last;
    const sent = pipe.exec().then(() => this.hooks.written?.(token));
    this.last = sent;
    return sent;
  }
}

/** Run the task and hand its outcome to the writer, then call `done` (synchronously for sync tasks). */
export function execute(task: string, args: JsonValue[], id: string, writer: ResultWriter, done: () => void): void {
  let out: JsonValue | Promise<JsonValue>;
  try {
    out = runTask(task, args);
  } catch (err) {
    writer.failure(id, err);
    done();
    return;
  }
  if (out instanceof Promise) {
    out.then(
      (v) => writer.success(id, v),
      (err: unknown) => writer.failure(id, err),
    ).finally(done);
  } else {
    writer.success(id, out);
    done();
  }
}
