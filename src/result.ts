// AsyncResult: a task's result as the backend holds it, awaited by push (pub/sub or reply queue), with Python's
// states and errors; failures from any worker surface as TaskError carrying the Python exception details.

import { EXCEPTION_STATES, isExceptionInfo, PROPAGATE_STATES, READY_STATES, type ResultMeta, type TaskState } from '../protocol';
import type { ResultBackend } from './backends/backend';
import { ResultTimeoutError, TaskError } from './errors';

export interface GetOptions {
  /** Seconds to wait (default: forever). */
  timeout?: number;
  /** Throw the task's error on FAILURE/REVOKED (default true), else return the exception info. */
  propagate?: boolean;
  /** Called with each intermediate state (PROGRESS, STARTED, RETRY…) while waiting. */
  onUpdate?: (meta: ResultMeta) => void;
}

/** A progress update as written by `this.progress()` and by celery-progress in Python. */
export interface ProgressInfo {
  state: string;
  meta: unknown;
}

export class AsyncResult<R = unknown> {
  constructor(
    readonly id: string,
    private readonly backend: ResultBackend,
    /** Connects the app on first use, so a result made from an id alone works. */
    private readonly connect: () => Promise<void> = async () => undefined,
  ) {}

  /** The stored meta, or a PENDING placeholder when nothing is stored yet. */
  async meta(): Promise<ResultMeta> {
    await this.connect();
    return (await this.backend.get(this.id)) ?? { status: 'PENDING', result: null, traceback: null, children: [], date_done: null, task_id: this.id };
  }

  /** The current state (`PENDING` until something is stored). */
  get status(): Promise<TaskState> {
    return this.meta().then((m) => m.status);
  }

  /** Alias of `status`, as in Celery. */
  get state(): Promise<TaskState> {
    return this.status;
  }

  /** The return value, the exception info of a failure, or the meta of a custom state. */
  get result(): Promise<unknown> {
    return this.meta().then((m) => m.result);
  }

  get traceback(): Promise<string | null> {
    return this.meta().then((m) => m.traceback);
  }

  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.status);
  }

  async successful(): Promise<boolean> {
    return (await this.status) === 'SUCCESS';
  }

  async failed(): Promise<boolean> {
    return (await this.status) === 'FAILURE';
  }

  /** Remove the stored result. */
  async forget(): Promise<void> {
    await this.connect();
    await this.backend.forget(this.id);
  }

  /** Wait for the task to finish and return its value (or throw its error). */
  get(options: GetOptions = {}): Promise<R> {
    const propagate = options.propagate ?? true;
    return new Promise<R>((resolve, reject) => {
      let done = false;
      let unwatch: (() => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        unwatch?.();
        fn();
      };
      if (options.timeout !== undefined) {
        timer = setTimeout(() => finish(() => reject(new ResultTimeoutError(`The operation timed out waiting for task ${this.id} (${options.timeout}s)`))), options.timeout * 1000);
      }
      this.connect()
        .then(() => this.backend.watch(this.id, (meta) => {
          if (done) return;
          if (!READY_STATES.has(meta.status)) {
            options.onUpdate?.(meta);
            return;
          }
          finish(() => {
            if (PROPAGATE_STATES.has(meta.status) && propagate) reject(toTaskError(meta));
            else resolve(meta.result as R);
          });
        }))
        .then((u) => {
          if (done) u();
          else unwatch = u;
        })
        .catch((err: unknown) => finish(() => reject(err)));
    });
  }

  /** Every state the task passes through from now on (PROGRESS, RETRY, …), ending with the ready one. */
  async *updates(): AsyncGenerator<ResultMeta> {
    const queue: ResultMeta[] = [];
    let wake: (() => void) | undefined;
    await this.connect();
    const unwatch = await this.backend.watch(this.id, (meta) => {
      queue.push(meta);
      wake?.();
    });
    try {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const meta = queue.shift() as ResultMeta;
        yield meta;
        if (READY_STATES.has(meta.status)) return;
      }
    } finally {
      unwatch();
    }
  }

  toString(): string {
    return this.id;
  }
}

/** The error for a FAILURE/REVOKED meta: TaskError with Python's exception type, module and message. */
export function toTaskError(meta: ResultMeta): TaskError {
  const info = isExceptionInfo(meta.result) ? meta.result : { exc_type: 'Exception', exc_message: [String(meta.result)], exc_module: 'builtins' };
  return new TaskError(meta.task_id, info, meta.traceback, meta.status);
}

export { EXCEPTION_STATES };
