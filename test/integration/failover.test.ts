// Failover URL lists and Redis Sentinel: a worker given a dead URL first connects to the next; after a drop it moves
// on to the next URL of the list; a `sentinel://` broker and backend find the master through a throwaway sentinel
// (Python Celery sending through it too); and no password of a list or a sentinel URL is ever printed.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { Celery } from '../../src';
import { describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { celeriacCli, pythonClient, startCeleriacWorker, type Proc } from '../helpers/processes';
import { startSentinel, startTcpProxy, type Proxy } from '../helpers/servers';

const AMQP_DIRECT = 'amqp://guest:guest@127.0.0.1:5672//';
const AMQP_DEAD = 'amqp://guest:guest@127.0.0.1:1//';

/** Close the RabbitMQ connections of one process (named `celeriac <pid>@host` by the AMQP transport). */
function closeAmqpConnections(pid: number): number {
  const out = execFileSync('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { encoding: 'utf8' });
  const pids = out.split('\n').filter((l) => l.includes(`"celeriac ${pid}@`)).map((l) => l.split('\t')[0]);
  for (const p of pids) execFileSync('rabbitmqctl', ['-q', 'close_connection', p, 'failover test'], { stdio: 'ignore' });
  return pids.length;
}

/** Kill the Redis connections of one process's broker (named `celeriac:broker…:<pid>`). */
async function killRedisBrokerConnections(pid: number): Promise<number> {
  const admin = new Redis(REDIS_URL);
  try {
    const list = (await admin.client('LIST')) as string;
    const ids = list.split('\n').filter((l) => new RegExp(`name=celeriac:broker[^ ]*:${pid} `).test(l)).map((l) => /id=(\d+)/.exec(l)?.[1]);
    for (const id of ids) if (id) await admin.client('KILL', 'ID', id);
    return ids.length;
  } finally {
    admin.disconnect();
  }
}

async function adds(app: Celery, offset: number): Promise<void> {
  const results = await Promise.all([1, 2, 3].map((i) => app.sendTask<number>('tasks.add', [i, offset])));
  expect(await Promise.all(results.map((r) => r.get({ timeout: 30 })))).toEqual([1 + offset, 2 + offset, 3 + offset]);
}

describeWith(['amqp', 'redis'], 'failover URL lists', () => {
  let proxies: Proxy[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    proxies = [];
  });

  test.each([
    ['amqp', `${AMQP_DEAD};${AMQP_DIRECT}`, /cannot connect to broker amqp:\/\/guest:\*\*@127\.0\.0\.1:1\/\//, /connected to broker amqp:\/\/guest:\*\*@127\.0\.0\.1:5672\/\//],
    ['redis', 'redis://127.0.0.1:1/0;redis://127.0.0.1:6379/0', /broker: Cannot connect to broker at redis:\/\/127\.0\.0\.1:1\/0/, /broker: connected to redis:\/\/127\.0\.0\.1:6379\/0/],
  ])('%s: a dead URL first, then the real broker: the worker connects to the second and serves tasks', async (_name, broker, skipped, connected) => {
    const queue = uniqueName('failover');
    let worker: Proc | undefined;
    const app = new Celery({ broker, backend: REDIS_URL, config: { taskDefaultQueue: queue }, env: {} });
    try {
      worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue] });
      expect(worker.output).toMatch(skipped);
      expect(worker.output).toMatch(connected);
      await adds(app, 10);
    } finally {
      await app.close();
      await worker?.stop();
    }
  }, 90000);

  test.each([['amqp'], ['redis']])('%s: after the connection drops, the worker reconnects to the next URL of the list', async (name) => {
    const proxy = await startTcpProxy(name === 'amqp' ? 5672 : 6379);
    proxies.push(proxy);
    const second = name === 'amqp' ? `amqp://guest:guest@127.0.0.1:${proxy.port}//` : `redis://127.0.0.1:${proxy.port}/0`;
    const broker = `${name === 'amqp' ? AMQP_DIRECT : REDIS_URL};${second}`;
    const queue = uniqueName('failover-drop');
    let worker: Proc | undefined;
    const app = new Celery({ broker: name === 'amqp' ? AMQP_DIRECT : REDIS_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue }, env: {} });
    try {
      worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue] });
      await adds(app, 20);
      const pid = worker.child.pid as number;
      const dropped = name === 'amqp' ? closeAmqpConnections(pid) : await killRedisBrokerConnections(pid);
      expect(dropped).toBeGreaterThan(0);
      const masked = second.replace('guest:guest', 'guest:**');
      await worker.waitFor(name === 'amqp' ? new RegExp(`reconnected to broker ${escape(masked)}`) : new RegExp(`reconnecting to ${escape(masked)}`), 30000);
      await adds(app, 30);
      expect(worker.child.exitCode).toBeNull();
    } finally {
      await app.close();
      await worker?.stop();
    }
  }, 90000);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

