// Extension points of the worker, so events, canvas handling and execution pools plug in without growing worker.ts:
// task lifecycle notifications, the canvas steps around storing a result, and the executor that runs a task.

import type { ExceptionInfo, ResultTuple } from '../../protocol';
import type { Task, TaskRequest } from '../task';
import type { Request } from './request';
import { runTask, type Outcome, type RunServices, type TimeLimits } from './tracer';
import type { TaskCancel } from './cancel';

export { TaskCancel } from './cancel';

/** Lifecycle notifications (the source of celeryev task events and metrics). All optional. */
export interface TaskLifecycleListener {
  received?(request: Request): void;
  started?(request: Request): void;
  succeeded?(request: Request, value: unknown, runtimeSeconds: number): void;
  failed?(request: Request, info: ExceptionInfo, traceback: string | null): void;
  retried?(request: Request, info: ExceptionInfo, traceback: string | null): void;
  rejected?(request: Request, requeue: boolean): void;
  revoked?(request: Request, reason: 'revoked' | 'expired' | 'terminated'): void;
}

/** Canvas work around a task's result (callbacks, chains, chords, errbacks), as Celery's trace does it. */
export interface CanvasHandler {
  /** After success, before the result is stored: apply callbacks and the next chain step; returns `children`. */
  beforeStoreSuccess(request: Request, value: unknown): Promise<ResultTuple[]>;
  /** After the final state (SUCCESS or FAILURE) is stored: chord counting. */
  afterStore(request: Request, state: string, result: unknown): Promise<void>;
  /** After a failure was stored: errbacks. */
  afterFailure(request: Request, info: ExceptionInfo, traceback: string | null, error: unknown): Promise<void>;
}

/** No canvas handling: plain tasks only. */
export const noCanvas: CanvasHandler = {
  beforeStoreSuccess: async () => [],
  afterStore: async () => undefined,
  afterFailure: async () => undefined,
};

/** One task run handed to an executor. */
export interface ExecutionJob {
  task: Task<never[], unknown>;
  request: TaskRequest;
  limits: TimeLimits;
  services: RunServices;
  cancel: TaskCancel;
  /** `cancel.signal`: fires on revoke --terminate and cold shutdown. */
  readonly signal: AbortSignal;
}

/** Runs tasks: on the event loop (async), or in threads/processes (pools). */
export interface Executor {
  readonly name: string;
  start(): Promise<void>;
  run(job: ExecutionJob): Promise<Outcome>;
  /** Wait for running jobs (warm) or end them (cold). */
  stop(cold: boolean): Promise<void>;
}

/** The default pool: tasks run on the event loop, up to the worker's concurrency at once. */
export class AsyncExecutor implements Executor {
  readonly name = 'async';
  async start(): Promise<void> {}
  run(job: ExecutionJob): Promise<Outcome> {
    return runTask(job.task, job.request, job.limits, job.services, job.cancel);
  }
  async stop(): Promise<void> {}
}
