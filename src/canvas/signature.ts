// Signature: a task call that can be passed around, serialised exactly as Celery's signature dict, merged, frozen
// (ids assigned before sending) and applied. The canvas types (chain, group, chord, chunks, map) extend it.

import { randomUUID } from 'node:crypto';
import type { SignatureDict, SignatureOptions } from '../../protocol';
import type { ResultBackend } from '../backends/backend';
import type { CelerySettings } from '../config';
import type { Logger } from '../log';
import type { AsyncResult } from '../result';
import type { ApplyOptions, Task } from '../task';
import { currentParent, outsideParent } from './context';
import { resultFor, TaskNode, type ResultNode } from './results';
import { fromWireOptions, toWireOptions } from './options';

/** What canvases need from the app (the Celery class provides it). */
export interface CanvasApp {
  readonly oid: string;
  readonly conf: CelerySettings;
  readonly backend: ResultBackend;
  readonly tasks: Map<string, Task<never[], unknown>>;
  logger: Logger;
  connect(): Promise<void>;
  sendTask<R = unknown>(name: string, args?: readonly unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>>;
}

/** Any signature, whatever its result types (a chain, a group, a plain task). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySignature = Signature<any, any>;

/** Kept for compatibility: what a signature needs to send itself. */
export type SignatureSender = CanvasApp;

/** Snake_case options as on the wire; nested signatures may be dicts or Signature objects. */
export type WireOptions = Record<string, unknown>;

/** Where a frozen signature sits in its canvas (Celery's freeze() arguments). */
export interface FreezeOptions {
  id?: string | null;
  groupId?: string | null;
  chord?: AnySignature | SignatureDict | null;
  rootId?: string | null;
  parentId?: string | null;
  groupIndex?: number | null;
}

type Factory = (app: CanvasApp, d: SignatureDict) => AnySignature;

/** Options a merge never overrides once set (a member's group must not change under it). */
const IMMUTABLE_OPTIONS = new Set(['group_id']);

const DICT_KEYS = new Set(['task', 'args', 'kwargs', 'options', 'subtask_type', 'immutable']);

export class Signature<R = unknown, Res = AsyncResult<R>> {
  /** subtask_type → the class that reads such a dict (Celery's Signature.TYPES). */
  static readonly TYPES = new Map<string, Factory>();
  /** Keys of the dict this class does not know (e.g. chord_size), written back unchanged. */
  extra: Record<string, unknown> = {};

  constructor(
    readonly app: CanvasApp,
    public task: string,
    public args: unknown[] = [],
    public kwargs: Record<string, unknown> = {},
    public options: SignatureOptions = {},
    public immutable = false,
    public subtaskType: string | null = null,
  ) {}

  /** Rebuild from a dict received on the wire: a chain/group/chord/chunks/map dict becomes that type. */
  static fromDict<R = unknown>(app: CanvasApp, d: SignatureDict): Signature<R> {
    const typ = d.subtask_type;
    const factory = typ ? Signature.TYPES.get(typ) : undefined;
    if (factory) return factory(app, d) as Signature<R>;
    const sig = new Signature<R>(app, d.task, [...(d.args ?? [])], { ...(d.kwargs ?? {}) }, { ...(d.options ?? {}) }, !!d.immutable, typ ?? null);
    for (const [k, v] of Object.entries(d)) if (!DICT_KEYS.has(k)) sig.extra[k] = v;
    return sig;
  }

  get id(): string | undefined {
    return this.options.task_id;
  }

  /** The dict Celery writes for this signature (same keys, same order). */
  toDict(): SignatureDict {
    return { task: this.task, args: this.args, kwargs: this.kwargs, options: this.options, subtask_type: this.subtaskType, immutable: this.immutable, ...this.extra };
  }

  toJSON(): SignatureDict {
    return this.toDict();
  }

  /** Celery's `_merge`: prepend args, merge kwargs (unless immutable), merge options (group_id never overridden). */
  merge(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options?: WireOptions, force = false): [unknown[], Record<string, unknown>, SignatureOptions] {
    let newOptions = this.options;
    if (options !== undefined) {
      newOptions = { ...this.options };
      for (const [k, v] of Object.entries(options)) if (!(IMMUTABLE_OPTIONS.has(k) && k in this.options)) newOptions[k] = v;
    }
    if (this.immutable && !force) return [this.args, this.kwargs, newOptions];
    return [args.length ? [...args, ...this.args] : this.args, Object.keys(kwargs).length ? { ...this.kwargs, ...kwargs } : this.kwargs, newOptions];
  }

  /** A copy with arguments added (prepended args unless immutable) and options merged; options are deep-copied. */
  clone(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): this {
    const [a, k, o] = args.length || Object.keys(kwargs).length || Object.keys(options).length ? this.merge(args, kwargs, options) : [this.args, this.kwargs, this.options];
    const d: SignatureDict = { ...this.extra, task: this.task, args: [...a], kwargs: { ...k }, options: deepCopy(o) as SignatureOptions, subtask_type: this.subtaskType, immutable: this.immutable };
    return Signature.fromDict(this.app, d) as this;
  }

