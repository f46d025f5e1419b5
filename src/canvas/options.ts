// Apply options both ways: camelCase (Node's ApplyOptions) ↔ Celery's snake_case signature options, and signature
// objects ↔ wire dicts.

import type { SignatureDict, SignatureOptions } from '../../protocol';
import type { ApplyOptions, SignatureLike } from '../task';
import { Signature } from './signature';

const TO_WIRE: Record<string, string> = {
  taskId: 'task_id', replyTo: 'reply_to', groupId: 'group_id', groupIndex: 'group_index', rootId: 'root_id',
  parentId: 'parent_id', routingKey: 'routing_key', timeLimit: 'time_limit', softTimeLimit: 'soft_time_limit',
  ignoreResult: 'ignore_result', linkError: 'link_error', addToParent: 'add_to_parent',
};

const FROM_WIRE: Record<string, string> = Object.fromEntries(Object.entries(TO_WIRE).map(([k, v]) => [v, k]));

/** camelCase apply options → Celery's snake_case signature options (unknown keys pass as they are). */
export function toWireOptions(options: ApplyOptions & Record<string, unknown>): SignatureOptions {
  const out: SignatureOptions = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || k === 'immutable') continue;
    const key = TO_WIRE[k] ?? k;
    if (key === 'link' || key === 'link_error') {
      out[key] = toSignatureDicts(v as SignatureLike | SignatureLike[]);
    } else if (v instanceof Date) out[key] = v.toISOString();
    else out[key] = v;
  }
  return out;
}

/** Celery's snake_case signature options → camelCase apply options. */
export function fromWireOptions(options: SignatureOptions | Record<string, unknown>): ApplyOptions & Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) out[FROM_WIRE[k] ?? k] = v;
  return out;
}

/** Signatures (objects or dicts) as wire dicts. */
export function toSignatureDicts(v: SignatureLike | SignatureLike[]): SignatureDict[] {
  return (Array.isArray(v) ? v : [v]).map(toSignatureDict);
}

export function toSignatureDict(s: SignatureLike): SignatureDict {
  return s instanceof Signature ? s.toDict() : s;
}
