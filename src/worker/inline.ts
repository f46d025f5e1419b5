// Calling a task's function directly inside the worker, as Celery's `task(*args)` (Task.__call__): no message, no
// stored result. Used by new-style errbacks and by `celery.map` / `celery.starmap`.

import type { Task, TaskContext, TaskRequest } from '../task';
import { NotRegistered, RuntimeError } from '../errors';

/** The `this` of a task called inline: its request describes the call, and it cannot retry or store states. */
class InlineContext implements TaskContext {
  readonly signal: AbortSignal;
  constructor(
    readonly name: string,
    readonly request: TaskRequest,
    signal?: AbortSignal,
  ) {
    this.signal = signal ?? new AbortController().signal;
  }

  retry(): never {
    throw new RuntimeError(`${this.name} was called inline (as an errback or by map/starmap) and cannot retry`);
  }

  async updateState(): Promise<void> {
    throw new RuntimeError(`${this.name} was called inline and has no result of its own to update`);
  }

  async progress(): Promise<void> {
    return this.updateState();
  }
}

/** The registered task with a handler in this process, or Celery's NotRegistered. */
export function localTask(tasks: Map<string, Task<never[], unknown>>, name: string): Task<never[], unknown> {
  const task = tasks.get(name);
  if (!task || !task.handler) throw new NotRegistered(name);
  return task;
}

/** Run a task's handler now with Python's argument binding; `base` is the request of the task that calls it. */
export async function callInline(task: Task<never[], unknown>, args: readonly unknown[], kwargs: Record<string, unknown>, base: TaskRequest, signal?: AbortSignal): Promise<unknown> {
  const handler = task.handler;
  if (!handler) throw new NotRegistered(task.name);
  const request: TaskRequest = { ...base, task: task.name, args: [...args], kwargs: { ...kwargs } };
  return handler.apply(new InlineContext(task.name, request, signal), task.bind(args, kwargs) as never[]);
}

/**
 * Celery's errback rule (backends/base.py `_call_task_errbacks`): a task whose function takes more than one
 * positional parameter (or *args) is a new-style errback `(request, exc, traceback)`, called inline.
 */
export function takesRequestExcTraceback(task: Task<never[], unknown>): boolean {
  const params = task.options.params;
  if (params) {
    const names = params.map((p) => (typeof p === 'string' ? p : p.name));
    return names.some((n) => n.startsWith('*') && !n.startsWith('**')) || names.filter((n) => !n.startsWith('*')).length > 1;
  }
  return (task.handler?.length ?? 0) > 1;
}
