// A celeriac worker killed while it waits on an empty Redis queue loses nothing: the idle wait (BLMOVE onto the same
// list) never removes a message, so a message that arrives while the worker is frozen stays in the queue.

import { Redis } from 'ioredis';
import { Celery } from '../../src';
import { describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { startCeleriacWorker, type Proc } from '../helpers/processes';

/** The CLIENT LIST line of the worker's blocking consumer connection (named `celeriac:broker-consumer-:<pid>`). */
async function consumerConnection(redis: Redis, pid: number): Promise<string | undefined> {
  const list = (await redis.client('LIST')) as string;
  return list.split('\n').find((l) => new RegExp(`name=celeriac:broker-consumer[^ ]*:${pid} `).test(l));
}

describeWith(['redis'], 'Redis consumer killed while idle', () => {
  test('a message published while the worker is frozen in its idle wait is still in the queue, and runs on the next worker', async () => {
    const queue = uniqueName('idle-kill');
    // One priority step: the queue is one list, so the idle wait always watches it.
    const env = { CELERY_TASK_ACKS_LATE: 'true', CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify({ priority_steps: [0] }) };
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue, brokerTransportOptions: { priority_steps: [0] } } });
    const redis = new Redis(REDIS_URL);
    let first: Proc | undefined;
    let second: Proc | undefined;
    try {
      first = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], concurrency: 2, env });
      const pid = first.child.pid as number;
      // Wait until the consumer connection is blocked in its idle wait (flag b), then freeze the process there.
      const deadline = Date.now() + 20000;
      for (;;) {
        const line = await consumerConnection(redis, pid);
        if (line && / flags=[^ ]*b/.test(line)) break;
        if (Date.now() > deadline) throw new Error(`the worker's consumer never blocked: ${line ?? 'no connection'}`);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      first.child.kill('SIGSTOP');
      const sent = await app.sendTask<number>('tasks.add', [20, 22]);
      // A popping wait (BRPOP) would have handed the message to the frozen worker, leaving it in neither the queue nor
      // "unacked"; the rotating wait leaves it where it was.
      expect(await redis.llen(queue)).toBe(1);
      first.child.kill('SIGKILL');
      await first.exited;
      second = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], concurrency: 2, env });
      expect(await sent.get({ timeout: 30 })).toBe(42);
    } finally {
      first?.child.kill('SIGKILL');
      await second?.stop();
      await redis.del(queue);
      redis.disconnect();
      await app.close();
    }
  }, 90000);
});
