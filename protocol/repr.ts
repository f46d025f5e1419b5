// Python's repr() of JSON-like values for event fields and exception reprs, and Celery's saferepr() for the
// argsrepr/kwargsrepr headers. Pure; no I/O.

const MAX_REPR = 1024; // Celery: argsrepr = saferepr(args, 1024), kwargsrepr = saferepr(kwargs, 1024)
const MAX_LEVELS = 3; // saferepr's default maxlevels: deeper containers print as [...] / {...}

/** repr() of a value as Python would print the same JSON-decoded value. */
export function pyRepr(value: unknown): string {
  return reprValue(value, 0);
}

/**
 * The `argsrepr` header Celery writes: `saferepr(args, 1024)` of the positional-argument tuple: `(2, 3)`, `(2,)`, `()`.
 * saferepr is not repr(): strings are always single-quoted with only `'` escaped, containers nested deeper than
 * three levels print as `[...]`, and output past 1024 characters is cut (`..., ...`).
 */
export function pyArgsRepr(args: readonly unknown[]): string {
  return safeRepr(new PyTuple(args), MAX_REPR);
}

/** The `kwargsrepr` header Celery writes: `saferepr(kwargs, 1024)`. */
export function pyKwargsRepr(kwargs: Record<string, unknown>): string {
  return safeRepr(kwargs, MAX_REPR);
}

/** Python's repr() of a float (shortest round-trip digits; exponent form below 1e-4 and from 1e16, as `1e-07`). */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = n.toExponential().split('e'); // shortest digits that round-trip
  const exp = Number(expText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
    return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** A JS number as Python prints it: integral values (as sent in JSON) are ints, others floats. */
function pyNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? BigInt(n).toString() : pyFloatRepr(n);
}

// Characters str.isprintable() rejects (other than the ASCII space): repr() escapes them.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      if (c <= 0xff) out += `\\x${c.toString(16).padStart(2, '0')}`;
      else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, '0')}`;
      else out += `\\U${c.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

function reprValue(v: unknown, depth: number): string {
  if (depth > 50) return '...';
  if (v === null || v === undefined) return 'None';
  switch (typeof v) {
    case 'string':
      return reprString(v);
    case 'number':
      return pyNumber(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'True' : 'False';
  }
  if (Array.isArray(v)) return `[${v.map((x) => reprValue(x, depth + 1)).join(', ')}]`;
  if (v instanceof Date) return reprString(v.toISOString());
  const withJson = v as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function' && !Buffer.isBuffer(v)) return reprValue(withJson.toJSON(), depth + 1);
  if (Buffer.isBuffer(v)) return `b${reprString(v.toString('latin1'))}`;
  const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${reprString(k)}: ${reprValue(x, depth + 1)}`);
  return `{${entries.join(', ')}}`;
}

// ---- saferepr (celery/utils/saferepr.py), token for token, so truncation lands exactly where Celery's does ----

/** Marks the top-level args array, which saferepr prints as a tuple. */
class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

type Token =
  | { kind: 'lit'; value: string; truncatable: boolean }
  | { kind: 'key'; value: string }
  | { kind: 'quoted'; value: string | Buffer }
  | { kind: 'text'; value: string };

const SEP: Token = { kind: 'lit', value: ', ', truncatable: true };
const KVSEP: Token = { kind: 'lit', value: ': ', truncatable: true };

/** The closing brackets still owed if output stops now (innermost first), as saferepr prints after `, ...`. */
type OpenStack = string[];

function* tokens(v: unknown, level: number, open: OpenStack): Generator<Token> {
  if (v === null || v === undefined) return yield { kind: 'text', value: 'None' };
  switch (typeof v) {
    case 'string':
      return yield { kind: 'quoted', value: v };
    case 'number':
      return yield { kind: 'text', value: pyNumber(v) };
    case 'bigint':
      return yield { kind: 'text', value: v.toString() };
    case 'boolean':
      return yield { kind: 'text', value: v ? 'True' : 'False' };
    case 'object':
      break;
    default:
      return yield { kind: 'text', value: 'None' };
  }
  if (Buffer.isBuffer(v)) return yield { kind: 'quoted', value: v };
  let start: string;
  let end: string;
  let items: Iterable<Token | { value: unknown } | { key: string }>;
  if (v instanceof PyTuple) {
    start = '(';
    end = v.items.length === 1 ? ',)' : ')';
    items = listItems(v.items);
  } else if (Array.isArray(v)) {
    start = '[';
    end = ']';
    items = listItems(v);
  } else if (v instanceof Date) {
    return yield { kind: 'quoted', value: v.toISOString() };
  } else if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    return yield* tokens((v as { toJSON: () => unknown }).toJSON(), level, open);
  } else {
    start = '{';
    end = '}';
    items = dictItems(v as Record<string, unknown>);
  }
  if (level >= MAX_LEVELS) return yield { kind: 'text', value: `${start}...${end}` };
  open.push(end);
  yield { kind: 'lit', value: start, truncatable: false };
  for (const item of items) {
    if ('kind' in item) yield item;
    else if ('key' in item) yield { kind: 'key', value: item.key };
    else yield* tokens(item.value, level + 1, open);
  }
  open.pop();
  yield { kind: 'lit', value: end, truncatable: false };
}

function* listItems(list: readonly unknown[]): Generator<Token | { value: unknown }> {
  for (let i = 0; i < list.length; i++) {
    yield { value: list[i] };
    if (i < list.length - 1) yield SEP;
  }
}

function* dictItems(obj: Record<string, unknown>): Generator<Token | { value: unknown } | { key: string }> {
  const entries = Object.entries(obj);
  for (let i = 0; i < entries.length; i++) {
    yield { key: entries[i][0] };
    yield KVSEP;
    yield { value: entries[i][1] };
    if (i < entries.length - 1) yield SEP;
  }
}

/** celery.utils.text.truncate, counting code points as Python's len() does. */
function truncateText(s: string, maxlen: number | null): string {
  if (!maxlen) return s;
  const chars = Array.from(s);
  if (chars.length < maxlen) return s;
  const head = chars.slice(0, maxlen).join('');
  const cut = head.lastIndexOf(' ');
  return `${cut >= 0 ? head.slice(0, cut) : head}...`;
}

function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function formatQuoted(value: string | Buffer, maxlen: number | null): string {
  if (typeof value === 'string') return `'${truncateText(value, maxlen).replace(/'/g, "\\'")}'`;
  const bytesText = (b: Buffer): string => {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
    } catch {
      return b.toString('hex');
    }
  };
  if (maxlen && value.length > maxlen) return `b'${bytesText(value.subarray(0, maxlen))}...'`;
  return `b'${bytesText(value)}'`;
}

/** saferepr(value, maxlen) with maxlevels=3. */
function safeRepr(value: unknown, maxlen: number | null): string {
  const open: OpenStack = [];
  let out = '';
  let left = maxlen;
  for (const token of tokens(value, 0, open)) {
    if (left !== null && left <= 0) {
      // Celery drops this token, writes ", ..." and then the brackets of every container still open.
      out += ', ...';
      for (let i = open.length - 1; i >= 0; i--) out += open[i];
      return out;
    }
    let text: string;
    if (token.kind === 'lit') text = token.value;
    else if (token.kind === 'key') text = safeRepr(token.value, left);
    else if (token.kind === 'quoted') text = formatQuoted(token.value, left);
    else text = truncateText(token.value, left);
    out += text;
    if (left !== null) left -= pyLen(text);
  }
  return out;
}
