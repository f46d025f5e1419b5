// Held ETA messages on the real brokers: ten thousand of them do not stop immediate tasks (nor cost much memory),
// an ETA longer than the Redis visibility timeout runs exactly once, and far-future ETAs on RabbitMQ are
// re-published instead of held past consumer_timeout.

import * as fs from 'node:fs';
import { Redis } from 'ioredis';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { startCeleriacWorker } from '../helpers/processes';

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

describeWith(['redis', 'amqp'], 'ten thousand held ETA messages', () => {
  test.each([
    ['redis', REDIS_URL],
    ['amqp', AMQP_URL],
  ])('%s: immediate tasks still run while 10 000 countdown tasks are held', async (_name, broker) => {
    // (180 s budget: pushing 10 000 messages through a loaded 2-core machine is slow, not wrong)
    const queue = uniqueName('eta-many');
    const app = new Celery({ broker, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    const worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue], concurrency: 4, loglevel: 'warning' });
    try {
      const before = rssKb(worker.child.pid as number);
      const held = 10000;
      for (let i = 0; i < held; i += 500) {
        await Promise.all(Array.from({ length: Math.min(500, held - i) }, () => app.sendTask('tasks.add', [1, 1], {}, { countdown: 3600, ignoreResult: true })));
      }
      const quick = await Promise.all(Array.from({ length: 20 }, (_, i) => app.sendTask<number>('tasks.add', [i, 1000])));
      const values = await Promise.all(quick.map((r) => r.get({ timeout: 60 })));
      expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i + 1000));
      const after = rssKb(worker.child.pid as number);
      process.stderr.write(`[eta-many ${_name}] worker RSS ${Math.round(before / 1024)} MB → ${Math.round(after / 1024)} MB with ${held} held\n`);
      expect(after - before).toBeLessThan(150 * 1024); // generous bound: the benchmark measures memory, not tests
    } finally {
      await worker.stop('SIGTERM', 60000);
      await app.broker.purge(queue).catch(() => undefined);
      await app.close();
    }
  }, 180000);
});

describeWith(['redis'], 'an ETA longer than the Redis visibility timeout', () => {
  test('is not restored to another worker and runs exactly once', async () => {
    const queue = uniqueName('eta-vt');
    const env = { CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify({ visibility_timeout: 1, unacked_restore_interval: 0.25 }) };
    const [a, b] = await Promise.all([
      startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], env }),
      startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], env }),
    ]);
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    try {
      const r = await app.sendTask<number>('tasks.add', [20, 1], {}, { countdown: 4 });
      expect(await r.get({ timeout: 30 })).toBe(21);
      const count = (re: RegExp): number => a.count(re) + b.count(re);
      expect(count(new RegExp(`tasks\\.add\\[${r.id}\\] succeeded`))).toBe(1);
      // Received once: the held message was never restored to the queue and delivered again.
      expect(count(new RegExp(`tasks\\.add\\[${r.id}\\] received`))).toBe(1);
    } finally {
      await app.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describeWith(['amqp', 'redis'], 'a far-future ETA on RabbitMQ', () => {
  test('is re-published rather than held unacked, and runs once when due', async () => {
    const queue = uniqueName('eta-far');
    const env = { CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify({ eta_hold_max: 1 }) };
    const worker = await startCeleriacWorker({ broker: AMQP_URL, backend: REDIS_URL, queues: [queue], env });
    const app = new Celery({ broker: AMQP_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    try {
      const r = await app.sendTask<number>('tasks.add', [2, 40], {}, { countdown: 3.5 });
      expect(await r.get({ timeout: 30 })).toBe(42);
      expect(worker.output).toMatch(new RegExp(`tasks\\.add\\[${r.id}\\] ETA .* is far off: re-publishing`));
      expect((worker.output.match(new RegExp(`tasks\\.add\\[${r.id}\\] succeeded`, 'g')) ?? []).length).toBe(1);
    } finally {
      await app.close();
      await worker.stop();
    }
  });
});

describeWith(['redis'], 'settings from a config file', () => {
  test('--config applies Celery settings (here: task_default_rate_limit and result_extended)', async () => {
    const queue = uniqueName('cfg');
    const file = `/tmp/${queue}.json`;
    fs.writeFileSync(file, JSON.stringify({ result_extended: true, worker_prefetch_multiplier: 1 }));
    const worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], extraArgs: ['--config', file] });
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    const redis = new Redis(REDIS_URL);
    try {
      const r = await app.sendTask('tasks.add', [1, 2]);
      expect(await r.get({ timeout: 20 })).toBe(3);
      expect(JSON.parse((await redis.get(`celery-task-meta-${r.id}`)) as string)).toMatchObject({ name: 'tasks.add', args: [1, 2] });
      expect(worker.output).toMatch(/prefetch 4\)/); // -c 4 × multiplier 1
    } finally {
      redis.disconnect();
      await app.close();
      await worker.stop();
      fs.unlinkSync(file);
    }
  });
});
