// Celery's built-in tasks (celery/app/builtins.py), with the same names and arguments, so any Celery producer may
// send them to a celeriac worker: celery.map, starmap, chunks, group, chain, chord, accumulate, chord_unlock.

import type { SignatureDict } from '../protocol';
import type { Celery } from './app';
import { Chord, Chunks, Group, GroupResult, maybeSignature, nodeFromTuple, nodeTuple, resultFor, trailOf, withParent, type AnySignature, type ParentTask } from './canvas';
import { ChordError, NotImplementedError } from './errors';
import type { TaskContext, TaskOptions } from './task';
import { callInline, localTask } from './worker/inline';
import { chordErrorFromStack, errorRepr } from './worker/chord';

/** Celery's result_chord_retry_interval and result_chord_join_timeout defaults (seconds). */
const CHORD_RETRY_INTERVAL = 1;
const CHORD_JOIN_TIMEOUT = 3;

/** The running built-in task as the parent of what it sends; what it sends becomes its result's children. */
function parentOf(ctx: TaskContext): ParentTask {
  return { id: ctx.request.id, rootId: ctx.request.rootId ?? ctx.request.id, children: trailOf(ctx.request.id) };
}

/** Register the built-in tasks on an app (once; a task of the same name already registered is kept). */
export function installBuiltins(app: Celery): void {
  const define = (name: string, options: TaskOptions, handler: (this: TaskContext, ...args: never[]) => unknown): void => {
    if (!app.tasks.has(name)) app.task(name, options, handler as never);
  };

  define('celery.backend_cleanup', { params: [] }, () => null);

  define('celery.accumulate', { params: ['*args', '**kwargs'] }, (args: unknown[], kwargs: Record<string, unknown>) => {
    const index = kwargs.index;
    return index !== undefined && index !== null ? args[Number(index)] ?? null : args;
  });

  // [task(item) for item in it]: the task's function is called here, in order.
  define('celery.map', { params: ['task', 'it'] }, async function (this: TaskContext, task: SignatureDict, it: unknown[]) {
    const t = localTask(app.tasks, (maybeSignature(app, task) as AnySignature).task);
    const out: unknown[] = [];
    for (const item of it) out.push(await callInline(t, [item], {}, this.request, this.signal));
    return out;
  });

  define('celery.starmap', { params: ['task', 'it'] }, async function (this: TaskContext, task: SignatureDict, it: unknown[][]) {
    const t = localTask(app.tasks, (maybeSignature(app, task) as AnySignature).task);
    const out: unknown[] = [];
    for (const item of it) out.push(await callInline(t, Array.isArray(item) ? item : [item], {}, this.request, this.signal));
    return out;
  });

  // The chunks are sent as a group of celery.starmap tasks; the result is that group.
  define('celery.chunks', { params: ['task', 'it', 'n'] }, async function (this: TaskContext, task: SignatureDict, it: unknown[], n: number) {
    const node = await withParent(parentOf(this), () => new Chunks(app, task, it, n).applyNode());
    return nodeTuple(node);
  });

  // Kept by Celery for old producers: apply each task (with partial args) under the given group id.
  define(
    'celery.group',
    { params: ['tasks', 'result', 'group_id', 'partial_args', { name: 'add_to_parent', default: true }] },
    async function (this: TaskContext, tasks: SignatureDict[], result: unknown, groupId: string, partialArgs: unknown[], addToParent: boolean) {
      const parent = parentOf(this);
      await withParent(parent, async () => {
        for (const t of tasks) {
          const sig = (maybeSignature(app, t) as AnySignature).clone(partialArgs ?? []);
          await sig.applyNode([], {}, { group_id: groupId, add_to_parent: false });
        }
      });
      if (addToParent) parent.children.push(nodeFromTuple(result));
      return result;
    },
  );

  define('celery.chain', { params: ['*args', '**kwargs'] }, () => {
    throw new NotImplementedError('chain is not a real task');
  });

  define(
    'celery.chord',
    {
      params: ['header', 'body', { name: 'partial_args', default: [] }, { name: 'interval', default: null }, { name: 'countdown', default: 1 }, { name: 'max_retries', default: null }, { name: 'eager', default: false }, '**kwargs'],
    },
    async function (this: TaskContext, header: unknown, body: SignatureDict, partialArgs: unknown[], _i: unknown, _c: unknown, _m: unknown, _e: unknown, kwargs: Record<string, unknown>) {
      const headerSig = maybeHeader(app, header);
      const bodySig = maybeSignature(app, body) as AnySignature;
      const ch = new Chord(app, headerSig, bodySig);
      const node = await withParent(parentOf(this), () => ch.run(headerSig, bodySig, partialArgs ?? [], null, kwargs));
      return nodeTuple(node);
    },
  );

  // For backends without a native join: wait (by retrying) until every header task is ready, then apply the body.
  define(
    'celery.chord_unlock',
    {
      params: ['group_id', 'callback', { name: 'interval', default: null }, { name: 'max_retries', default: null }, { name: 'result', default: null }, '**kwargs'],
      maxRetries: null,
      defaultRetryDelay: CHORD_RETRY_INTERVAL,
      ignoreResult: true,
    },
    async function (this: TaskContext, groupId: string, callback: SignatureDict, interval: number | null, maxRetries: number | null, result: unknown[] | null) {
      const countdown = interval ?? CHORD_RETRY_INTERVAL;
      const body = maybeSignature(app, callback) as AnySignature;
      const deps = new GroupResult(app, groupId, (result ?? []).map((t) => resultFor(app, nodeFromTuple(t))));
      let ready: boolean;
      try {
        ready = await deps.ready();
      } catch (err) {
        return this.retry({ exc: err, countdown, maxRetries });
      }
      if (!ready) return this.retry({ countdown, maxRetries });
      const parent = parentOf(this);
      let values: unknown[];
      try {
        values = await deps.get({ timeout: CHORD_JOIN_TIMEOUT, propagate: true });
      } catch (err) {
        let culprit: string | null = null;
        for (const r of deps.results) {
          if (!(r instanceof GroupResult) && (await r.failed())) {
            culprit = r.id;
            break;
          }
        }
        const reason = culprit ? `Dependency ${culprit} raised ${errorRepr(err)}` : errorRepr(err);
        app.logger.error(`Chord '${groupId}' raised: ${reason}`);
        await chordErrorFromStack(app, body, new ChordError(reason), parent);
        return null;
      }
      try {
        await withParent(parent, () => body.applyNode([values]));
      } catch (err) {
        app.logger.error(`Chord '${groupId}' raised: ${errorRepr(err)}`);
        await chordErrorFromStack(app, body, new ChordError(`Callback error: ${errorRepr(err)}`), parent);
      }
      return null;
    },
  );
}

/** The chord header as a group: a serialised group, or a list of signatures. */
function maybeHeader(app: Celery, header: unknown): Group {
  if (Array.isArray(header)) return new Group(app, header.map((t) => maybeSignature(app, t) as AnySignature));
  const sig = maybeSignature(app, header) as AnySignature;
  return sig instanceof Group ? new Group(app, sig.tasks) : new Group(app, [sig]);
}
