// The task a canvas is applied from (Celery's `current_worker_task`): messages sent while it runs get its id as
// `parent_id` and its root as `root_id`, and what they return joins its `children` (Celery's request trail).

import { AsyncLocalStorage } from 'node:async_hooks';
import type { ResultNode } from './results';

/** The worker task on whose behalf canvas messages are sent. */
export interface ParentTask {
  id: string;
  rootId: string | null;
  /** Results sent with add_to_parent (Celery's `request.children`), in the order they were sent. */
  children: ResultNode[];
}

const current = new AsyncLocalStorage<ParentTask>();

/** Run `fn` as if inside the worker task `parent`: sends made by canvas code inherit its ids and trail. */
export function withParent<T>(parent: ParentTask, fn: () => Promise<T>): Promise<T> {
  return current.run(parent, fn);
}

/**
 * Run `fn` outside any parent: what it schedules (a broker's delivery callbacks, timers) must not carry the parent
 * into unrelated work, such as the next task a worker runs.
 */
export function outsideParent<T>(fn: () => T): T {
  return current.exit(fn);
}

/** The task whose canvas is being applied, if any. */
export function currentParent(): ParentTask | undefined {
  return current.getStore();
}

/** Children recorded by tasks that send canvases while they run (the built-in tasks), kept until the result is stored. */
const trails = new Map<string, ResultNode[]>();

/** The trail of a running task, created on first use. */
export function trailOf(taskId: string): ResultNode[] {
  let list = trails.get(taskId);
  if (!list) {
    list = [];
    trails.set(taskId, list);
  }
  return list;
}

/** Take (and forget) what a task sent while it ran. */
/** True while some task has recorded a trail (skips a map lookup per task otherwise). */
export function trailsPending(): boolean {
  return trails.size > 0;
}

export function takeTrail(taskId: string): ResultNode[] {
  const list = trails.get(taskId) ?? [];
  trails.delete(taskId);
  return list;
}
