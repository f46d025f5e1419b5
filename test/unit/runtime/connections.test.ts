// Connection settings: TLS options from Celery's ssl dicts, env vars and URL parameters; failover rotation;
// Sentinel URL lists; and that none of their messages show a password.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigurationError, resolveSettings } from '../../../src/config';
import { FailoverUrls, parseSentinel, redisTls, splitRedisSslParams, tlsFromSetting } from '../../../src/connections';
import { redisUrlOptions } from '../../../src/brokers/redis-connection';
import { Celery, createBroker } from '../../../src/app';
import { silentLogger } from '../../../src/log';

let dir: string;
let ca: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'celeriac-conn-'));
  ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(ca, 'not really a certificate');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('TLS settings', () => {
  test("py-amqp's dict: ca_certs, cert_reqs in Python's spellings", () => {
    expect(tlsFromSetting({ ca_certs: ca, cert_reqs: 'CERT_REQUIRED' }, 'broker_use_ssl')).toEqual({ ca: Buffer.from('not really a certificate'), rejectUnauthorized: true });
    expect(tlsFromSetting({ cert_reqs: 0 }, 'broker_use_ssl')).toEqual({ rejectUnauthorized: false });
    expect(tlsFromSetting({ cert_reqs: 'ssl.CERT_NONE' }, 'broker_use_ssl')?.rejectUnauthorized).toBe(false);
    expect(tlsFromSetting({ cert_reqs: 'optional' }, 'broker_use_ssl')?.rejectUnauthorized).toBe(true);
    expect(tlsFromSetting({ server_hostname: 'rabbit.example' }, 'broker_use_ssl')?.servername).toBe('rabbit.example');
    expect(tlsFromSetting(true, 'broker_use_ssl')).toEqual({ rejectUnauthorized: true });
    expect(tlsFromSetting(null, 'broker_use_ssl')).toBeUndefined();
    expect(tlsFromSetting(false, 'broker_use_ssl')).toBeUndefined();
  });

  test("redis-py's dict and a bad value or missing file say which setting", () => {
    expect(tlsFromSetting({ ssl_cert_reqs: 'none', ssl_ca_certs: ca }, 'redis_backend_use_ssl')?.rejectUnauthorized).toBe(false);
    expect(() => tlsFromSetting({ cert_reqs: 'sometimes' }, 'broker_use_ssl')).toThrow(/broker_use_ssl: cert_reqs must be/);
    expect(() => tlsFromSetting({ ca_certs: path.join(dir, 'missing.pem') }, 'broker_use_ssl')).toThrow(/broker_use_ssl: cannot read ca_certs .*missing\.pem: ENOENT/);
  });

  test('CELERY_BROKER_USE_SSL and CELERY_REDIS_BACKEND_USE_SSL take JSON or a boolean', () => {
    const s = resolveSettings({}, { CELERY_BROKER_USE_SSL: JSON.stringify({ ca_certs: ca, cert_reqs: 'CERT_REQUIRED' }), CELERY_REDIS_BACKEND_USE_SSL: 'true' });
    expect(s.brokerUseSsl).toEqual({ ca_certs: ca, cert_reqs: 'CERT_REQUIRED' });
    expect(s.redisBackendUseSsl).toBe(true);
    expect(resolveSettings({ broker_use_ssl: { keyfile: 'k' } }, {}).brokerUseSsl).toEqual({ keyfile: 'k' });
    expect(resolveSettings({}, {}).brokerUseSsl).toBeNull();
    expect(() => resolveSettings({}, { CELERY_BROKER_USE_SSL: '{oops' })).toThrow(ConfigurationError);
  });

  test("rediss:// URL parameters as redis-py reads them; they are removed from the URL and override the setting", () => {
    const url = `rediss://:pw@127.0.0.1:6380/2?ssl_cert_reqs=required&ssl_ca_certs=${encodeURIComponent(ca)}`;
    expect(splitRedisSslParams(url)).toEqual({ url: 'rediss://:pw@127.0.0.1:6380/2', params: { ssl_cert_reqs: 'required', ssl_ca_certs: ca } });
    expect(redisTls(url, { ssl_cert_reqs: 'none' }, 'broker_use_ssl')).toEqual({ ca: Buffer.from('not really a certificate'), rejectUnauthorized: true });
    expect(redisTls('redis://127.0.0.1:6379/0', null, 'broker_use_ssl')).toBeUndefined();
    expect(redisTls('rediss://127.0.0.1:6379/0?ssl_cert_reqs=CERT_NONE', null, 'broker_use_ssl')).toEqual({ rejectUnauthorized: false });
    const options = redisUrlOptions(url, null, 'broker_use_ssl');
    expect(options).toMatchObject({ host: '127.0.0.1', port: 6380, db: 2, password: 'pw', tls: { rejectUnauthorized: true } });
  });

  test('a bad ssl_cert_reqs in a URL is reported with the password masked', () => {
    let message = '';
    try {
      redisTls('rediss://:SECRET@127.0.0.1:6380/0?ssl_cert_reqs=maybe', null, 'broker_use_ssl');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/cert_reqs must be/);
    expect(message).toContain('rediss://:**@127.0.0.1');
    expect(message).not.toContain('SECRET');
  });
});