  /** Merge apply options (camelCase or Celery's snake_case: queue, priority, countdown, task_id…) into the signature. */
  set(options: ApplyOptions & Record<string, unknown>): this {
    const { immutable, ...rest } = options;
    if (typeof immutable === 'boolean') this.setImmutable(immutable);
    Object.assign(this.options, toWireOptions(rest));
    return this;
  }

  setImmutable(immutable: boolean): void {
    this.immutable = immutable;
  }

  private listOption(key: 'link' | 'link_error'): unknown[] {
    const v = this.options[key];
    const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
    this.options[key] = list as SignatureDict[];
    return list;
  }

  /** Add a callback applied with this task's result. */
  link(callback: AnySignature | SignatureDict): this {
    this.listOption('link').push(callback instanceof Signature ? callback.toDict() : callback);
    return this;
  }

  /** Add an errback applied when this task fails: `(request, exc, traceback)` tasks run inline, others get the task id. */
  linkError(errback: AnySignature | SignatureDict): this {
    this.listOption('link_error').push(errback instanceof Signature ? errback.toDict() : errback);
    return this;
  }

  /** Alias of linkError (Celery's on_error, which returns the signature). */
  onError(errback: AnySignature | SignatureDict): this {
    return this.linkError(errback);
  }

  /** Assign the task id (and group, chord, root…) now, as Celery's freeze(); returns the result node. */
  freeze(o: FreezeOptions = {}): ResultNode {
    const opts = this.options;
    const tid = (opts.task_id ??= o.id ?? randomUUID());
    if (o.rootId) opts.root_id = o.rootId;
    if (o.parentId) opts.parent_id = o.parentId;
    if (!('reply_to' in opts)) opts.reply_to = this.app.oid;
    if (o.groupId && !('group_id' in opts)) opts.group_id = o.groupId;
    if (o.chord) opts.chord = o.chord instanceof Signature ? o.chord.toDict() : o.chord;
    if (o.groupIndex !== undefined && o.groupIndex !== null) opts.group_index = o.groupIndex;
    return new TaskNode(tid);
  }

  /** Apply with wire options (Celery's apply_async(args, kwargs, **options)); returns the result node. */
  async applyNode(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): Promise<ResultNode> {
    const opts = dropNullish(options);
    const [a, k, o] = args.length || Object.keys(kwargs).length || Object.keys(opts).length ? this.merge(args, kwargs, opts) : [this.args, this.kwargs, this.options];
    return sendTaskNode(this.app, this.task, a, k, o);
  }

  /** Send it: `(args, kwargs, options)` are merged as Celery does (args prepended unless immutable). */
  async applyAsync(args?: readonly unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions & Record<string, unknown>): Promise<Res> {
    const node = await this.applyNode(args ?? [], kwargs ?? {}, toWireOptions(options ?? {}));
    return resultFor(this.app, node) as unknown as Res;
  }

  delay(...args: unknown[]): Promise<Res> {
    return this.applyAsync(args);
  }
}

/** A signature object for a dict (or the object itself). */
export function maybeSignature(app: CanvasApp, v: unknown): AnySignature | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Signature) return v;
  if (typeof v === 'object' && typeof (v as { task?: unknown }).task === 'string') return Signature.fromDict(app, v as SignatureDict);
  throw new TypeError(`not a signature: ${JSON.stringify(v)}`);
}

/** Celery's send_task from a canvas: parent/root from the running task, the task's own defaults, trail recorded. */
export async function sendTaskNode(app: CanvasApp, name: string, args: readonly unknown[], kwargs: Record<string, unknown>, options: WireOptions): Promise<TaskNode> {
  const opts = dropNullish(options);
  const addToParent = opts.add_to_parent !== false;
  delete opts.add_to_parent;
  const parent = currentParent();
  if (parent) {
    opts.root_id ??= parent.rootId ?? parent.id;
    opts.parent_id ??= parent.id;
  }
  const task = app.tasks.get(name);
  if (task) {
    if (task.options.queue !== undefined) opts.queue ??= task.options.queue;
    if (task.options.priority !== undefined) opts.priority ??= task.options.priority;
    if (task.options.ignoreResult) opts.ignore_result ??= true;
  }
  const result = await outsideParent(() => app.sendTask(name, args, kwargs, fromWireOptions(opts)));
  const node = new TaskNode(result.id);
  if (addToParent && parent) parent.children.push(node);
  return node;
}

export function dropNullish(options: WireOptions): WireOptions {
  const out: WireOptions = {};
  for (const [k, v] of Object.entries(options)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** Python's deepcopy of options: plain containers copied, nested signatures become (copied) dicts. */
export function deepCopy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(deepCopy);
  if (v instanceof Signature) return deepCopy(v.toDict());
  if (v !== null && typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) out[k] = deepCopy(item);
    return out;
  }
  return v;
}
