// group: signatures applied in parallel under one group id (Celery's canvas.group, ported step by step: the same
// ids, options, group_index and chord size as Python writes).

import { randomUUID } from 'node:crypto';
import type { SignatureDict, SignatureOptions } from '../../protocol';
import { currentParent } from './context';
import { GroupNode, type GroupResult, type ResultNode } from './results';
import { maybeSignature, Signature, type AnySignature, type CanvasApp, type FreezeOptions, type WireOptions } from './signature';
import { Chain } from './chain';
import { Chord } from './chord';
import { chordSupport } from './join';

type Prepared = [Signature, ResultNode, string];

export class Group<R = unknown> extends Signature<R[], GroupResult<R>> {
  constructor(app: CanvasApp, tasks: Array<AnySignature | SignatureDict>, options: SignatureOptions = {}) {
    super(app, 'celery.group', [], { tasks: tasks.map((t) => maybeSignature(app, t) as AnySignature) }, options, false, 'group');
  }

  static fromSignatureDict(app: CanvasApp, d: SignatureDict): Group {
    const tasks = ((d.kwargs ?? {}).tasks ?? []) as SignatureDict[];
    return new Group(app, tasks, { ...(d.options ?? {}) });
  }

  get tasks(): AnySignature[] {
    return this.kwargs.tasks as AnySignature[];
  }

  set tasks(tasks: AnySignature[]) {
    this.kwargs.tasks = tasks;
  }

  get size(): number {
    return this.tasks.length;
  }

  override async applyNode(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): Promise<ResultNode> {
    const { add_to_parent: addToParent, link, link_error: linkError, producer: _producer, ...rest } = options;
    if (link !== undefined && link !== null) throw new TypeError('Cannot add link to group: use a chord');
    if (linkError !== undefined && linkError !== null) throw new TypeError('Cannot add link to group: do that on individual tasks');
    if (this.tasks.length === 0) return this.freeze();
    const [opts, groupId, rootId] = this.freezeGid(rest);
    const prepared = [...this.prepared(this.tasks, [], groupId, rootId)];
    const results = await this.applyTasks(prepared, args, kwargs, opts);
    let result: ResultNode = new GroupNode(groupId, results);
    // group(A.s() | group(B.s(), C.s())): the inner group's result stands for the whole.
    if (results.length === 1 && results[0].kind === 'group') result = results[0];
    const parent = currentParent();
    if (addToParent !== false && parent) parent.children.push(result);
    return result;
  }

  /** The group id comes from task_id (so members do not all get that id). */
  private freezeGid(options: WireOptions): [WireOptions, string, string | null] {
    const opts: WireOptions = { ...this.options, ...options };
    const groupId = typeof opts.task_id === 'string' ? opts.task_id : randomUUID();
    delete opts.task_id;
    opts.group_id = groupId;
    return [opts, groupId, typeof opts.root_id === 'string' ? opts.root_id : null];
  }

  /** Clone and freeze each member (nested groups are unrolled into this one). */
  *prepared(tasks: AnySignature[], partialArgs: unknown[], groupId: string, rootId: string | null): Generator<Prepared> {
    for (const t of tasks) {
      const task = (maybeSignature(this.app, t) as AnySignature).clone();
      if (task instanceof Group) {
        yield* task.prepared(task.tasks, partialArgs, groupId, rootId);
      } else {
        if (partialArgs.length && !task.immutable) task.args = [...partialArgs, ...task.args];
        yield [task, task.freeze({ groupId, rootId }), groupId];
      }
    }
  }

