// Time on the wire: ISO 8601 as Python's isoformat() writes it, parsed with any UTC offset; naive values are UTC.
// Pure; no I/O.

/** Parse an ISO 8601 datetime (Python isoformat, `Z`, any offset, naive = UTC) to epoch milliseconds, or NaN. */
export function parseIsoMs(text: string): number {
  const m = ISO.exec(text.trim());
  if (!m) return NaN;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  let t = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, ms);
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(':').length === 2 ? zone.slice(1).split(':') : [zone.slice(1, 3), zone.slice(3, 5)];
    t -= sign * ((+zh * 60 + +(zm || 0)) * 60000);
  }
  return t;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Python's `datetime.isoformat()` of an aware UTC datetime: `2026-11-29T07:55:01.984000+00:00`. */
export function isoformatUtc(ms: number): string {
  return `${naiveIso(ms)}+00:00`;
}

/** Celery 5.2's `date_done`: naive UTC with microseconds, `2026-11-29T07:56:08.183000`. */
export function naiveIso(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-29T07:56:08.183Z
  return `${iso.slice(0, 23)}000`;
}
