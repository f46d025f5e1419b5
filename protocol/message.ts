// Task messages: decode protocol v2 and v1, encode v2 exactly as Celery 5 does (headers, properties, body).
// Pure; brokers carry the resulting WireMessage, the worker consumes the TaskRequestData.

import { ownString, parseJson, stringifyJson } from './json';
import { decompress } from './compression';
import { ContentDisallowed, DecodeError, InvalidTaskMessage } from './errors';
import { pyArgsRepr, pyKwargsRepr } from './repr';
import type { SignatureDict } from './signature';

/** A message as every broker carries it: AMQP properties and headers, and the raw (possibly compressed) body. */
export interface WireMessage {
  body: Buffer;
  contentType?: string;
  contentEncoding?: string;
  headers: Record<string, unknown>;
  properties: WireProperties;
}

export interface WireProperties {
  correlationId?: string;
  replyTo?: string;
  deliveryMode?: number;
  priority?: number;
  /** Per-message TTL in milliseconds, as a string (AMQP `expiration`). */
  expiration?: string;
}

/** The embedded canvas part of a v2 body. */
export interface MessageEmbed {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}

/** Everything a worker needs from one task message, whatever its protocol version. */
export interface TaskRequestData {
  protocol: 1 | 2;
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: MessageEmbed;
  shadow: string | null;
  eta: string | null;
  expires: string | null;
  group: string | null;
  groupIndex: number | null;
  retries: number;
  /** [hard, soft] in seconds. */
  timelimit: [number | null, number | null];
  rootId: string | null;
  parentId: string | null;
  argsrepr: string | null;
  kwargsrepr: string | null;
  origin: string | null;
  ignoreResult: boolean;
  replyTo: string | null;
  correlationId: string | null;
  /** All application headers as received (custom headers included), for re-sends and `request.headers`. */
  headers: Record<string, unknown>;
}

export const JSON_CONTENT_TYPE = 'application/json';
/** kombu always trusts these, whatever accept_content says. */
const ALWAYS_TRUSTED = new Set(['application/data', 'application/text']);
const CONTENT_NAMES: Record<string, string> = {
  'application/json': 'json',
  'application/x-python-serialize': 'pickle',
  'application/x-yaml': 'yaml',
  'application/x-msgpack': 'msgpack',
};

/** Check the content type against accept_content (exact match, as kombu) before anything is deserialised. */
export function checkContentType(contentType: string | undefined, accept: ReadonlySet<string>): void {
  const ct = contentType ?? 'application/data';
  if (ALWAYS_TRUSTED.has(ct) || accept.has(ct) || accept.has(CONTENT_NAMES[ct] ?? '')) return;
  const name = CONTENT_NAMES[ct] ?? ct;
  throw new ContentDisallowed(`Refusing to deserialize untrusted content of type ${name} (${ct})`);
}

