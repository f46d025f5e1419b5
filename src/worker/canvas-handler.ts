// The worker's canvas work around a task's result, as Celery's tracer and backend do it: after success the
// callbacks and the next chain step are sent (they become the result's `children`); after the result is stored a
// chord member is counted; after a failure the rest of the chain is marked failed and the errbacks run.

import type { ExceptionInfo, ResultTuple, SignatureDict } from '../../protocol';
import type { Celery } from '../app';
import { Group, maybeSignature, nodeTuple, takeTrail, trailsPending, withParent, type AnySignature, type ParentTask } from '../canvas';
import { installBuiltins } from '../builtins';
import { silentLogger, type Logger } from '../log';
import type { CanvasHandler } from './hooks';
import type { Request } from './request';
import { errorRepr, onChordPartReturn, storeFailure } from './chord';
import { callErrbacks } from './errbacks';

export interface WorkerCanvasOptions {
  hostname?: string;
  logger?: Logger;
}

export class WorkerCanvas implements CanvasHandler {
  private readonly hostname: string;
  private readonly logger: Logger;

  constructor(
    private readonly app: Celery,
    options: WorkerCanvasOptions = {},
  ) {
    this.hostname = options.hostname ?? '';
    this.logger = options.logger ?? app.logger ?? silentLogger;
    installBuiltins(app);
  }

  private parentOf(request: Request, children: ParentTask['children'] = []): ParentTask {
    return { id: request.id, rootId: request.data.rootId ?? request.id, children };
  }

  async beforeStoreSuccess(request: Request, value: unknown): Promise<ResultTuple[]> {
    // What the task itself sent (built-in tasks) comes first, then callbacks, then the chain: Celery's trail order.
    const trail = takeTrail(request.id);
    const embed = request.data.embed;
    // Plain tasks (no trail, callbacks or chain) skip the parent context: entering an AsyncLocalStorage turns on
    // promise hooks, a cost every later promise in the process would pay.
    if (trail.length === 0 && !embed.callbacks?.length && !embed.chain?.length) return [];
    const parent = this.parentOf(request, trail);
    try {
      await withParent(parent, () => this.applyFollowUps(request, value));
    } catch (err) {
      this.logger.error(`Task ${request.label}: applying its callbacks/chain failed: ${errorRepr(err)}\n${(err as Error)?.stack ?? ''}`);
    }
    return parent.children.map(nodeTuple);
  }

  /** trace.py: callbacks (one is applied alone, several as a group, groups separately), then `chain.pop()`. */
  private async applyFollowUps(request: Request, value: unknown): Promise<void> {
    const d = request.data;
    // task_inherit_parent_priority is off by default: no priority is passed on.
    const options = { parent_id: d.id, root_id: d.rootId ?? d.id };
    const callbacks = d.embed.callbacks;
    if (callbacks && callbacks.length > 0) {
      if (callbacks.length > 1) {
        const sigs: AnySignature[] = [];
        const groups: AnySignature[] = [];
        for (const c of callbacks) {
          const sig = maybeSignature(this.app, c) as AnySignature;
          (sig instanceof Group ? groups : sigs).push(sig);
        }
        for (const g of groups) await g.applyNode([value], {}, options);
        if (sigs.length > 0) await new Group(this.app, sigs).applyNode([value], {}, options);
      } else {
        await (maybeSignature(this.app, callbacks[0]) as AnySignature).applyNode([value], {}, options);
      }
    }
    const chain = d.embed.chain;
    if (chain && chain.length > 0) {
      const rest: SignatureDict[] = [...chain];
      // The next step is the last element; a chord or group step is applied as such, not sent as a message.
      const next = maybeSignature(this.app, rest.pop()) as AnySignature;
      await next.applyNode([value], {}, { chain: rest, ...options });
    }
  }

  async afterStore(request: Request, state: string, result: unknown): Promise<void> {
    if (trailsPending()) takeTrail(request.id);
    const chord = request.data.embed.chord;
    if (!chord) return;
    try {
      await onChordPartReturn(this.app, { id: request.id, group: request.data.group, groupIndex: request.data.groupIndex, chord }, state, result, this.parentOf(request), this.logger);
    } catch (err) {
      this.logger.error(`Task ${request.label}: counting its chord ${request.data.group} failed: ${errorRepr(err)}\n${(err as Error)?.stack ?? ''}`);
    }
  }

  async afterFailure(request: Request, info: ExceptionInfo, traceback: string | null, error: unknown): Promise<void> {
    if (!request.data.embed.chain?.length && !request.data.embed.errbacks?.length) return;
    const parent = this.parentOf(request);
    try {
      await this.failChain(request, info, traceback, parent);
    } catch (err) {
      this.logger.error(`Task ${request.label}: marking its chain failed failed: ${errorRepr(err)}`);
    }
    const errbacks = request.data.embed.errbacks;
    if (!errbacks || errbacks.length === 0) return;
    try {
      await withParent(parent, () => callErrbacks(this.app, { id: request.id, rootId: request.data.rootId, errbacks, request: request.toTaskRequest(this.hostname) }, error, traceback));
    } catch (err) {
      this.logger.error(`Task ${request.label}: an errback failed: ${errorRepr(err)}\n${(err as Error)?.stack ?? ''}`);
    }
  }

  /** backends/base.py mark_as_failure: every later chain step is marked failed too, and counted if in a chord. */
  private async failChain(request: Request, info: ExceptionInfo, traceback: string | null, parent: ParentTask): Promise<void> {
    const chain = request.data.embed.chain;
    if (!chain || chain.length === 0) return;
    const task = this.app.tasks.get(request.name);
    const conf = this.app.conf;
    const ignoreResult = request.data.ignoreResult || (task?.options.ignoreResult ?? conf.taskIgnoreResult);
    const storeErrors = !ignoreResult || (task?.options.storeErrorsEvenIfIgnored ?? conf.taskStoreErrorsEvenIfIgnored);
    for (const elem of chain) {
      const o = elem.options ?? {};
      const id = typeof o.task_id === 'string' ? o.task_id : null;
      const groupId = typeof o.group_id === 'string' ? o.group_id : null;
      if (storeErrors && id) {
        await storeFailure(this.app, id, null, { info, traceback, replyTo: typeof o.reply_to === 'string' ? o.reply_to : request.data.replyTo, groupId, parentId: typeof o.parent_id === 'string' ? o.parent_id : null });
      }
      if ('chord' in o && o.chord) {
        await onChordPartReturn(this.app, { id, group: groupId, groupIndex: typeof o.group_index === 'number' ? o.group_index : null, chord: o.chord }, 'FAILURE', info, parent, this.logger);
      }
    }
  }
}
