// Result meta as the Redis and RPC backends store it (celery-task-meta-<id>), task states, and group result tuples.
// Pure; no I/O.

import { parseJson, stringifyJson } from './json';
import { DecodeError } from './errors';

export type TaskState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'REVOKED' | 'REJECTED' | 'RETRY' | 'IGNORED' | (string & {});

export const READY_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
export const EXCEPTION_STATES: ReadonlySet<string> = new Set(['RETRY', 'FAILURE', 'REVOKED']);
export const PROPAGATE_STATES: ReadonlySet<string> = new Set(['FAILURE', 'REVOKED']);

/** A result reference as Celery serialises it: `[[id, parent], null]` or, for a group, `[[gid, null], [children…]]`. */
export type ResultTuple = [[string, ResultTuple | string | null], ResultTuple[] | null];

/** Fields written with `result_extended`. */
export interface ExtendedFields {
  name: string | null;
  args: unknown[] | null;
  kwargs: Record<string, unknown> | null;
  worker: string | null;
  retries: number;
  queue: string | null;
}

/** The stored meta of one task. */
export interface ResultMeta {
  status: TaskState;
  result: unknown;
  traceback: string | null;
  children: ResultTuple[];
  date_done: string | null;
  group_id?: string | null;
  parent_id?: string | null;
  task_id: string;
  extended?: ExtendedFields;
}

/** Serialise meta with Celery 5.2's field order: status, result, traceback, children, date_done, [group_id], [parent_id], [extended], task_id. */
export function encodeResultMeta(meta: ResultMeta): string {
  // Built as text rather than through an intermediate object: this runs once per task on the hot path.
  let out = `{"status":${JSON.stringify(meta.status)},"result":${stringifyJson(meta.result ?? null)},"traceback":${meta.traceback === null ? 'null' : JSON.stringify(meta.traceback)},"children":${meta.children.length === 0 ? '[]' : stringifyJson(meta.children)},"date_done":${meta.date_done === null ? 'null' : JSON.stringify(meta.date_done)}`;
  if (meta.group_id) out += `,"group_id":${JSON.stringify(meta.group_id)}`;
  if (meta.parent_id) out += `,"parent_id":${JSON.stringify(meta.parent_id)}`;
  const x = meta.extended;
  if (x) {
    out += `,"name":${stringifyJson(x.name)},"args":${stringifyJson(x.args)},"kwargs":${stringifyJson(x.kwargs)},"worker":${stringifyJson(x.worker)},"retries":${stringifyJson(x.retries)},"queue":${stringifyJson(x.queue)}`;
  }
  return `${out},"task_id":${JSON.stringify(meta.task_id)}}`;
}

/** Parse stored meta; accepts both the naive (5.2) and aware (5.5+) `date_done`. */
export function decodeResultMeta(text: string | Buffer): ResultMeta {
  const v = parseJson(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError('result meta is not a JSON object');
  const m = v as Record<string, unknown>;
  if (typeof m.status !== 'string') throw new DecodeError('result meta has no "status"');
  return {
    status: m.status,
    result: m.result ?? null,
    traceback: typeof m.traceback === 'string' ? m.traceback : null,
    children: Array.isArray(m.children) ? (m.children as ResultTuple[]) : [],
    date_done: typeof m.date_done === 'string' ? m.date_done : null,
    group_id: typeof m.group_id === 'string' ? m.group_id : null,
    parent_id: typeof m.parent_id === 'string' ? m.parent_id : null,
    task_id: typeof m.task_id === 'string' ? m.task_id : '',
  };
}

/** The tuple for one task result, as stored in `children`. */
export function resultTuple(id: string, parent: string | null = null): ResultTuple {
  return [[id, parent], null];
}

/** The tuple for a group result. */
export function groupResultTuple(groupId: string, children: ResultTuple[]): ResultTuple {
  return [[groupId, null], children];
}
