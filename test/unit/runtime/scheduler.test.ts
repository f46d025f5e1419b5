// The ETA scheduler (one timer, a heap of deadlines) and the token bucket behind rate limits.

import { Scheduler } from '../../../src/worker/scheduler';
import { parseRate, TokenBucket } from '../../../src/worker/ratelimit';

describe('Scheduler', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  test('runs calls in due order, once, with one timer', () => {
    const s = new Scheduler();
    const ran: string[] = [];
    s.at(1_000_300, () => ran.push('c'));
    s.at(1_000_100, () => ran.push('a'));
    s.at(1_000_200, () => ran.push('b'));
    expect(s.size).toBe(3);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(150);
    expect(ran).toEqual(['a']);
    jest.advanceTimersByTime(1000);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(s.size).toBe(0);
  });

  test('cancelled calls never run; clear drops everything', () => {
    const s = new Scheduler();
    const ran: number[] = [];
    const h = s.at(1_000_100, () => ran.push(1));
    s.at(1_000_200, () => ran.push(2));
    h.cancel();
    expect(s.size).toBe(1);
    jest.advanceTimersByTime(500);
    expect(ran).toEqual([2]);
    s.at(1_000_900, () => ran.push(3));
    s.clear();
    jest.advanceTimersByTime(1000);
    expect(ran).toEqual([2]);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('10 000 deadlines cost one timer and run in order', () => {
    const s = new Scheduler();
    const ran: number[] = [];
    for (let i = 0; i < 10000; i++) s.at(1_000_000 + ((i * 7919) % 10000), () => ran.push((i * 7919) % 10000));
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(20000);
    expect(ran).toHaveLength(10000);
    expect(ran).toEqual([...ran].sort((a, b) => a - b));
  });
});

describe('rate limits', () => {
  test("parse Celery's rates", () => {
    expect(parseRate('10/s')).toBe(10);
    expect(parseRate('120/m')).toBe(2);
    expect(parseRate('3600/h')).toBe(1);
    expect(parseRate('5')).toBe(5);
    expect(parseRate(null)).toBeNull();
    expect(parseRate('0/s')).toBeNull();
    expect(() => parseRate('fast')).toThrow(/invalid rate limit/);
  });

  test('a bucket of capacity 1 lets one task through per 1/rate seconds', () => {
    let now = 0;
    const spy = jest.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const b = new TokenBucket(2);
      expect(b.tryConsume()).toBe(true);
      expect(b.tryConsume()).toBe(false);
      expect(b.msUntil()).toBeCloseTo(500);
      now = 499;
      expect(b.tryConsume()).toBe(false);
      now = 500;
      expect(b.tryConsume()).toBe(true);
      now = 10000; // a long idle period does not bank more than one token
      expect(b.tryConsume()).toBe(true);
      expect(b.tryConsume()).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });
});
