// Celery 5.2 wire format written by hand (no celeriac code): task messages (protocol v2), the kombu Redis envelope
// and the Redis result meta, byte-for-byte as Python writes them (json.dumps spacing). Used by the bare producer and the ceiling.

import { randomUUID } from 'node:crypto';
import * as os from 'node:os';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Python's `json.dumps(v)`: ", " and ": " separators, ASCII only (our values are ASCII). */
export function pyJson(v: JsonValue): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyJson(x)}`).join(', ')}}`;
}

/** Python's repr of a tuple of numbers/strings: `(2, 3)`, `(0.05,)`. */
export function pyTupleRepr(args: readonly JsonValue[]): string {
  const parts = args.map((a) => (typeof a === 'string' ? `'${a}'` : a === null ? 'None' : typeof a === 'boolean' ? (a ? 'True' : 'False') : pyJson(a)));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
}

export const ORIGIN = `gen${process.pid}@${os.hostname()}`;
/** One reply_to per process, as Celery's app.thread_oid. */
export const REPLY_TO = randomUUID();

export interface TaskSpec {
  id: string;
  task: string;
  args: JsonValue[];
}

export function taskHeaders(t: TaskSpec): { [key: string]: JsonValue } {
  return {
    lang: 'py',
    task: t.task,
    id: t.id,
    shadow: null,
    eta: null,
    expires: null,
    group: null,
    group_index: null,
    retries: 0,
    timelimit: [null, null],
    root_id: t.id,
    parent_id: null,
    argsrepr: pyTupleRepr(t.args),
    kwargsrepr: '{}',
    origin: ORIGIN,
    ignore_result: false,
  };
}

/** `[args, kwargs, embed]` as Python serialises it. */
export function taskBody(args: readonly JsonValue[]): string {
  return `[${pyJson([...args])}, {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]`;
}

/** AMQP properties for basic.publish (amqplib names), as Celery 5.2 sets them. */
export interface AmqpPublishProps {
  contentType: string;
  contentEncoding: string;
  correlationId: string;
  replyTo: string;
  deliveryMode: number;
  priority: number;
  headers: { [key: string]: JsonValue };
}

export function amqpProps(t: TaskSpec): AmqpPublishProps {
  return { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: t.id, replyTo: REPLY_TO, deliveryMode: 2, priority: 0, headers: taskHeaders(t) };
}

/** The kombu Redis envelope (the LPUSHed string) for a task sent to `queue` via the default exchange. */
export function redisEnvelope(t: TaskSpec, queue: string): string {
  return pyJson({
    body: Buffer.from(taskBody(t.args), 'utf8').toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: taskHeaders(t),
    properties: {
      correlation_id: t.id,
      reply_to: REPLY_TO,
      delivery_mode: 2,
      delivery_info: { exchange: '', routing_key: queue },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  });
}

/** The member of `_kombu.binding.<queue>` Celery adds when it declares a direct queue of the same name. */
export function redisBindingMember(queue: string): string {
  return `${queue}\x06\x16\x06\x16${queue}`;
}

/** Naive UTC ISO with microseconds, as Celery 5.2's date_done. */
export function naiveUtcIso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000`;
}

export const RESULT_EXPIRES = 86400;
export const resultKey = (id: string): string => `celery-task-meta-${id}`;

/** A SUCCESS meta exactly as the Redis backend writes it. */
export function successMeta(id: string, result: JsonValue): string {
  return `{"status": "SUCCESS", "result": ${pyJson(result)}, "traceback": null, "children": [], "date_done": "${naiveUtcIso(Date.now())}", "task_id": "${id}"}`;
}

/** A FAILURE meta (used by the ceiling for an unknown task name, so the harness sees it rather than hanging). */
export function failureMeta(id: string, excType: string, message: string): string {
  return `{"status": "FAILURE", "result": {"exc_type": ${JSON.stringify(excType)}, "exc_message": [${JSON.stringify(message)}], "exc_module": "builtins"}, "traceback": null, "children": [], "date_done": "${naiveUtcIso(Date.now())}", "task_id": "${id}"}`;
}

/** The tasks each workload sends, with the value a correct worker returns. */
export interface TaskKind {
  task: string;
  args: (i: number) => JsonValue[];
  expect: (i: number) => JsonValue;
}

export const ADD: TaskKind = { task: 'tasks.add', args: (i) => [i, 1], expect: (i) => i + 1 };
export const sleepTask = (seconds: number): TaskKind => ({ task: 'tasks.sleep', args: () => [seconds], expect: () => seconds });
export const burnTask = (ms: number): TaskKind => ({ task: 'tasks.burn', args: () => [ms], expect: () => ms });

export function makeTasks(kind: TaskKind, n: number, offset = 0): TaskSpec[] {
  const out: TaskSpec[] = [];
  for (let i = 0; i < n; i++) out.push({ id: randomUUID(), task: kind.task, args: kind.args(i + offset) });
  return out;
}
