// The logger operators read: Celery-like text lines, one JSON object per line for shippers, levels as -l takes
// them, and passwords masked in every line whatever the format.

import { createLogger, parseLogLevel } from '../../../src/log';

describe('worker logging', () => {
  test('text lines: [time: LEVEL/name] message, below the level dropped', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l) });
    log.debug('hidden');
    log.info('Task tasks.add[abc] succeeded in 0.001s: 5');
    log.error('broker amqp://guest:guest@localhost:5672// lost');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}: INFO\/celeriac\] Task tasks\.add\[abc\] succeeded in 0\.001s: 5$/);
    expect(lines[1]).toContain('amqp://guest:**@localhost:5672//');
    expect(log.isEnabled('debug')).toBe(false);
  });

  test('JSON lines for log shippers, secrets masked there too', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', json: true, write: (l) => lines.push(l) });
    log.warning('cannot reach redis://:hunter2@cache:6379/0');
    const rec = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(rec).toEqual({ time: expect.any(String), level: 'WARNING', name: 'celeriac', pid: process.pid, message: 'cannot reach redis://:**@cache:6379/0' });
    expect(lines[0]).not.toContain('hunter2');
  });

  test('-l accepts Celery spellings', () => {
    expect(parseLogLevel('INFO')).toBe('info');
    expect(parseLogLevel('warn')).toBe('warning');
    expect(parseLogLevel('FATAL')).toBe('critical');
    expect(() => parseLogLevel('loud')).toThrow(/unknown log level/);
  });
});
