// The example tasks plus what the operations tests need (a task that rejects its own message), so those tests
// run `celeriac worker -A interop/ops-tasks.ts` without touching interop/tasks.ts.

import { Reject } from 'celeriac';
import { app } from './tasks';

export { app };

/** Rejects its own message (Celery's `raise Reject(reason, requeue=False)`): no result, a task-rejected event. */
export const reject = app.task('tasks.reject', { params: ['reason'] }, (reason: string): never => {
  throw new Reject(reason, false);
});
