// Worker lifecycle with Python producers: warm shutdown finishes in-flight work, a second signal returns unfinished
// messages (cold), and under acksLate on Redis a SIGKILLed worker's message is restored after the visibility
// timeout — by a celeriac worker or by a Python worker — and then completed.

import { Redis } from 'ioredis';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { pythonClient, startCeleriacWorker, startPythonWorker } from '../helpers/processes';

const env = { broker: REDIS_URL, backend: REDIS_URL };
/**
 * The restore tests use their own database: kombu's `unacked`, `unacked_index` and `unacked_mutex` are shared by
 * every worker of a database, and other suites (or a developer's workers) must not be restored, or lock, here.
 */
const KILL_URL = REDIS_URL.replace(/\/\d*$/, '/3');
const killEnv = { broker: KILL_URL, backend: KILL_URL };

describeWith(['redis', 'amqp', 'python'], 'warm and cold shutdown', () => {
  test.each([
    ['redis', REDIS_URL],
    ['amqp', AMQP_URL],
  ])('SIGTERM on %s: the running task finishes, its result is stored, the worker exits 0', async (_name, broker) => {
    const queue = uniqueName('warm');
    const worker = await startCeleriacWorker({ broker, backend: REDIS_URL, queues: [queue] });
    const [sent] = await pythonClient({ broker, backend: REDIS_URL }, { wait: false, calls: [{ task: 'tasks.sleep', args: [1.5], options: { queue } }] });
    await worker.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] received`));
    const code = await worker.stop('SIGTERM');
    expect(code).toBe(0);
    expect(worker.output).toMatch(/Warm shutdown/);
    expect(worker.output).toMatch(new RegExp(`tasks\\.sleep\\[${sent.id}\\] succeeded`));
    const app = new Celery({ broker, backend: REDIS_URL });
    try {
      expect(await app.AsyncResult(sent.id).get({ timeout: 5 })).toBe(1.5);
    } finally {
      await app.close();
    }
  });

  test('a second signal is a cold shutdown: an acksLate message goes back to the queue and runs on the next worker', async () => {
    const queue = uniqueName('cold');
    const lateEnv = { CELERY_TASK_ACKS_LATE: 'true' };
    const first = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], env: lateEnv });
    const [sent] = await pythonClient(env, { wait: false, calls: [{ task: 'tasks.sleep', args: [30], options: { queue } }] });
    await first.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] received`));
    first.child.kill('SIGTERM');
    await first.waitFor(/Warm shutdown/);
    const code = await first.stop('SIGINT');
    expect(code).toBe(1);
    expect(first.output).toMatch(/Cold shutdown/);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.llen(queue)).toBe(1);
    } finally {
      redis.disconnect();
    }
    const second = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue] });
    await second.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] received`));
    await second.stop('SIGKILL');
  });
});

describeWith(['redis', 'python'], 'SIGKILL under acksLate on Redis: restored after the visibility timeout, then completed', () => {
  const lateEnv = {
    CELERY_TASK_ACKS_LATE: 'true',
    CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify({ visibility_timeout: 2, unacked_restore_interval: 0.5 }),
  };

  jest.setTimeout(120000); // a loaded machine starts Python slowly; the waits below are events, not sleeps

  test('restored by another celeriac worker', async () => {
    const queue = uniqueName('kill-node');
    const victim = await startCeleriacWorker({ broker: KILL_URL, backend: KILL_URL, queues: [queue], env: lateEnv });
    const [sent] = await pythonClient(killEnv, { wait: false, calls: [{ task: 'tasks.sleep', args: [0.5], options: { queue } }] });
    await victim.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] received`));
    await victim.stop('SIGKILL');
    const redis = new Redis(KILL_URL);
    try {
      expect(await redis.hexists('unacked', await findTag(redis, sent.id))).toBe(1);
    } finally {
      redis.disconnect();
    }
    const rescuer = await startCeleriacWorker({ broker: KILL_URL, backend: KILL_URL, queues: [queue], env: lateEnv });
    try {
      const [done] = await resultOf(sent.id);
      expect(done).toBe(0.5);
      expect(rescuer.output).toMatch(/Restored 1 message\(s\)/);
      expect(rescuer.output).toMatch(new RegExp(`tasks\\.sleep\\[${sent.id}\\] succeeded`));
    } finally {
      await rescuer.stop();
    }
  });

  test('restored by a Python Celery worker (kombu reads celeriac’s unacked bookkeeping)', async () => {
    const queue = uniqueName('kill-py');
    const victim = await startCeleriacWorker({ broker: KILL_URL, backend: KILL_URL, queues: [queue], env: lateEnv });
    const [sent] = await pythonClient(killEnv, { wait: false, calls: [{ task: 'tasks.sleep', args: [0.25], options: { queue } }] });
    await victim.waitFor(new RegExp(`tasks\\.sleep\\[${sent.id}\\] received`));
    await victim.stop('SIGKILL');
    // kombu restores at consumer start (then only every ~100 s): start Python once the message is past its
    // visibility timeout, computed from the unacked_index score the victim wrote.
    const redis = new Redis(KILL_URL);
    try {
      const score = Number(await redis.zscore('unacked_index', await findTag(redis, sent.id)));
      const wait = score * 1000 + 2500 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    } finally {
      redis.disconnect();
    }
    const python = await startPythonWorker({
      broker: KILL_URL,
      backend: KILL_URL,
      queues: [queue],
      env: { CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify({ visibility_timeout: 2 }) },
    });
    try {
      const [done] = await resultOf(sent.id);
      expect(done).toBe(0.25);
      await python.waitFor(new RegExp(`Task tasks\\.sleep\\[${sent.id}\\] succeeded`), 30000);
    } finally {
      await python.stop();
    }
  });
});

/** The Redis delivery tag of a task id, from the unacked hash. */
async function findTag(redis: Redis, taskId: string): Promise<string> {
  const all = await redis.hgetall('unacked');
  for (const [tag, payload] of Object.entries(all)) if (payload.includes(taskId)) return tag;
  throw new Error(`task ${taskId} is not in unacked`);
}

async function resultOf(id: string): Promise<[unknown]> {
  const app = new Celery({ broker: KILL_URL, backend: KILL_URL });
  try {
    return [await app.AsyncResult(id).get({ timeout: 90 })];
  } finally {
    await app.close();
  }
}
