// chain: signatures applied one after the other, each getting the previous result. As Celery's canvas._chain, the
// steps are frozen in reverse, the first one is sent with the rest in its message's `chain`, and a group followed
// by a task becomes a chord.

import type { SignatureDict, SignatureOptions } from '../../protocol';
import type { CanvasResult, ResultNode } from './results';
import { maybeSignature, Signature, type AnySignature, type CanvasApp, type FreezeOptions, type WireOptions } from './signature';
import { Group, maybeUnrollGroup } from './group';
import { Chord } from './chord';
import { chordSupport } from './join';

export class Chain<R = unknown> extends Signature<R, CanvasResult<R>> {
  constructor(app: CanvasApp, tasks: Array<AnySignature | SignatureDict>, options: SignatureOptions = {}) {
    super(app, 'celery.chain', [], { tasks: tasks.map((t) => maybeSignature(app, t) as AnySignature) }, options, false, 'chain');
  }

  static fromSignatureDict(app: CanvasApp, d: SignatureDict): Chain {
    const tasks = ((d.kwargs ?? {}).tasks ?? []) as SignatureDict[];
    return new Chain(app, tasks, { ...(d.options ?? {}) });
  }

  get tasks(): AnySignature[] {
    return this.kwargs.tasks as AnySignature[];
  }

  set tasks(tasks: AnySignature[]) {
    this.kwargs.tasks = tasks;
  }

  override clone(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): this {
    const c = super.clone(args, kwargs, options);
    c.kwargs.tasks = (c.kwargs.tasks as AnySignature[]).map((t) => t.clone());
    return c;
  }

  /** The steps as copies, each carrying the chain's own errbacks. */
  unchainTasks(): AnySignature[] {
    const tasks = this.tasks.map((t) => t.clone());
    const errbacks = this.options.link_error;
    for (const eb of errbacks === undefined || errbacks === null ? [] : Array.isArray(errbacks) ? errbacks : [errbacks]) {
      for (const t of tasks) t.linkError(eb);
    }
    return tasks;
  }

  override async applyNode(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): Promise<ResultNode> {
    return this.run(args, kwargs, Object.keys(options).length ? { ...this.options, ...options } : { ...this.options });
  }

  /** Celery's _chain.run: freeze every step, send the first with the others (reversed) as its `chain`. */
  async run(args: readonly unknown[], kwargs: Record<string, unknown>, options: WireOptions): Promise<ResultNode> {
    const { group_id, chord, task_id, link, link_error, publisher: _p, producer: _pr, root_id, parent_id, group_index, ...rest } = options;
    const partial = args.length && !this.immutable ? [...args, ...this.args] : this.args;
    const [tasks, results] = this.prepareSteps(partial, kwargs, this.tasks, {
      rootId: str(root_id), linkError: link_error, lastTaskId: str(task_id), groupId: str(group_id), chordBody: chord as AnySignature | SignatureDict | null, groupIndex: typeof group_index === 'number' ? group_index : null,
    });
    if (results.length === 0) throw new TypeError('cannot apply an empty chain');
    if (link !== undefined && link !== null) for (const l of Array.isArray(link) ? link : [link]) tasks[0].link(l as SignatureDict);
    const first = tasks.pop() as AnySignature;
    const chainOpt = Array.isArray(rest.chain) ? [...(rest.chain as unknown[]), ...tasks] : tasks;
    const fromApply = await first.applyNode([], {}, { ...rest, chain: chainOpt });
    // With a single step, the applied result is the real one (a group's result is only complete that way).
    return tasks.length === 0 ? fromApply : results[0];
  }

  override freeze(o: FreezeOptions = {}): ResultNode {
    const [, results] = this.prepareSteps(this.args, this.kwargs, this.tasks, {
      rootId: o.rootId ?? null, lastTaskId: o.id ?? null, groupId: o.groupId ?? null, chordBody: o.chord ?? null, groupIndex: o.groupIndex ?? null, clone: false,
    });
    return results[0];
  }

  /**
   * Celery's prepare_steps: walk the steps from last to first, unroll nested chains, turn `group | task` into a chord,
   * freeze each step (the last one with the chain's own id, group and chord), and link each result to its parent.
   * Returns the steps and results in reverse order, as the message's `chain` needs them.
   */
  prepareSteps(
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    tasks: AnySignature[],
    o: { rootId?: string | null; linkError?: unknown; lastTaskId?: string | null; groupId?: string | null; chordBody?: AnySignature | SignatureDict | null; groupIndex?: number | null; clone?: boolean },
  ): [AnySignature[], ResultNode[]] {
    const clone = o.clone ?? true;
    const steps: Array<AnySignature | SignatureDict> = [...tasks];
    const outTasks: AnySignature[] = [];
    const results: ResultNode[] = [];
    let prevTask: AnySignature | null = null;
    let prevRes: ResultNode | null = null;
    let i = 0;
    while (steps.length > 0) {
      let task = maybeSignature(this.app, steps.pop()) as AnySignature;
      const isFirst = steps.length === 0;
      const isLast = i === 0;
      if (task instanceof Group) task = maybeUnrollGroup(task);
      if (clone) task = isFirst ? task.clone(args, kwargs) : task.clone();
      else if (isFirst) task.args = [...args, ...task.args];
      if (task instanceof Chain) {
        steps.push(...task.tasks); // splice the nested chain in
        continue;
      }
      if (task instanceof Group && prevTask) {
        // group(...) | s becomes chord(group, s); freezing it as a normal signature.
        outTasks.pop();
        results.pop();
        // A group result has no task_id (Python's AttributeError path): the chord then gets none.
        const options: SignatureOptions = {};
        if (prevRes && prevRes.kind === 'task') options.task_id = prevRes.id;
        options.root_id = o.rootId ?? (null as unknown as string);
        task = new Chord(this.app, task, prevTask, options);
      }
      const res = isLast
        ? task.freeze({ id: o.lastTaskId, rootId: o.rootId, groupId: o.groupId, chord: o.chordBody, groupIndex: o.groupIndex })
        : task.freeze({ rootId: o.rootId });
      i++;
      if (prevTask && prevRes && !prevRes.parent) prevRes.parent = res;
      if (o.linkError !== undefined && o.linkError !== null) {
        for (const eb of Array.isArray(o.linkError) ? o.linkError : [o.linkError]) task.linkError(eb as SignatureDict);
      }
      outTasks.push(task);
      results.push(res);
      prevTask = task;
      prevRes = res;
      if (task instanceof Chord) {
        chordSupport(this.app).ensureChordsAllowed();
        // The body's result is what follows; its first parent is the header's group result.
        let node: ResultNode = res;
        while (node.parent) node = node.parent;
        prevRes = node;
      }
    }
    return [outTasks, results];
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

Signature.TYPES.set('chain', (app, d) => Chain.fromSignatureDict(app, d));
