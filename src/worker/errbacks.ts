// Errbacks after a failure, exactly as Celery's `_call_task_errbacks`: new-style errbacks (request, exc, traceback)
// registered here run inline; all others are sent as one group with the failed task's id as their argument.

import type { SignatureDict } from '../../protocol';
import type { Celery } from '../app';
import { Group, maybeSignature, type AnySignature } from '../canvas';
import type { TaskRequest } from '../task';
import { callInline, takesRequestExcTraceback } from './inline';

/** The failed task as errbacks see it. */
export interface FailedTask {
  id: string;
  rootId: string | null;
  errbacks: readonly SignatureDict[] | null | undefined;
  /** What a new-style errback receives as `request` (and what inline calls see as `this.request`). */
  request: TaskRequest;
}

export async function callErrbacks(app: Celery, failed: FailedTask, exc: unknown, traceback: string | null): Promise<void> {
  const oldStyle: AnySignature[] = [];
  for (const d of failed.errbacks ?? []) {
    const errback = maybeSignature(app, d) as AnySignature;
    const task = app.tasks.get(errback.task);
    if (task && task.handler && takesRequestExcTraceback(task)) {
      // Signature.__call__: the call's args come first, then the errback's own (unless it is immutable).
      const [args, kwargs] = errback.merge([failed.request, exc, traceback], {});
      await callInline(task, args, kwargs, failed.request);
    } else {
      // Not here, or old style: another worker (or this one) runs it with the failed task's id.
      oldStyle.push(errback);
    }
  }
  if (oldStyle.length > 0) {
    await new Group(app, oldStyle).applyNode([failed.id], {}, { parent_id: failed.id, root_id: failed.rootId ?? failed.id });
  }
}