  /** Send the members; the last one also sets the chord size (`.s`) when they belong to a chord. */
  async applyTasks(tasks: Prepared[], args: readonly unknown[], kwargs: Record<string, unknown>, options: WireOptions): Promise<ResultNode[]> {
    const { chord, ...rest } = options;
    const results: ResultNode[] = [];
    let chordSize = 0;
    for (let i = 0; i < tasks.length; i++) {
      const [sig, res, groupId] = tasks[i];
      const chordObj = chord ?? sig.options.chord ?? null;
      chordSize += descend(this.app, sig);
      if (chordObj && i === tasks.length - 1) await chordSupport(this.app).setChordSize(groupId, chordSize);
      await sig.applyNode(args, kwargs, { ...rest, add_to_parent: false, chord: chordObj });
      results.push(res);
    }
    return results;
  }

  override freeze(o: FreezeOptions = {}): ResultNode {
    const [gid, results] = this.freezeGroupTasks(o);
    return new GroupNode(gid, results);
  }

  /** Celery's _freeze_group_tasks: ids for the group and every member, each with its group_index and chord. */
  freezeGroupTasks(o: FreezeOptions): [string, ResultNode[]] {
    const opts = this.options;
    const gid = (opts.task_id ??= o.groupId ?? randomUUID());
    if (o.groupId) opts.group_id = o.groupId;
    if (o.chord) opts.chord = o.chord instanceof Signature ? o.chord.toDict() : o.chord;
    if (o.groupIndex !== undefined && o.groupIndex !== null) opts.group_index = o.groupIndex;
    // Python's setdefault: an absent key is set, even to None (Python writes "root_id": null).
    if (!('root_id' in opts)) opts.root_id = o.rootId ?? (null as unknown as string);
    if (!('parent_id' in opts)) opts.parent_id = o.parentId ?? (null as unknown as string);
    const rootId = opts.root_id ?? null;
    const parentId = opts.parent_id ?? null;
    const newTasks: AnySignature[] = [];
    const results: ResultNode[] = [];
    const stack: AnySignature[] = [...this.tasks];
    let groupIndex = 0;
    while (stack.length > 0) {
      const task = (maybeSignature(this.app, stack.shift()) as AnySignature).clone();
      if (task instanceof Group) {
        // deque.extendleft: the nested group's members go first, in reverse order (as Python does).
        stack.unshift(...[...task.tasks].reverse());
      } else {
        newTasks.push(task);
        results.push(task.freeze({ groupId: o.groupId, chord: o.chord, rootId, parentId, groupIndex }));
        groupIndex++;
      }
    }
    this.tasks = newTasks;
    return [gid, results];
  }

  /** The callback runs after the first member only (immutable), as Celery's group.link. */
  override link(callback: AnySignature | SignatureDict): this {
    const sig = (maybeSignature(this.app, callback) as AnySignature).clone();
    sig.setImmutable(true);
    this.tasks[0]?.link(sig);
    return this;
  }

  /** Every member gets the errback. */
  override linkError(errback: AnySignature | SignatureDict): this {
    for (const t of this.tasks) t.linkError(errback);
    return this;
  }

  override setImmutable(immutable: boolean): void {
    for (const t of this.tasks) t.setImmutable(immutable);
  }
}

/** How many completions a signature contributes to a chord (Celery's chord._descend). */
export function descend(app: CanvasApp, s: AnySignature | SignatureDict): number {
  const sig = maybeSignature(app, s) as AnySignature;
  if (sig instanceof Group) return sig.tasks.reduce((n, t) => n + descend(app, t), 0);
  if (sig instanceof Chain) {
    for (const child of [...sig.tasks].reverse()) {
      const size = descend(app, child);
      if (size > 0) return size;
    }
    return 0;
  }
  if (sig instanceof Chord) return descend(app, sig.body);
  return 1;
}

/** A group of one is that one signature (Celery's maybe_unroll_group). */
export function maybeUnrollGroup(sig: AnySignature): AnySignature {
  return sig instanceof Group && sig.tasks.length === 1 ? (maybeSignature(sig.app, sig.tasks[0]) as AnySignature) : sig;
}

Signature.TYPES.set('group', (app, d) => Group.fromSignatureDict(app, d));
