// Signatures: a task call that can be passed around, serialised exactly as Celery's signature dict, and applied.
// Canvas primitives (chain, group, chord) build on this.

import type { SignatureDict, SignatureOptions } from '../protocol';
import type { ApplyOptions, SignatureLike } from './task';
import type { AsyncResult } from './result';

/** What a signature needs to send itself. */
export interface SignatureSender {
  applySignature<R>(sig: Signature<R>, args?: unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>>;
}

/** camelCase apply options → Celery's snake_case signature options (unknown keys pass as they are). */
export function toWireOptions(options: ApplyOptions & Record<string, unknown>): SignatureOptions {
  const map: Record<string, string> = {
    taskId: 'task_id', replyTo: 'reply_to', groupId: 'group_id', groupIndex: 'group_index', rootId: 'root_id',
    parentId: 'parent_id', routingKey: 'routing_key', timeLimit: 'time_limit', softTimeLimit: 'soft_time_limit',
    ignoreResult: 'ignore_result', linkError: 'link_error',
  };
  const out: SignatureOptions = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || k === 'immutable') continue;
    const key = map[k] ?? k;
    if (key === 'link' || key === 'link_error') {
      out[key] = toSignatureDicts(v as SignatureLike | SignatureLike[]);
    } else if (v instanceof Date) out[key] = v.toISOString();
    else out[key] = v;
  }
  return out;
}

/** Signatures (objects or dicts) as wire dicts. */
export function toSignatureDicts(v: SignatureLike | SignatureLike[]): SignatureDict[] {
  return (Array.isArray(v) ? v : [v]).map(toSignatureDict);
}

export function toSignatureDict(s: SignatureLike): SignatureDict {
  return s instanceof Signature ? s.toDict() : s;
}

/** Celery's snake_case signature options → camelCase apply options. */
export function fromWireOptions(options: SignatureOptions): ApplyOptions & Record<string, unknown> {
  const map: Record<string, string> = {
    task_id: 'taskId', reply_to: 'replyTo', group_id: 'groupId', group_index: 'groupIndex', root_id: 'rootId',
    parent_id: 'parentId', routing_key: 'routingKey', time_limit: 'timeLimit', soft_time_limit: 'softTimeLimit',
    ignore_result: 'ignoreResult', link_error: 'linkError',
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) out[map[k] ?? k] = v;
  return out;
}

export class Signature<R = unknown> {
  constructor(
    private readonly sender: SignatureSender,
    readonly task: string,
    readonly args: unknown[] = [],
    readonly kwargs: Record<string, unknown> = {},
    readonly options: SignatureOptions = {},
    readonly immutable = false,
    readonly subtaskType: string | null = null,
  ) {}

  /** Rebuild from a dict received on the wire. */
  static fromDict<R = unknown>(sender: SignatureSender, d: SignatureDict): Signature<R> {
    return new Signature<R>(sender, d.task, [...(d.args ?? [])], { ...(d.kwargs ?? {}) }, { ...(d.options ?? {}) }, !!d.immutable, d.subtask_type ?? null);
  }

  /** The dict Celery writes for this signature. */
  toDict(): SignatureDict {
    return { task: this.task, args: this.args, kwargs: this.kwargs, options: this.options, subtask_type: this.subtaskType, immutable: this.immutable };
  }

  toJSON(): SignatureDict {
    return this.toDict();
  }

  /** A copy with arguments added (prepended args unless immutable) and options merged. */
  clone(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: SignatureOptions = {}): Signature<R> {
    return new Signature<R>(
      this.sender,
      this.task,
      this.immutable ? [...this.args] : [...args, ...this.args],
      this.immutable ? { ...this.kwargs } : { ...this.kwargs, ...kwargs },
      { ...this.options, ...options },
      this.immutable,
      this.subtaskType,
    );
  }

  /** Merge apply options (queue, priority, countdown…) into the signature. */
  set(options: ApplyOptions & Record<string, unknown>): this {
    Object.assign(this.options, toWireOptions(options));
    return this;
  }

  /** Add a callback applied with this task's result. */
  link(callback: Signature): this {
    const list = asList(this.options.link);
    list.push(callback.toDict());
    this.options.link = list;
    return this;
  }

  /** Add an errback applied when this task fails. */
  linkError(errback: Signature): this {
    const list = asList(this.options.link_error);
    list.push(errback.toDict());
    this.options.link_error = list;
    return this;
  }

  applyAsync(args?: unknown[], kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>> {
    return this.sender.applySignature<R>(this, args, kwargs, options);
  }

  delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }
}

function asList(v: SignatureDict | SignatureDict[] | undefined): SignatureDict[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? [...v] : [v];
}
