// Dropped broker connections: the worker reconnects with backoff, resumes consuming and loses nothing (acksLate),
// on RabbitMQ (the server closes our connection) and Redis (CLIENT KILL of every connection of the worker).

import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { startCeleriacWorker, type Proc } from '../helpers/processes';

/** Close the RabbitMQ connections of one process (named `celeriac <pid>@host` by the AMQP transport). */
function closeAmqpConnections(pid: number): number {
  const out = execFileSync('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { encoding: 'utf8' });
  const pids = out.split('\n').filter((l) => l.includes(`"celeriac ${pid}@`)).map((l) => l.split('\t')[0]);
  for (const p of pids) execFileSync('rabbitmqctl', ['-q', 'close_connection', p, 'reconnect test'], { stdio: 'ignore' });
  return pids.length;
}

/** Kill the Redis connections of one process (named `celeriac:<what>:<pid>` by the Redis transport and backend). */
async function killRedisConnections(redis: Redis, pid: number): Promise<number> {
  const list = (await redis.client('LIST')) as string;
  const ids = list.split('\n').filter((l) => new RegExp(`name=celeriac:[^ ]*:${pid} `).test(l)).map((l) => /id=(\d+)/.exec(l)?.[1]);
  for (const id of ids) if (id) await redis.client('KILL', 'ID', id);
  return ids.length;
}

async function sendAndCheck(app: Celery, n: number, offset: number): Promise<void> {
  const rs = await Promise.all(Array.from({ length: n }, (_, i) => app.sendTask<number>('tasks.add', [i, offset])));
  const values = await Promise.all(rs.map((r) => r.get({ timeout: 60 })));
  expect(values).toEqual(Array.from({ length: n }, (_, i) => i + offset));
}

describeWith(['amqp', 'redis'], 'reconnecting after the broker drops the connection', () => {
  test.each([
    ['amqp', AMQP_URL],
    ['redis', REDIS_URL],
  ])('%s: tasks sent before, during and after the drop all complete', async (name, broker) => {
    const queue = uniqueName(`reconnect-${name}`);
    let worker: Proc | undefined;
    const app = new Celery({ broker, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    const admin = new Redis(REDIS_URL);
    try {
      worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue], concurrency: 8, env: { CELERY_TASK_ACKS_LATE: 'true' } });
      await sendAndCheck(app, 20, 100);
      const inFlight = Promise.all(Array.from({ length: 50 }, (_, i) => app.sendTask<number>('tasks.sleep', [0.01 * (i % 5)])));
      const pid = worker.child.pid as number;
      const dropped = name === 'amqp' ? closeAmqpConnections(pid) : await killRedisConnections(admin, pid);
      expect(dropped).toBeGreaterThan(0);
      await worker.waitFor(name === 'amqp' ? /reconnected to broker/ : /connection to .* lost; reconnecting/);
      const during = await inFlight;
      await Promise.all(during.map((r) => r.get({ timeout: 60 })));
      await sendAndCheck(app, 20, 200);
      expect(worker.child.exitCode).toBeNull();
    } finally {
      admin.disconnect();
      await app.close();
      await worker?.stop();
    }
  }, 120000);
});