describe('failover URL lists', () => {
  test("round-robin goes through the list in order and wraps", () => {
    const urls = new FailoverUrls('amqp://a//;amqp://b//; amqp://c//');
    expect(urls.current).toBe('amqp://a//');
    expect([urls.advance(), urls.advance(), urls.advance(), urls.advance()]).toEqual(['amqp://b//', 'amqp://c//', 'amqp://a//', 'amqp://b//']);
  });

  test('shuffle always moves to another URL, chosen at random', () => {
    const picks = [0.99, 0, 0.5];
    const urls = new FailoverUrls(['redis://a', 'redis://b;redis://c'], 'shuffle', () => picks.shift() ?? 0);
    expect(urls.urls).toEqual(['redis://a', 'redis://b', 'redis://c']);
    expect(urls.advance()).toBe('redis://c'); // a + 2
    expect(urls.advance()).toBe('redis://a'); // c + 1
    expect(urls.advance()).toBe('redis://c'); // a + 2
    const one = new FailoverUrls('redis://only', 'shuffle');
    expect(one.advance()).toBe('redis://only');
  });

  test('display masks every password', () => {
    expect(new FailoverUrls('amqp://u:SECRET@a//;amqp://v:OTHER@b//').display).toBe('amqp://u:**@a//;amqp://v:**@b//');
  });

  test('broker_url as a list and broker_failover_strategy are settings; a bad strategy or mixed list is refused', () => {
    const s = resolveSettings({ broker_url: ['amqp://a//', 'amqp://b//'], broker_failover_strategy: 'shuffle' }, {});
    expect(s.brokerUrl).toBe('amqp://a//;amqp://b//');
    expect(s.brokerFailoverStrategy).toBe('shuffle');
    expect(() => createBroker('amqp://a//', { ...s, brokerFailoverStrategy: 'random' }, silentLogger)).toThrow(/broker_failover_strategy/);
    expect(() => createBroker('amqp://u:SECRET@a//;redis://b', s, silentLogger)).toThrow(/one transport: amqp:\/\/u:\*\*@a\/\/ and redis:\/\/b differ/);
    expect(createBroker('amqp://u:SECRET@a//;amqp://b//', s, silentLogger).displayUrl).toBe('amqp://u:**@a//');
  });
});

describe('Sentinel URLs', () => {
  test("kombu's list with master_name, the master's password and db, and sentinel_kwargs", () => {
    const target = parseSentinel('sentinel://:pw@10.0.0.1:26379/3;sentinel://10.0.0.2', { master_name: 'mymaster', sentinel_kwargs: { password: 'spw' } }, 'broker');
    expect(target).toEqual({ sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], name: 'mymaster', db: 3, password: 'pw', sentinelPassword: 'spw' });
  });

  test('master_name is required', () => {
    expect(() => parseSentinel('sentinel://127.0.0.1:26379', {}, 'broker')).toThrow(/master_name/);
  });
});

describe('the app takes a failover list as an array', () => {
  test('new Celery({ broker: [a, b] })', () => {
    const app = new Celery({ broker: ['amqp://u:SECRET@a//', 'amqp://b//'], env: {} });
    expect(app.conf.brokerUrl).toBe('amqp://u:SECRET@a//;amqp://b//');
    expect(app.broker.displayUrl).toBe('amqp://u:**@a//');
  });
});
