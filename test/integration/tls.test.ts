// TLS end to end: a celeriac worker and client on amqps:// (through a TLS-terminating proxy in front of the shared
// RabbitMQ) and on rediss:// (a throwaway TLS redis-server) with Celery's ssl settings, Python Celery sending over
// the same endpoints; a wrong CA is refused clearly.

import * as fs from 'node:fs';
import { Celery } from '../../src';
import { describeWith, uniqueName } from '../helpers/env';
import { celeriacCli, pythonClient, startCeleriacWorker, type Proc } from '../helpers/processes';
import { makeCertificates, startSentinel, startTlsProxy, startTlsRedis, type Certificates, type Proxy } from '../helpers/servers';

describeWith(['amqp', 'redis', 'python'], 'TLS connections (amqps://, rediss://)', () => {
  let certs: Certificates;
  let proxy: Proxy;
  let redis: { port: number; proc: Proc };
  let amqpsUrl: string;
  let redissUrl: string;

  beforeAll(async () => {
    certs = makeCertificates();
    proxy = await startTlsProxy(certs, 5672);
    redis = await startTlsRedis(certs);
    amqpsUrl = `amqps://guest:guest@127.0.0.1:${proxy.port}//`;
    redissUrl = `rediss://127.0.0.1:${redis.port}/0`;
  }, 60000);

  afterAll(async () => {
    await proxy?.close();
    await redis?.proc.stop();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  async function roundTrip(broker: string, backend: string, env: Record<string, string>, config: Record<string, unknown>): Promise<void> {
    const queue = uniqueName('tls');
    let worker: Proc | undefined;
    const app = new Celery({ broker, backend, config: { taskDefaultQueue: queue, ...config }, env: {} });
    try {
      worker = await startCeleriacWorker({ broker, backend, queues: [queue], env });
      const results = await Promise.all([1, 2, 3].map((i) => app.sendTask<number>('tasks.add', [i, 40])));
      expect(await Promise.all(results.map((r) => r.get({ timeout: 30 })))).toEqual([41, 42, 43]);
      expect(worker.output).not.toMatch(/guest:guest/);
    } finally {
      await app.close();
      await worker?.stop();
    }
  }

  test('amqps:// broker with broker_use_ssl (py-amqp spelling) and rediss:// backend with ssl_* URL parameters', async () => {
    const ssl = { ca_certs: certs.ca, cert_reqs: 'CERT_REQUIRED' };
    const backend = `${redissUrl}?ssl_cert_reqs=required&ssl_ca_certs=${encodeURIComponent(certs.ca)}`;
    await roundTrip(amqpsUrl, backend, { CELERY_BROKER_USE_SSL: JSON.stringify(ssl) }, { brokerUseSsl: ssl });
  }, 90000);

  test('rediss:// broker and backend with broker_use_ssl and redis_backend_use_ssl (redis-py spelling)', async () => {
    const ssl = { ssl_cert_reqs: 'required', ssl_ca_certs: certs.ca };
    const env = { CELERY_BROKER_USE_SSL: JSON.stringify(ssl), CELERY_REDIS_BACKEND_USE_SSL: JSON.stringify(ssl) };
    await roundTrip(redissUrl, redissUrl, env, { brokerUseSsl: ssl, redisBackendUseSsl: ssl });
  }, 90000);

  test('sentinel:// broker and backend whose master serves TLS only (broker_use_ssl, redis_backend_use_ssl)', async () => {
    // The sentinel itself speaks plain text; it reaches the TLS master with tls-replication.
    const sentinel = await startSentinel(certs.dir, redis.port, 'tlsmaster', ['tls-replication yes', `tls-cert-file ${certs.cert}`, `tls-key-file ${certs.key}`, `tls-ca-cert-file ${certs.ca}`]);
    try {
      const url = `sentinel://127.0.0.1:${sentinel.port}/0`;
      const ssl = { ssl_cert_reqs: 'required', ssl_ca_certs: certs.ca };
      const options = { master_name: 'tlsmaster' };
      const env = {
        CELERY_BROKER_USE_SSL: JSON.stringify(ssl),
        CELERY_REDIS_BACKEND_USE_SSL: JSON.stringify(ssl),
        CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify(options),
        CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: JSON.stringify(options),
      };
      await roundTrip(url, url, env, { brokerUseSsl: ssl, redisBackendUseSsl: ssl, brokerTransportOptions: options, resultBackendTransportOptions: options });
    } finally {
      await sentinel.proc.stop();
    }
  }, 90000);

  test.each([
    ['amqps:// broker, rediss:// backend', 'amqp'],
    ['rediss:// broker and backend', 'redis'],
  ])('Python Celery sends over TLS (%s) to a celeriac worker and reads the results', async (_what, transport) => {
    const queue = uniqueName('tls-py');
    const amqpSsl = { ca_certs: certs.ca, cert_reqs: 'CERT_REQUIRED' };
    const redisSsl = { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: certs.ca };
    const broker = transport === 'amqp' ? amqpsUrl : redissUrl;
    const env = {
      CELERY_BROKER_USE_SSL: JSON.stringify(transport === 'amqp' ? amqpSsl : redisSsl),
      CELERY_REDIS_BACKEND_USE_SSL: JSON.stringify(redisSsl),
      CELERY_TASK_DEFAULT_QUEUE: queue,
    };
    let worker: Proc | undefined;
    try {
      worker = await startCeleriacWorker({ broker, backend: redissUrl, queues: [queue], env });
      const report = await pythonClient({ broker, backend: redissUrl, extra: env }, { calls: [{ task: 'tasks.add', args: [2, 3] }, { task: 'tasks.add', args: [40, 2] }], wait: true, timeout: 30 });
      expect(report.map((r) => r.result)).toEqual([5, 42]);
    } finally {
      await worker?.stop();
    }
  }, 120000);

  test.each([
    ['amqps', () => `amqps://guest:SECRETPW@127.0.0.1:${proxy.port}//`, (ca: string) => ({ CELERY_BROKER_USE_SSL: JSON.stringify({ ca_certs: ca, cert_reqs: 'CERT_REQUIRED' }) })],
    ['rediss', () => `rediss://:SECRETPW@127.0.0.1:${redis.port}/0`, (ca: string) => ({ CELERY_BROKER_USE_SSL: JSON.stringify({ ssl_ca_certs: ca, ssl_cert_reqs: 'required' }) })],
  ])('%s: a server certificate from another CA is refused with one clear error naming the masked URL', async (_name, url, env) => {
    const broker = url();
    const out = await celeriacCli(['worker', '-A', 'interop/tasks.ts', '-b', broker, '-Q', uniqueName('tls-wrong'), '--result-backend', 'disabled://'], env(certs.wrongCa), 60000);
    const all = `${out.stdout}\n${out.stderr}`;
    expect(out.code).not.toBe(0);
    expect(all).toContain(`Cannot connect to broker at ${broker.replace('SECRETPW', '**')}`);
    expect(all).toMatch(/TLS handshake failed/);
    expect(all.match(/Cannot connect to broker/g)).toHaveLength(1);
    expect(all).not.toContain('SECRETPW');
  }, 90000);
});