/** Decompress (per the `compression` header) and parse the JSON body of a message. */
export function decodeBody(msg: WireMessage): unknown {
  const compression = msg.headers.compression;
  let raw: Buffer = msg.body;
  if (compression !== undefined && compression !== null) {
    raw = decompress(String(compression), raw);
  }
  if (msg.contentType !== undefined && msg.contentType !== JSON_CONTENT_TYPE) {
    // application/data or application/text: only JSON task bodies can be executed.
    throw new DecodeError(`cannot execute a task body of content type ${msg.contentType}`);
  }
  try {
    return parseJson(raw);
  } catch (err) {
    throw new DecodeError(`body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Decode a task message of protocol v2 or v1 (v1 is converted as Celery's worker does). */
export function decodeTaskMessage(msg: WireMessage, accept: ReadonlySet<string>): TaskRequestData {
  const headers = msg.headers;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new InvalidTaskMessage('message headers are not a mapping');
  }
  checkContentType(msg.contentType, accept);
  const body = decodeBody(msg);
  if (typeof headers.task === 'string') return fromV2(headers, body, msg);
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { task?: unknown }).task === 'string') {
    return fromV1(body as Record<string, unknown>, msg);
  }
  if (headers.task !== undefined) throw new InvalidTaskMessage(`header "task" must be a string, got ${typeof headers.task}`);
  throw new InvalidTaskMessage('neither a protocol 2 message (no "task" header) nor a protocol 1 body (no "task" field)');
}

function fromV2(h: Record<string, unknown>, body: unknown, msg: WireMessage): TaskRequestData {
  if (typeof h.id !== 'string' || h.id === '') throw new InvalidTaskMessage('header "id" is missing or not a string');
  if (!Array.isArray(body) || body.length !== 3) {
    throw new DecodeError('protocol 2 body must be a JSON array [args, kwargs, embed]');
  }
  const [args, kwargs, embed] = body as [unknown, unknown, unknown];
  if (!Array.isArray(args)) throw new DecodeError('protocol 2 body: args must be an array');
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
    throw new DecodeError('protocol 2 body: kwargs must be an object');
  }
  return {
    protocol: 2,
    id: ownString(h.id),
    task: ownString(h.task as string),
    args,
    kwargs: kwargs as Record<string, unknown>,
    embed: readEmbed(embed),
    shadow: optString(h.shadow, 'shadow'),
    eta: optString(h.eta, 'eta'),
    expires: optString(h.expires, 'expires'),
    group: optString(h.group, 'group'),
    groupIndex: optInt(h.group_index, 'group_index'),
    retries: optInt(h.retries, 'retries') ?? 0,
    timelimit: readTimelimit(h.timelimit),
    rootId: optString(h.root_id, 'root_id'),
    parentId: optString(h.parent_id, 'parent_id'),
    argsrepr: optString(h.argsrepr, 'argsrepr'),
    kwargsrepr: optString(h.kwargsrepr, 'kwargsrepr'),
    origin: optString(h.origin, 'origin'),
    ignoreResult: h.ignore_result === true,
    replyTo: msg.properties.replyTo ?? null,
    correlationId: msg.properties.correlationId ?? null,
    headers: h,
  };
}

function fromV1(b: Record<string, unknown>, msg: WireMessage): TaskRequestData {
  if (typeof b.id !== 'string' || b.id === '') throw new InvalidTaskMessage('protocol 1 body: "id" is missing or not a string');
  const args = b.args ?? [];
  const kwargs = b.kwargs ?? {};
  if (!Array.isArray(args)) throw new DecodeError('protocol 1 body: args must be an array');
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new DecodeError('protocol 1 body: kwargs must be an object');
  // `utc: false` marks naive times in the app's timezone, which is UTC here (enable_utc): read as UTC either way.
  const { args: _args, kwargs: _kwargs, ...fields } = b;
  return {
    protocol: 1,
    id: ownString(b.id),
    task: ownString(b.task as string),
    args,
    kwargs: kwargs as Record<string, unknown>,
    embed: readEmbed({ callbacks: b.callbacks ?? null, errbacks: b.errbacks ?? null, chain: null, chord: b.chord ?? null }),
    shadow: null,
    eta: optString(b.eta, 'eta'),
    expires: optString(b.expires, 'expires'),
    group: optString(b.group ?? b.taskset, 'group'),
    groupIndex: optInt(b.group_index, 'group_index'),
    retries: optInt(b.retries, 'retries') ?? 0,
    timelimit: readTimelimit(b.timelimit),
    rootId: null,
    parentId: null,
    argsrepr: null,
    kwargsrepr: null,
    origin: null,
    ignoreResult: false,
    replyTo: msg.properties.replyTo ?? null,
    correlationId: msg.properties.correlationId ?? null,
    headers: fields,
  };
}

function readEmbed(embed: unknown): MessageEmbed {
  if (embed === null || embed === undefined) return { callbacks: null, errbacks: null, chain: null, chord: null };
  if (typeof embed !== 'object' || Array.isArray(embed)) throw new DecodeError('protocol 2 body: embed must be an object or null');
  const e = embed as Record<string, unknown>;
  return {
    callbacks: optSigList(e.callbacks, 'callbacks'),
    errbacks: optSigList(e.errbacks, 'errbacks'),
    chain: optSigList(e.chain, 'chain'),
    chord: e.chord === null || e.chord === undefined ? null : asSig(e.chord, 'chord'),
  };
}

function asSig(v: unknown, what: string): SignatureDict {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof (v as { task?: unknown }).task !== 'string') {
    throw new DecodeError(`embed ${what}: not a signature`);
  }
  return v as SignatureDict;
}

function optSigList(v: unknown, what: string): SignatureDict[] | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) throw new DecodeError(`embed ${what}: must be a list`);
  return v.map((s) => asSig(s, what));
}

function optString(v: unknown, name: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  throw new InvalidTaskMessage(`header "${name}" must be a string or null, got ${JSON.stringify(v)}`);
}

function optInt(v: unknown, name: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new InvalidTaskMessage(`header "${name}" must be an integer or null, got ${JSON.stringify(v)}`);
}

function readTimelimit(v: unknown): [number | null, number | null] {
  if (v === null || v === undefined) return [null, null];
  if (!Array.isArray(v) || v.length !== 2) throw new InvalidTaskMessage('header "timelimit" must be [hard, soft]');
  const num = (x: unknown): number | null => {
    if (x === null || x === undefined) return null;
    if (typeof x === 'number' && x >= 0) return x;
    throw new InvalidTaskMessage(`header "timelimit" values must be numbers or null, got ${JSON.stringify(x)}`);
  };
  return [num(v[0]), num(v[1])];
}

/** What a producer decides for one task message. */
export interface TaskMessageSpec {
  id: string;
  task: string;
  args?: readonly unknown[];
  kwargs?: Record<string, unknown>;
  embed?: Partial<MessageEmbed>;
  shadow?: string | null;
  eta?: string | null;
  expires?: string | null;
  /** Milliseconds until expiry, for the AMQP `expiration` property. */
  expirationMs?: number | null;
  group?: string | null;
  groupIndex?: number | null;
  retries?: number;
  timelimit?: [number | null, number | null];
  rootId?: string | null;
  parentId?: string | null;
  argsrepr?: string;
  kwargsrepr?: string;
  origin: string;
  ignoreResult?: boolean;
  replyTo: string;
  priority?: number;
  deliveryMode?: number;
  /** Extra application headers, merged at the top level as Celery's `apply_async(headers=…)`. */
  headers?: Record<string, unknown>;
  /** Write kombu >= 5.3 tagged JSON for dates, decimals, UUIDs and bytes. */
  taggedJson?: boolean;
}

/** Encode a protocol 2 task message with the headers and properties Celery 5 writes, in the same order. */
export function encodeTaskMessage(spec: TaskMessageSpec): WireMessage {
  const args = spec.args ?? [];
  const kwargs = spec.kwargs ?? {};
  const headers: Record<string, unknown> = {
    lang: 'js',
    task: spec.task,
    id: spec.id,
    shadow: spec.shadow ?? null,
    eta: spec.eta ?? null,
    expires: spec.expires ?? null,
    group: spec.group ?? null,
    group_index: spec.groupIndex ?? null,
    retries: spec.retries ?? 0,
    timelimit: spec.timelimit ?? [null, null],
    root_id: spec.rootId ?? spec.id,
    parent_id: spec.parentId ?? null,
    argsrepr: spec.argsrepr ?? pyArgsRepr(args),
    kwargsrepr: spec.kwargsrepr ?? pyKwargsRepr(kwargs),
    origin: spec.origin,
    ignore_result: spec.ignoreResult ?? false,
  };
  if (spec.headers) Object.assign(headers, spec.headers);
  const embed = spec.embed ?? {};
  const body = stringifyJson(
    [args, kwargs, { callbacks: embed.callbacks ?? null, errbacks: embed.errbacks ?? null, chain: embed.chain ?? null, chord: embed.chord ?? null }],
    { tagged: spec.taggedJson },
  );
  const properties: WireProperties = {
    correlationId: spec.id,
    replyTo: spec.replyTo,
    deliveryMode: spec.deliveryMode ?? 2,
    priority: spec.priority ?? 0,
  };
  if (spec.expirationMs !== undefined && spec.expirationMs !== null) {
    properties.expiration = String(Math.max(0, Math.round(spec.expirationMs)));
  }
  return { body: Buffer.from(body, 'utf8'), contentType: JSON_CONTENT_TYPE, contentEncoding: 'utf-8', headers, properties };
}
