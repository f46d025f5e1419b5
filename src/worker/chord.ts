// Chord completion on the worker, as Celery's RedisBackend.on_chord_part_return: each finished header task records
// its state; the one that completes the count applies the body with the results in group_index order, or fails the
// body with ChordError (its errbacks first), whichever worker, Python or Node, finishes last.

import {
  exceptionRepr,
  formatTraceback,
  isExceptionInfo,
  naiveIso,
  PROPAGATE_STATES,
  pyRepr,
  toExceptionInfo,
  type SignatureDict,
} from '../../protocol';
import type { Celery } from '../app';
import { chordSupport, GroupResult, maybeSignature, nodeFromTuple, resultFor, withParent, type AnySignature, type ParentTask } from '../canvas';
import { ChordError, TaskError } from '../errors';
import type { Logger } from '../log';
import type { TaskRequest } from '../task';
import { callErrbacks } from './errbacks';

/** A header task that finished: its id, group, position and the chord body it carries. */
export interface ChordPartTask {
  id: string | null | undefined;
  group: string | null | undefined;
  groupIndex: number | null | undefined;
  chord: SignatureDict;
}

/** Celery's result_chord_join_timeout (seconds), for a header saved as a GroupResult. */
const JOIN_TIMEOUT = 3;

/** `repr(exc)` as Python prints it in ChordError texts. */
export function errorRepr(err: unknown): string {
  if (err instanceof TaskError) return exceptionRepr({ exc_type: err.excType, exc_message: err.excMessage, exc_module: err.excModule });
  return exceptionRepr(toExceptionInfo(err));
}

/** The value a stored part stands for; a failed or revoked part fails the whole chord. */
function unpack([taskId, state, result]: [string, string, unknown]): unknown {
  if (PROPAGATE_STATES.has(state)) {
    const repr = isExceptionInfo(result) ? exceptionRepr(result) : pyRepr(result);
    throw new ChordError(`Dependency ${taskId} raised ${repr}`);
  }
  return result;
}

/**
 * Count one header task (SUCCESS, FAILURE or REVOKED) and, if it is the last, apply the body with the ordered
 * results (then delete the counters) or fail it with ChordError. `parent` is the worker task doing this.
 */
export async function onChordPartReturn(app: Celery, part: ChordPartTask, state: string, result: unknown, parent: ParentTask, logger: Logger): Promise<void> {
  const tid = part.id;
  const gid = part.group;
  if (!gid || !tid) return;
  const support = chordSupport(app);
  const count = await support.addPart(gid, tid, part.groupIndex ?? null, state, result);
  if (count.size === null) return;
  const total = count.size + count.extra;
  if (count.ready !== total) return;
  const callback = maybeSignature(app, part.chord) as AnySignature;
  try {
    let values: unknown[];
    const saved = await support.savedGroup(gid);
    if (saved) {
      // A header holding groups was saved at apply time: join through it to keep the nesting.
      const header = resultFor(app, nodeFromTuple(saved));
      if (!(header instanceof GroupResult)) throw new TypeError(`saved chord header ${gid} is not a group`);
      try {
        values = await header.get({ timeout: JOIN_TIMEOUT, propagate: true });
      } catch (err) {
        throw new ChordError(`Join error: ${errorRepr(err)}`);
      }
    } else {
      values = (await support.readParts(gid, total)).map(unpack);
    }
    try {
      try {
        await withParent(parent, () => callback.applyNode([values]));
      } catch (err) {
        logger.error(`Chord callback for '${gid}' raised: ${errorRepr(err)}`);
        await chordErrorFromStack(app, callback, new ChordError(`Callback error: ${errorRepr(err)}`), parent);
      }
    } finally {
      await support.cleanup(gid);
    }
  } catch (err) {
    logger.error(`Chord '${gid}' raised: ${errorRepr(err)}`);
    await chordErrorFromStack(app, callback, err instanceof ChordError ? err : new ChordError(`Join error: ${errorRepr(err)}`), parent);
  }
}

/**
 * Fail a chord body that will never run (Celery's chord_error_from_stack): its errbacks first, with a request
 * made from the body signature, then FAILURE stored for the body's id.
 */
export async function chordErrorFromStack(app: Celery, callback: AnySignature, exc: unknown, parent: ParentTask): Promise<void> {
  const id = callback.options.task_id;
  const request: TaskRequest = {
    id: id ?? '',
    task: callback.task,
    args: callback.args,
    kwargs: callback.kwargs,
    retries: 0,
    eta: null,
    expires: null,
    group: typeof callback.options.group_id === 'string' ? callback.options.group_id : null,
    groupIndex: typeof callback.options.group_index === 'number' ? callback.options.group_index : null,
    rootId: typeof callback.options.root_id === 'string' ? callback.options.root_id : null,
    parentId: typeof callback.options.parent_id === 'string' ? callback.options.parent_id : null,
    correlationId: id ?? null,
    replyTo: typeof callback.options.reply_to === 'string' ? callback.options.reply_to : null,
    origin: null,
    hostname: '',
    timelimit: [null, null],
    deliveryInfo: { exchange: '', routingKey: '', priority: 0, redelivered: false },
    headers: {},
    // No message: this request is made from the body signature, as Celery's fake request is.
    message: undefined as never,
  };
  let failure = exc;
  try {
    const link = callback.options.link_error;
    const errbacks = link === undefined || link === null ? [] : Array.isArray(link) ? link : [link];
    await withParent(parent, () => callErrbacks(app, { id: id ?? '', rootId: request.rootId, errbacks, request }, exc, null));
  } catch (err) {
    failure = err;
  }
  if (!id) return; // a body without an id (e.g. a chain) has nowhere to store the failure
  await storeFailure(app, id, failure, { replyTo: request.replyTo });
}

/** Store FAILURE for a task id that is not the running task (a chord body, a chain's later steps). */
export async function storeFailure(app: Celery, taskId: string, exc: unknown, o: { replyTo?: string | null; groupId?: string | null; parentId?: string | null; traceback?: string | null; info?: unknown } = {}): Promise<void> {
  const info = o.info ?? toExceptionInfo(exc);
  const traceback = o.traceback !== undefined ? o.traceback : formatTraceback(exc, toExceptionInfo(exc));
  await app.backend.store(
    { status: 'FAILURE', result: info, traceback, children: [], date_done: naiveIso(Date.now()), group_id: o.groupId ?? null, parent_id: o.parentId ?? null, task_id: taskId },
    { replyTo: o.replyTo ?? null, correlationId: taskId },
  );
}
