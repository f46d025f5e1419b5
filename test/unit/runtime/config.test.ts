// Settings: Celery's names in both spellings, CELERY_* env vars (which win), type checks, and URL masking.

import { resolveSettings, snakeName, camelName, ConfigurationError } from '../../../src/config';
import { maskSecrets, maskUrl } from '../../../src/url';
import { createLogger } from '../../../src/log';

describe('settings', () => {
  test('defaults are Celery defaults', () => {
    const s = resolveSettings({}, {});
    expect(s.taskDefaultQueue).toBe('celery');
    expect(s.workerPrefetchMultiplier).toBe(4);
    expect(s.resultExpires).toBe(86400);
    expect(s.taskAcksLate).toBe(false);
    expect(s.acceptContent).toEqual(['json']);
  });

  test('code settings in either spelling; env vars win and are typed', () => {
    const s = resolveSettings(
      { task_acks_late: false, workerPrefetchMultiplier: 2, brokerUrl: 'redis://code' },
      { CELERY_TASK_ACKS_LATE: 'true', CELERY_BROKER_URL: 'amqp://env', CELERY_BROKER_TRANSPORT_OPTIONS: '{"visibility_timeout": 60}', CELERY_ACCEPT_CONTENT: 'json,msgpack', CELERY_RESULT_BACKEND: 'none' },
    );
    expect(s.taskAcksLate).toBe(true);
    expect(s.workerPrefetchMultiplier).toBe(2);
    expect(s.brokerUrl).toBe('amqp://env');
    expect(s.brokerTransportOptions).toEqual({ visibility_timeout: 60 });
    expect(s.acceptContent).toEqual(['json', 'msgpack']);
    expect(s.resultBackend).toBeNull();
  });

  test('unknown settings and wrong types are clear errors', () => {
    expect(() => resolveSettings({ task_acks_lately: true }, {})).toThrow(ConfigurationError);
    expect(() => resolveSettings({}, { CELERY_WORKER_PREFETCH_MULTIPLIER: 'many' })).toThrow(/CELERY_WORKER_PREFETCH_MULTIPLIER: worker_prefetch_multiplier must be a number/);
    expect(() => resolveSettings({}, { CELERY_TASK_ACKS_LATE: 'perhaps' })).toThrow(/true or false/);
  });

  test('names convert both ways', () => {
    expect(snakeName('taskAcksLate')).toBe('task_acks_late');
    expect(camelName('task_acks_late')).toBe('taskAcksLate');
  });
});

describe('secrets', () => {
  test('passwords in URLs are masked wherever they appear', () => {
    expect(maskUrl('amqp://guest:s3cret@host:5672//')).toBe('amqp://guest:**@host:5672//');
    expect(maskUrl('redis://:s3cret@host:6379/0')).toBe('redis://:**@host:6379/0');
    expect(maskSecrets('failed on amqp://u:p@a// and rediss://x:y@b/1')).toBe('failed on amqp://u:**@a// and rediss://x:**@b/1');
    expect(maskUrl('redis://host:6379/0')).toBe('redis://host:6379/0');
  });

  test('log lines are masked', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l) });
    log.info('connecting to amqp://guest:hunter2@127.0.0.1//');
    log.debug('not shown');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('amqp://guest:**@127.0.0.1//');
    expect(lines[0]).not.toContain('hunter2');
  });
});
