// Celery's JSON, read and written so values round-trip to Python: exact big integers, NaN/Infinity,
// and kombu >= 5.3 tagged values ({"__type__": ..., "__value__": ...}). Pure; no I/O.

import { pyFloatRepr } from './repr';

/** Thrown when bytes are not valid JSON (the worker logs and drops such a message). */
export class JsonDecodeError extends Error {
  override name = 'JsonDecodeError';
}

/** Thrown when a value cannot be written as Celery JSON. */
export class JsonEncodeError extends Error {
  override name = 'JsonEncodeError';
}

/** A Python `datetime` received as a tagged value: a Date that remembers its exact ISO text (microseconds, offset). */
export class PyDateTime extends Date {
  constructor(readonly iso: string) {
    super(parseDateTimeMs(iso));
  }
  /** The exact ISO text when the instant was not changed, else a UTC ISO text. */
  isoformat(): string {
    return this.getTime() === parseDateTimeMs(this.iso) ? this.iso : new Date(this.getTime()).toISOString();
  }
  override toJSON(): string {
    return zuluSuffix(this.isoformat());
  }
}

/** A Python `datetime.date` ("YYYY-MM-DD"). */
export class PyDate {
  constructor(readonly iso: string) {}
  toJSON(): string {
    return `${this.iso}T00:00:00`; // kombu 5.2 writes a date as a datetime at midnight
  }
  toString(): string {
    return this.iso;
  }
}

/** A Python `datetime.time` ("HH:MM:SS[.ffffff]"). */
export class PyTime {
  constructor(readonly iso: string) {}
  toJSON(): string {
    return this.iso;
  }
  toString(): string {
    return this.iso;
  }
}

/** A Python `decimal.Decimal`, kept as its exact decimal text. */
export class PyDecimal {
  constructor(readonly value: string) {}
  toJSON(): string {
    return this.value;
  }
  toString(): string {
    return this.value;
  }
}

