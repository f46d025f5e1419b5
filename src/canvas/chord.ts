// chord: a header group whose results, in order, are passed to a body once all have finished. As Celery's
// canvas._chord: the body's id is frozen first, every header task carries the body in `chord` with its
// group_index, and the chord size is stored (`celery-taskset-meta-<gid>.s`) before the header is published.

import { randomUUID } from 'node:crypto';
import type { SignatureDict, SignatureOptions } from '../../protocol';
import { GroupNode, type CanvasResult, type ResultNode } from './results';
import { maybeSignature, Signature, type AnySignature, type CanvasApp, type FreezeOptions, type WireOptions } from './signature';
import { Group } from './group';
import { Chain } from './chain';
import { chordSupport } from './join';

export type HeaderLike = Group | Chain | AnySignature | SignatureDict | Array<AnySignature | SignatureDict>;

export class Chord<R = unknown> extends Signature<R, CanvasResult<R>> {
  constructor(
    app: CanvasApp,
    header: HeaderLike,
    body: AnySignature | SignatureDict | null,
    options: SignatureOptions = {},
    kwargs: Record<string, unknown> = {},
    args: unknown[] = [],
    task = 'celery.chord',
    immutable = false,
  ) {
    const kw = Object.keys(kwargs).length ? kwargs : { kwargs: {} };
    super(app, task, args, { ...kw, header: maybeGroup(app, header), body: maybeSignature(app, body) }, options, immutable, 'chord');
  }

  static fromSignatureDict(app: CanvasApp, d: SignatureDict): Chord {
    const { header, body, ...rest } = (d.kwargs ?? {}) as { header?: HeaderLike; body?: SignatureDict } & Record<string, unknown>;
    return new Chord(app, header ?? [], body ?? null, { ...(d.options ?? {}) }, rest, [...(d.args ?? [])], d.task, !!d.immutable);
  }

  /** The header: a list of signatures, or a group once frozen. */
  get tasks(): Group | AnySignature[] {
    return this.kwargs.header as Group | AnySignature[];
  }

  set tasks(v: Group | AnySignature[]) {
    this.kwargs.header = v;
  }

  get body(): AnySignature {
    return this.kwargs.body as AnySignature;
  }

  set body(v: AnySignature) {
    this.kwargs.body = v;
  }

  private headerGroup(): Group {
    const t = this.tasks;
    return t instanceof Group ? t : new Group(this.app, t);
  }

  override freeze(o: FreezeOptions = {}): ResultNode {
    if (!(this.tasks instanceof Group)) this.tasks = new Group(this.app, this.tasks);
    const header = this.tasks as Group;
    const headerResult = header.freeze({ parentId: o.parentId, rootId: o.rootId, chord: this.body });
    const bodyResult = this.body.freeze({ id: o.id, rootId: o.rootId, chord: o.chord, groupId: o.groupId, groupIndex: o.groupIndex });
    // The body may be a chain: hang the header's result on its first step.
    const seen = new Set<string>();
    let node: ResultNode | null = bodyResult;
    while (node) {
      if (seen.has(node.id)) throw new Error('Recursive result parents');
      seen.add(node.id);
      if (!node.parent) {
        node.parent = headerResult;
        break;
      }
      node = node.parent;
    }
    this.options.task_id = header.options.task_id;
    return bodyResult;
  }

  override async applyNode(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): Promise<ResultNode> {
    const { task_id: taskId, producer: _p, publisher: _pu, connection: _c, router: _r, result_cls: _rc, ...opts } = options;
    const partial = args.length && !this.immutable ? [...args, ...this.args] : this.args;
    const { body: bodyArg, ..._kw } = kwargs;
    const body = (maybeSignature(this.app, bodyArg ?? this.body) as AnySignature).clone([], {}, opts);
    const header = this.tasks instanceof Group ? this.tasks.clone() : new Group(this.app, this.tasks);
    const merged: WireOptions = { ...this.options, ...opts };
    const optionTaskId = merged.task_id;
    delete merged.task_id;
    const id = typeof taskId === 'string' ? taskId : typeof optionTaskId === 'string' ? optionTaskId : null;
    return this.run(header, body, partial, id, merged);
  }

  /** Celery's chord.run: freeze the body, freeze the header with the body as its chord, store the size, send the header. */
  async run(header: Group, body: AnySignature, partialArgs: readonly unknown[], taskId: string | null, options: WireOptions): Promise<ResultNode> {
    const { app: _a, interval: _i, countdown: _cd, max_retries: _m, eager: _e, ...rest } = options;
    const groupId = header.options.task_id ?? randomUUID();
    const rootId = typeof body.options.root_id === 'string' ? body.options.root_id : null;
    const opts: WireOptions = { ...this.options, ...rest };
    delete opts.task_id;
    Object.assign(body.options, opts);
    const bodyRes = body.freeze({ id: taskId, rootId });
    // The header gets neither the chain that follows nor an outer chord.
    delete opts.chain;
    delete opts.chord;
    const [gid, results] = header.freezeGroupTasks({ groupId, chord: body, rootId });
    let headerResult: ResultNode;
    const support = chordSupport(this.app);
    if (header.tasks.length > 0) {
      await support.applyChord(gid, results);
      headerResult = await header.applyNode(partialArgs, {}, { ...opts, task_id: groupId });
    } else {
      // An empty header never completes: the body runs now with no results.
      await body.applyNode([[]]);
      headerResult = new GroupNode(gid, results);
    }
    bodyRes.parent = headerResult;
    return bodyRes;
  }

  override clone(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): this {
    const c = super.clone(args, kwargs, options);
    if (c.kwargs.body) c.kwargs.body = (maybeSignature(this.app, c.kwargs.body) as AnySignature).clone();
    return c;
  }

  override link(callback: AnySignature | SignatureDict): this {
    this.body.link(callback);
    return this;
  }

  override linkError(errback: AnySignature | SignatureDict): this {
    this.body.linkError(errback);
    return this;
  }

  override setImmutable(immutable: boolean): void {
    for (const t of this.headerGroup().tasks) t.setImmutable(immutable);
  }
}

/** Celery's _maybe_group: the header as a list of signatures (a group's or chain's own options are not kept). */
function maybeGroup(app: CanvasApp, header: HeaderLike): AnySignature[] {
  if (Array.isArray(header)) return header.map((t) => (t instanceof Signature ? t.clone() : (maybeSignature(app, t) as AnySignature)));
  const sig = header instanceof Signature ? header.clone() : (maybeSignature(app, header) as AnySignature);
  if (sig instanceof Group || sig instanceof Chain) return sig.tasks;
  return [sig];
}

Signature.TYPES.set('chord', (app, d) => Chord.fromSignatureDict(app, d));
