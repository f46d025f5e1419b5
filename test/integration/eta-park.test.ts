// ETA holds on Redis park their message: the worker keeps only ids and times while the body stays in kombu's
// `unacked` hash, reads it back when due and runs it with its arguments intact. A parked message that vanished from
// `unacked` (purged by hand) is logged and dropped; warm shutdown returns parked messages to the queue.

import { Redis } from 'ioredis';
import { Celery, createLogger, Worker, type Logger } from '../../src';
import { describeWith, uniqueName } from '../helpers/env';

// A database of its own: the test reads and edits the shared `unacked` hash.
const URL = 'redis://127.0.0.1:6379/8';

function capturingLogger(): { logger: Logger; lines: string[]; next(re: RegExp): Promise<string> } {
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  const logger = createLogger({
    level: 'info',
    write: (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.re.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    },
  });
  const next = (re: RegExp): Promise<string> => {
    const seen = lines.find((l) => re.test(l));
    return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ re, resolve }));
  };
  return { logger, lines, next };
}

/** An in-process worker on `queue` running tasks.echo, its captured log, and a separate client app. */
async function startEchoWorker(queue: string): Promise<{ log: ReturnType<typeof capturingLogger>; app: Celery; worker: Worker; client: Celery }> {
  const log = capturingLogger();
  const app = new Celery({ broker: URL, backend: URL, logger: log.logger });
  app.task('tasks.echo', { params: ['*args', '**kwargs'] }, (args: unknown[], kwargs: Record<string, unknown>) => [args, kwargs]);
  const worker = new Worker(app, { queues: [queue], concurrency: 2, logger: log.logger });
  await worker.start();
  return { log, app, worker, client: new Celery({ broker: URL, backend: URL }) };
}

describeWith(['redis'], 'ETA holds park their message on Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  test('held messages leave memory, come back from "unacked" when due and run with their arguments', async () => {
    const queue = uniqueName('park');
    const { log, app, worker, client } = await startEchoWorker(queue);
    try {
      const big = 2n ** 64n + 1n;
      const sent = await Promise.all([0, 1, 2].map((i) => client.sendTask<unknown>('tasks.echo', [i, 'text', big], { k: { nested: [i] } }, { queue, countdown: 3 })));
      for (const r of sent) await log.next(new RegExp(`tasks\\.echo\\[${r.id}\\] received`));
      const held = worker.admission.scheduled;
      expect(held.map((r) => r.id).sort()).toEqual(sent.map((r) => r.id).sort());
      expect(held.every((r) => r.isParked)).toBe(true);
      // While parked, what inspect shows comes from the reprs; the body is only in Redis.
      expect(held[0].data.args).toEqual([]);
      expect(held[0].data.argsrepr).toMatch(/'text'/);
      // The eta as the sender wrote it, for inspect scheduled.
      const sentEta = JSON.parse((await redis.hvals('unacked'))[0])[0].headers.eta as string;
      expect(held.map((r) => r.data.eta)).toContain(sentEta);
      expect(await redis.hlen('unacked')).toBe(3);

      // One of them disappears from "unacked" (an operator's purge): it is dropped with a warning, the others run.
      await redis.hdel('unacked', await tagOf(redis, sent[1].id));
      const results = await Promise.all([sent[0], sent[2]].map((r) => r.get({ timeout: 30 })));
      expect(results).toEqual([
        [[0, 'text', big], { k: { nested: [0] } }],
        [[2, 'text', big], { k: { nested: [2] } }],
      ]);
      await log.next(new RegExp(`Held task tasks\\.echo\\[${sent[1].id}\\] is no longer in the broker's unacked messages`));
      expect(await redis.hlen('unacked')).toBe(0);
      expect(worker.admission.heldCount).toBe(0);
    } finally {
      await worker.stop();
      await client.close();
      await app.close();
      await redis.del(queue);
    }
  }, 60000);

  test('warm shutdown returns parked messages to the queue, unchanged', async () => {
    const queue = uniqueName('park-stop');
    const { log, app, worker, client } = await startEchoWorker(queue);
    try {
      const sent = await Promise.all([0, 1].map((i) => client.sendTask('tasks.echo', [i], {}, { queue, countdown: 600 })));
      for (const r of sent) await log.next(new RegExp(`tasks\\.echo\\[${r.id}\\] received`));
      expect(worker.admission.scheduled.every((r) => r.isParked)).toBe(true);
      await worker.stop();
      expect(await redis.hlen('unacked')).toBe(0);
      const back = (await redis.lrange(queue, 0, -1)).map((raw) => (JSON.parse(raw) as { headers: { id: string; eta: string } }).headers);
      expect(back.map((h) => h.id).sort()).toEqual(sent.map((r) => r.id).sort());
      expect(back.every((h) => typeof h.eta === 'string')).toBe(true);
    } finally {
      await client.close();
      await app.close();
      await redis.del(queue);
    }
  }, 60000);
});

/** The delivery tag under which a task's message sits in "unacked". */
async function tagOf(redis: Redis, taskId: string): Promise<string> {
  const entries = await redis.hgetall('unacked');
  for (const [tag, value] of Object.entries(entries)) if (value.includes(taskId)) return tag;
  throw new Error(`task ${taskId} is not in unacked`);
}