/** A Python `uuid.UUID`, kept in canonical 8-4-4-4-12 form. */
export class PyUUID {
  readonly value: string;
  constructor(value: string) {
    const hex = value.replace(/[{}-]/g, '').toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new JsonDecodeError(`invalid UUID ${JSON.stringify(value)}`);
    this.value = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  get hex(): string {
    return this.value.replace(/-/g, '');
  }
  toJSON(): string {
    return this.value;
  }
  toString(): string {
    return this.value;
  }
}

export interface JsonEncodeOptions {
  /** Write kombu >= 5.3 tagged values for datetimes, decimals, UUIDs and bytes. Celery 5.2 readers would see dicts. */
  tagged?: boolean;
  /** Python's `json.dumps` layout: `", "` and `": "` separators and `\uXXXX` for non-ASCII. */
  pythonStyle?: boolean;
}

// A run of 16+ digits may be an integer beyond 2^53; only then is the exact (slower) parser needed.
const LONG_DIGITS = /\d{16}/;
const TAG_KEY = '"__type__"';
const MAX_DEPTH = 10000;

/**
 * A copy of `text` that keeps no larger string alive. V8 represents substrings and JSON.parse values of 13 or more
 * characters as slices of their source, so a task id or delivery tag kept from a 750-byte message would keep the
 * whole message in memory (10,000 held ETA messages: ~7 MB for nothing). Concatenation flattens into a new string.
 */
export function ownString(text: string): string {
  return text.length < 13 ? text : (' ' + text).slice(1);
}

/** Parse Celery JSON. Integers beyond 2^53 become `bigint`; tagged values are revived. */
export function parseJson(input: string | Buffer): unknown {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  let value: unknown;
  if (LONG_DIGITS.test(text)) {
    value = new ExactParser(text).parseDocument();
  } else {
    try {
      value = JSON.parse(text);
    } catch {
      // Python writes NaN/Infinity, which JSON.parse refuses; the exact parser also gives a precise error.
      value = new ExactParser(text).parseDocument();
    }
  }
  return text.includes(TAG_KEY) ? reviveTagged(value) : value;
}

/** Write Celery JSON. Plain values take the native fast path; bigint, bytes and tags take the exact encoder. */
export function stringifyJson(value: unknown, options: JsonEncodeOptions = {}): string {
  if (!options.tagged && !options.pythonStyle && !needsExactEncoder(value, 0)) {
    try {
      const text = JSON.stringify(value);
      if (text !== undefined) return text;
    } catch (err) {
      if (!(err instanceof TypeError)) throw err; // a bigint: fall through to the exact encoder
    }
  }
  return new Encoder(options).encode(value);
}

/**
 * Values JSON.stringify would silently get wrong: NaN/Infinity (→ null), bytes (→ {"type":"Buffer",…}),
 * Map/Set (→ {}). The exact encoder writes or refuses them as Celery would.
 */
function needsExactEncoder(v: unknown, depth: number): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (v === null || typeof v !== 'object') return false;
  // Deep or cyclic values go to the exact encoder, which writes or reports them; this scan stays cheap and
  // allocation-free because it runs on every result and message on the hot path.
  if (depth > SCAN_DEPTH) return true;
  if (v instanceof Uint8Array || v instanceof Map || v instanceof Set) return true;
  if (v instanceof Date) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (needsExactEncoder(v[i], depth + 1)) return true;
    return false;
  }
  const withToJson = v as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return needsExactEncoder(withToJson.toJSON(), depth + 1);
  for (const k in v) {
    if (Object.prototype.hasOwnProperty.call(v, k) && needsExactEncoder((v as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

const SCAN_DEPTH = 64;

/** The bytes as text if they are valid UTF-8 (Python's strict `bytes.decode('utf-8')`), else null. */
function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

function zuluSuffix(iso: string): string {
  return iso.endsWith('+00:00') ? `${iso.slice(0, -6)}Z` : iso;
}

function parseDateTimeMs(iso: string): number {
  // Naive values are UTC, as Celery with enable_utc.
  const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso);
  const trimmed = iso.replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(hasZone ? trimmed : `${trimmed}Z`);
  if (Number.isNaN(ms)) throw new JsonDecodeError(`invalid datetime ${JSON.stringify(iso)}`);
  return ms;
}

function reviveTagged(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveTagged(value[i]);
    return value;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date || Buffer.isBuffer(value)) return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 2 && '__type__' in obj && '__value__' in obj) return reviveOne(String(obj.__type__), obj.__value__);
  for (const k of keys) obj[k] = reviveTagged(obj[k]);
  return obj;
}

function reviveOne(type: string, raw: unknown): unknown {
  switch (type) {
    case 'datetime':
      return new PyDateTime(String(raw));
    case 'date':
      return new PyDate(String(raw));
    case 'time':
      return new PyTime(String(raw));
    case 'decimal':
      return new PyDecimal(String(raw));
    case 'uuid': {
      const hex = raw && typeof raw === 'object' ? (raw as { hex?: unknown }).hex : raw;
      return new PyUUID(String(hex));
    }
    case 'bytes':
      return Buffer.from(String(raw), 'utf8');
    case 'base64':
      return Buffer.from(String(raw), 'base64');
    default:
      // kombu raises on an unknown tag; so do we, so the message is reported rather than misread.
      throw new JsonDecodeError(`unknown tagged JSON type ${JSON.stringify(type)}`);
  }
}

/** A strict JSON parser that keeps integers exact (bigint beyond 2^53) and accepts Python's NaN/Infinity. */
class ExactParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    this.skipWs();
    const value = this.parseValue(0);
    this.skipWs();
    if (this.pos !== this.text.length) this.fail('unexpected trailing data');
    return value;
  }

  private fail(what: string): never {
    throw new JsonDecodeError(`invalid JSON: ${what} at position ${this.pos}`);
  }

  private skipWs(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
  }

  private parseValue(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    const t = this.text;
    const c = t[this.pos];
    if (c === '{') return this.parseObject(depth);
    if (c === '[') return this.parseArray(depth);
    if (c === '"') return this.parseString();
    if (c === '-' || (c >= '0' && c <= '9')) {
      if (t.startsWith('-Infinity', this.pos)) {
        this.pos += 9;
        return -Infinity;
      }
      return this.parseNumber();
    }
    for (const [word, val] of WORDS) {
      if (t.startsWith(word, this.pos)) {
        this.pos += word.length;
        return val;
      }
    }
    return this.fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  }

  private parseObject(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    this.skipWs();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.parseString();
      this.skipWs();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWs();
      const value = this.parseValue(depth + 1);
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.skipWs();
      const sep = this.text[this.pos++];
      if (sep === '}') return out;
      if (sep !== ',') this.fail("expected ',' or '}'");
    }
  }

  private parseArray(depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.skipWs();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.parseValue(depth + 1));
      this.skipWs();
      const sep = this.text[this.pos++];
      if (sep === ']') return out;
      if (sep !== ',') this.fail("expected ',' or ']'");
    }
  }

  private parseString(): string {
    const t = this.text;
    const start = ++this.pos;
    // Fast scan for a string without escapes.
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 34) {
        this.pos++;
        return t.slice(start, this.pos - 1);
      }
      if (c === 92 || c < 32) break;
      this.pos++;
    }
    // Slow path: let JSON.parse decode the escapes of exactly this string literal.
    let end = this.pos;
    while (end < t.length) {
      const c = t.charCodeAt(end);
      if (c === 92) end += 2;
      else if (c === 34) break;
      else end++;
    }
    if (end >= t.length) this.fail('unterminated string');
    try {
      const s = JSON.parse(t.slice(start - 1, end + 1)) as string;
      this.pos = end + 1;
      return s;
    } catch {
      return this.fail('invalid string escape');
    }
  }

  private parseNumber(): number | bigint {
    const m = NUMBER.exec(this.text.slice(this.pos, this.pos + 400));
    if (!m) return this.fail('invalid number');
    this.pos += m[0].length;
    const isInteger = m[2] === undefined && m[3] === undefined;
    if (isInteger) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/;
const WORDS: ReadonlyArray<[string, unknown]> = [
  ['true', true],
  ['false', false],
  ['null', null],
  ['NaN', NaN],
  ['Infinity', Infinity],
];

/** The exact encoder: bigint, bytes, Python classes, tagged mode and Python's layout. */
class Encoder {
  private readonly comma: string;
  private readonly colon: string;
  /** The containers being written, to report a cycle instead of overflowing the stack. */
  private readonly parents = new Set<object>();
  constructor(private readonly options: JsonEncodeOptions) {
    this.comma = options.pythonStyle ? ', ' : ',';
    this.colon = options.pythonStyle ? ': ' : ':';
  }

  encode(value: unknown): string {
    const out = this.value(value, 0);
    if (out === undefined) throw new JsonEncodeError('value cannot be encoded as JSON');
    return out;
  }

  private str(s: string): string {
    const json = JSON.stringify(s);
    if (!this.options.pythonStyle) return json;
    // ensure_ascii: every code unit above 0x7e becomes \uXXXX, so emoji become surrogate pairs as in Python.
    return json.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }

  private tag(type: string, value: unknown, depth: number): string {
    return `{${this.str('__type__')}${this.colon}${this.str(type)}${this.comma}${this.str('__value__')}${this.colon}${this.value(value, depth + 1)}}`;
  }

  private value(v: unknown, depth: number): string | undefined {
    if (depth > MAX_DEPTH) throw new JsonEncodeError('value nested too deep');
    switch (typeof v) {
      case 'string':
        return this.str(v);
      case 'number':
        if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
        // Python writes floats with repr(): 1e-07, not 1e-7; integral values stay ints as in JSON.stringify.
        if (this.options.pythonStyle && !(Number.isInteger(v) && Math.abs(v) < 1e21)) return pyFloatRepr(v);
        return JSON.stringify(v);
      case 'bigint':
        return v.toString();
      case 'boolean':
        return v ? 'true' : 'false';
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (v === null) return 'null';
    if (this.parents.has(v as object)) throw new JsonEncodeError('value contains a circular reference');
    this.parents.add(v as object);
    try {
      return this.objectValue(v as object, depth);
    } finally {
      this.parents.delete(v as object);
    }
  }

  private objectValue(v: object, depth: number): string | undefined {
    const tagged = this.options.tagged;
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
      if (!tagged) throw new JsonEncodeError('bytes cannot be sent as Celery 5.2 JSON; enable tagged JSON (kombu >= 5.3) or send text');
      // As kombu: valid UTF-8 goes as {"__type__": "bytes"} text, anything else as base64.
      const text = utf8OrNull(v);
      return text === null ? this.tag('base64', Buffer.from(v).toString('base64'), depth) : this.tag('bytes', text, depth);
    }
    if (v instanceof PyDateTime) return tagged ? this.tag('datetime', v.isoformat(), depth) : this.str(v.toJSON());
    if (v instanceof Date) {
      const iso = v.toISOString().replace('Z', '+00:00');
      return tagged ? this.tag('datetime', iso, depth) : this.str(zuluSuffix(iso));
    }
    if (v instanceof PyDate) return tagged ? this.tag('date', v.iso, depth) : this.str(v.toJSON());
    if (v instanceof PyTime) return tagged ? this.tag('time', v.iso, depth) : this.str(v.iso);
    if (v instanceof PyDecimal) return tagged ? this.tag('decimal', v.value, depth) : this.str(v.value);
    if (v instanceof PyUUID) return tagged ? this.tag('uuid', { hex: v.hex }, depth) : this.str(v.value);
    if (Array.isArray(v)) {
      const parts = v.map((item) => this.value(item, depth + 1) ?? 'null');
      return `[${parts.join(this.comma)}]`;
    }
    if (v instanceof Map) return this.value(Object.fromEntries(v), depth);
    if (v instanceof Set) return this.value([...v], depth);
    const withToJson = v as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === 'function') return this.value(withToJson.toJSON(), depth + 1);
    const parts: string[] = [];
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      const enc = this.value(item, depth + 1);
      if (enc !== undefined) parts.push(`${this.str(k)}${this.colon}${enc}`);
    }
    return `{${parts.join(this.comma)}}`;
  }
}
