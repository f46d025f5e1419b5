// time.ts: parseIsoMs for Python isoformat / Z / offsets / naive (UTC) / microseconds, and isoformatUtc/naiveIso shapes.

import { isoformatUtc, naiveIso, parseIsoMs } from '../../../protocol';
import { loadFixture } from './helpers';

const T = Date.UTC(2030, 0, 2, 3, 4, 5, 678); // 2030-01-02T03:04:05.678Z

describe('parseIsoMs', () => {
  test.each([
    ['Z', '2030-01-02T03:04:05.678Z', T],
    ['lowercase z', '2030-01-02T03:04:05.678z', T],
    ['+00:00 with microseconds (Python isoformat)', '2030-01-02T03:04:05.678901+00:00', T],
    ['+05:30', '2030-01-02T08:34:05.678901+05:30', T],
    ['-08:00', '2030-01-01T19:04:05.678901-08:00', T],
    ['+0530 without colon', '2030-01-02T08:34:05.678+0530', T],
    ['+05 hours only', '2030-01-02T08:04:05.678+05', T],
    ['naive is UTC (Celery 5.2 date_done)', '2030-01-02T03:04:05.678901', T],
    ['no fraction', '2030-01-02T03:04:05+00:00', T - 678],
    ['one fraction digit', '2030-01-02T03:04:05.6Z', T - 78],
    ['space separator', '2030-01-02 03:04:05.678+00:00', T],
    ['date only is midnight UTC', '2030-01-02', Date.UTC(2030, 0, 2)],
    ['minutes only', '2030-01-02T03:04Z', Date.UTC(2030, 0, 2, 3, 4)],
  ])('%s: %s', (_name, text, ms) => {
    expect(parseIsoMs(text)).toBe(ms);
  });

  test('microseconds are truncated to milliseconds, not rounded', () => {
    expect(parseIsoMs('2030-01-02T03:04:05.999999+00:00')).toBe(Date.UTC(2030, 0, 2, 3, 4, 5, 999));
  });

  test('the eta and expires Python wrote in the golden messages', () => {
    const eta = loadFixture<{ messages: { envelope: { headers: { eta: string } } }[] }>('redis_broker/eta_datetime_utc.json');
    expect(parseIsoMs(eta.messages[0].envelope.headers.eta)).toBe(T);
    const exp = loadFixture<{ messages: { envelope: { headers: { expires: string } } }[] }>('redis_broker/expires_datetime.json');
    expect(parseIsoMs(exp.messages[0].envelope.headers.expires)).toBe(Date.UTC(2030, 0, 1));
  });

  test.each(['', 'yesterday', '2030/01/02', '2030-01-02T03:04:05.678 UTC'])('%j is NaN', (text) => {
    expect(parseIsoMs(text)).toBeNaN();
  });
});

describe('isoformatUtc / naiveIso', () => {
  test("isoformatUtc is Python's isoformat() of an aware UTC datetime", () => {
    expect(isoformatUtc(T)).toBe('2030-01-02T03:04:05.678000+00:00');
    expect(isoformatUtc(Date.UTC(2030, 0, 1))).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(parseIsoMs(isoformatUtc(T))).toBe(T);
  });

  test('naiveIso is the 5.2 date_done shape: microseconds and no offset', () => {
    expect(naiveIso(T)).toBe('2030-01-02T03:04:05.678000');
    const golden = loadFixture<{ final_value: { value: string } }>('redis_backend/add.json');
    const dateDone = (JSON.parse(golden.final_value.value) as { date_done: string }).date_done;
    const shape = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;
    expect(dateDone).toMatch(shape);
    expect(naiveIso(Date.now())).toMatch(shape);
    expect(parseIsoMs(naiveIso(T))).toBe(T);
  });
});
