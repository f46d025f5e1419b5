// The Redis result backend's early subscriptions (SUBSCRIBE + MGET sent with the task message): a result stored
// while the subscriber connection was down is still found, and a result already stored when the task is sent
// leaves no subscription behind.

import { Redis } from 'ioredis';
import { Celery, RedisBackend } from '../../src';
import { describeWith, uniqueName } from '../helpers/env';

// A database of its own: the test writes results by hand.
const URL = 'redis://127.0.0.1:6379/9';

/** The backend's private state, read by these tests only. */
interface BackendInternals {
  early: Map<string, Promise<unknown>>;
  subscriber: Redis | undefined;
}

function internals(app: Celery): BackendInternals {
  const backend = app.backend;
  if (!(backend instanceof RedisBackend)) throw new Error('expected the Redis backend');
  return backend as unknown as BackendInternals;
}

const successMeta = (id: string, result: unknown): string =>
  JSON.stringify({ status: 'SUCCESS', result, traceback: null, children: [], date_done: new Date().toISOString(), task_id: id });

describeWith(['redis'], 'Redis result backend: subscriptions made at send time', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  test('a result stored while the subscriber was reconnecting is read after it is back', async () => {
    const queue = uniqueName('sub-reconnect');
    const app = new Celery({ broker: URL, backend: URL });
    try {
      const sent = await app.sendTask<number>('tasks.add', [1, 2], {}, { queue });
      const state = internals(app);
      expect(await state.early.get(sent.id)).toBeNull(); // the MGET sent with the SUBSCRIBE saw nothing yet
      const subscriber = state.subscriber as Redis;
      // The worker's PUBLISH is lost while the connection is down: store the result without one.
      await redis.set(`celery-task-meta-${sent.id}`, successMeta(sent.id, 3));
      const back = new Promise<void>((resolve) => subscriber.once('ready', () => resolve()));
      subscriber.disconnect(true);
      await back;
      expect(await sent.get({ timeout: 10 })).toBe(3);
    } finally {
      await app.close();
      await redis.del(queue);
    }
  });

  test('a result already stored when the task is sent: get() returns it and no subscription is left', async () => {
    const queue = uniqueName('sub-stored');
    const app = new Celery({ broker: URL, backend: URL });
    const id = `${queue}-task`;
    try {
      await redis.set(`celery-task-meta-${id}`, successMeta(id, 'done before'));
      const sent = await app.sendTask<string>('tasks.echo', [], {}, { queue, taskId: id });
      expect(await sent.get({ timeout: 10 })).toBe('done before');
      const state = internals(app);
      expect(state.early.has(id)).toBe(false);
      // The UNSUBSCRIBE has been sent; a PING on the same connection returns after it was processed.
      await (state.subscriber as Redis).ping();
      const [, subscribers] = (await redis.pubsub('NUMSUB', `celery-task-meta-${id}`)) as [string, number];
      expect(Number(subscribers)).toBe(0);
    } finally {
      await app.close();
      await redis.del(queue, `celery-task-meta-${id}`);
    }
  });
});
