// Python's repr() of JSON-like values, for the argsrepr/kwargsrepr headers and event fields. Pure; no I/O.

const MAX_REPR = 1024; // Celery truncates argsrepr/kwargsrepr with saferepr(maxlen=1024)

/** repr() of a value as Python would print the same JSON-decoded value. */
export function pyRepr(value: unknown): string {
  return reprValue(value, 0);
}

/** repr() of a positional-argument tuple: `(2, 3)`, `(2,)`, `()`. */
export function pyArgsRepr(args: readonly unknown[]): string {
  const inner = args.map((a) => reprValue(a, 1)).join(', ');
  return truncate(args.length === 1 ? `(${inner},)` : `(${inner})`);
}

/** repr() of a kwargs dict, truncated like Celery's saferepr. */
export function pyKwargsRepr(kwargs: Record<string, unknown>): string {
  return truncate(reprValue(kwargs, 0));
}

function truncate(s: string): string {
  return s.length > MAX_REPR ? `${s.slice(0, MAX_REPR - 3)}...` : s;
}

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
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

function reprNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n);
}

function reprValue(v: unknown, depth: number): string {
  if (depth > 50) return '...';
  if (v === null || v === undefined) return 'None';
  switch (typeof v) {
    case 'string':
      return reprString(v);
    case 'number':
      return reprNumber(v);
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