describeWith(['redis', 'python'], 'Redis Sentinel (sentinel:// broker and result backend)', () => {
  let dir: string;
  let sentinel: { port: number; proc: Proc };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'celeriac-sentinel-'));
    sentinel = await startSentinel(dir, 6379, 'mymaster');
  }, 30000);

  afterAll(async () => {
    await sentinel?.proc.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a worker and a client find the master through the sentinel; a task round-trips', async () => {
    // A dead sentinel first: the list is tried in order, as kombu does.
    const broker = `sentinel://127.0.0.1:1;sentinel://127.0.0.1:${sentinel.port}`;
    const backend = `sentinel://127.0.0.1:${sentinel.port}/0`;
    const options = JSON.stringify({ master_name: 'mymaster' });
    const queue = uniqueName('sentinel');
    let worker: Proc | undefined;
    const app = new Celery({ broker, backend, config: { taskDefaultQueue: queue, brokerTransportOptions: { master_name: 'mymaster' }, resultBackendTransportOptions: { master_name: 'mymaster' } }, env: {} });
    try {
      worker = await startCeleriacWorker({ broker, backend, queues: [queue], env: { CELERY_BROKER_TRANSPORT_OPTIONS: options, CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: options } });
      expect(worker.output).toMatch(/broker: connected to master "mymaster" through sentinel:\/\/127\.0\.0\.1:1;sentinel/);
      await adds(app, 50);
    } finally {
      await app.close();
      await worker?.stop();
    }
  }, 90000);

  test('Python Celery sends through the same sentinel (kombu and SentinelBackend) to a celeriac worker', async () => {
    const url = `sentinel://127.0.0.1:${sentinel.port}/0`;
    const options = JSON.stringify({ master_name: 'mymaster' });
    const queue = uniqueName('sentinel-py');
    const env = { CELERY_BROKER_TRANSPORT_OPTIONS: options, CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: options, CELERY_TASK_DEFAULT_QUEUE: queue };
    let worker: Proc | undefined;
    try {
      worker = await startCeleriacWorker({ broker: url, backend: url, queues: [queue], env });
      const report = await pythonClient({ broker: url, backend: url, extra: env }, { calls: [{ task: 'tasks.add', args: [20, 22] }], wait: true, timeout: 30 });
      expect(report.map((r) => r.result)).toEqual([42]);
    } finally {
      await worker?.stop();
    }
  }, 90000);

  test('without master_name the worker stops with one clear error', async () => {
    const out = await celeriacCli(['worker', '-A', 'interop/tasks.ts', '-b', `sentinel://127.0.0.1:${sentinel.port}`, '-Q', uniqueName('sentinel'), '--result-backend', 'disabled://'], {}, 60000);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/needs transport option master_name/);
  }, 60000);
});

describe('passwords in URL lists, sentinel URLs and TLS settings are never printed', () => {
  test.each([
    ['an AMQP failover list', 'amqp://user:SECRET1@127.0.0.1:1//;amqp://user:SECRET2@127.0.0.1:1//', {}],
    ['a Redis failover list', 'redis://:SECRET1@127.0.0.1:1/0;redis://:SECRET2@127.0.0.1:1/0', {}],
    ['a sentinel list', 'sentinel://:SECRET1@127.0.0.1:1;sentinel://:SECRET2@127.0.0.1:1', { CELERY_BROKER_TRANSPORT_OPTIONS: '{"master_name": "mymaster", "sentinel_kwargs": {"password": "SECRET3"}}' }],
    ['amqps with a missing CA file', 'amqps://user:SECRET1@127.0.0.1:1//', { CELERY_BROKER_USE_SSL: '{"ca_certs": "/nonexistent/ca.pem"}' }],
  ])('%s: the worker fails with the URLs masked', async (_what, broker, env) => {
    const out = await celeriacCli(['worker', '-A', 'interop/tasks.ts', '-b', broker, '-Q', uniqueName('masked'), '-l', 'debug', '--result-backend', 'redis://:SECRET4@127.0.0.1:1/0'], env, 60000);
    const all = `${out.stdout}\n${out.stderr}`;
    expect(out.code).not.toBe(0);
    expect(all).toMatch(/error: /);
    expect(all).not.toMatch(/SECRET/);
  }, 60000);
});
