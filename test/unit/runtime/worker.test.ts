// Worker logic on the in-process memory broker and backend: results and states, retries, Reject/Ignore, time
// limits, ack timing, revocation, expiry, ETA, concurrency and warm/cold shutdown. Fast; the real brokers are
// covered by test/integration and test/interop.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Celery, Ignore, MemoryBroker, Reject, TaskError, ValueError, Worker } from '../../../src';
import { until } from '../../helpers/env';

function memoryApp(config: Record<string, unknown> = {}): { app: Celery; url: string } {
  const url = `memory://${randomUUID()}`;
  return { app: new Celery({ broker: url, backend: url, config }), url };
}

async function withWorker<T>(app: Celery, fn: (w: Worker) => Promise<T>, concurrency = 4): Promise<T> {
  const w = new Worker(app, { concurrency });
  await w.start();
  try {
    return await fn(w);
  } finally {
    await w.stop();
  }
}

describe('worker on memory://', () => {
  test('runs tasks and stores SUCCESS / FAILURE with Python exception info', async () => {
    const { app } = memoryApp();
    app.task('t.add', { params: ['x', 'y'] }, (x: number, y: number) => x + y);
    app.task('t.fail', () => {
      throw new ValueError('bad');
    });
    await withWorker(app, async () => {
      expect(await (await app.sendTask('t.add', [2, 3])).get({ timeout: 5 })).toBe(5);
      const err = await (await app.sendTask('t.fail')).get({ timeout: 5 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TaskError);
      expect(err).toMatchObject({ excType: 'ValueError', excModule: 'builtins', message: 'bad', state: 'FAILURE' });
    });
  });

  test('retry re-sends the same id with retries + 1 and ends in MaxRetriesExceededError', async () => {
    const { app } = memoryApp();
    const seen: number[] = [];
    app.task('t.retry', { maxRetries: 2 }, function () {
      seen.push(this.request.retries);
      return this.retry({ countdown: 0.01 });
    });
    await withWorker(app, async () => {
      const r = await app.sendTask('t.retry');
      await expect(r.get({ timeout: 5 })).rejects.toMatchObject({ excType: 'MaxRetriesExceededError' });
      expect(seen).toEqual([0, 1, 2]);
    });
  });

  test('autoretryFor retries matching errors with backoff, then raises the error itself', async () => {
    const { app } = memoryApp();
    let calls = 0;
    app.task('t.auto', { autoretryFor: [RangeError], maxRetries: 2, retryBackoff: 0.01, retryJitter: false }, () => {
      calls++;
      throw new RangeError('flaky backend');
    });
    await withWorker(app, async () => {
      const r = await app.sendTask('t.auto');
      await expect(r.get({ timeout: 5 })).rejects.toMatchObject({ excType: 'ValueError', message: 'flaky backend' });
      expect(calls).toBe(3);
    });
  });

  test('Reject(requeue=false) and Ignore store nothing; the message is settled', async () => {
    const { app, url } = memoryApp();
    app.task('t.reject', () => {
      throw new Reject('no thanks', false);
    });
    app.task('t.ignore', () => {
      throw new Ignore();
    });
    app.task('t.ok', () => 'ok');
    await withWorker(app, async (w) => {
      const a = await app.sendTask('t.reject');
      const b = await app.sendTask('t.ignore');
      expect(await (await app.sendTask('t.ok')).get({ timeout: 5 })).toBe('ok');
      await until(() => w.processedTotal === 3);
      expect(await a.status).toBe('PENDING');
      expect(await b.status).toBe('PENDING');
      expect(new MemoryBroker(url).size('celery')).toBe(0);
    });
  });

  test('hard time limit fails the task with TimeLimitExceeded and frees its slot', async () => {
    const { app } = memoryApp();
    app.task('t.hang', { timeLimit: 0.05 }, () => new Promise(() => undefined));
    app.task('t.ok', () => 'ok');
    await withWorker(app, async () => {
      const hang = await app.sendTask('t.hang');
      await expect(hang.get({ timeout: 5 })).rejects.toMatchObject({ excType: 'TimeLimitExceeded', excModule: 'billiard.exceptions' });
      expect(await (await app.sendTask('t.ok')).get({ timeout: 5 })).toBe('ok');
    }, 1);
  });

  test('early ack happens when the task starts; acksLate after the result is stored', async () => {
    for (const acksLate of [false, true]) {
      const { app, url } = memoryApp({ taskAcksLate: acksLate });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      app.task('t.wait', () => gate.then(() => 'done'));
      const broker = new MemoryBroker(url);
      await withWorker(app, async (w) => {
        const r = await app.sendTask('t.wait');
        await until(() => w.active.size > 0);
        const req = [...w.active.values()][0].request;
        expect(req.acknowledged).toBe(!acksLate);
        release();
        expect(await r.get({ timeout: 5 })).toBe('done');
        await until(() => req.acknowledged);
        expect(broker.size('celery')).toBe(0);
      });
    }
  });

  test('revoked ids and expired messages are discarded as REVOKED', async () => {
    const { app } = memoryApp();
    app.task('t.ok', () => 'ok');
    await withWorker(app, async (w) => {
      w.revoked.add('revoked-id');
      const revoked = await app.sendTask('t.ok', [], {}, { taskId: 'revoked-id' });
      await expect(revoked.get({ timeout: 5 })).rejects.toMatchObject({ excType: 'TaskRevokedError', excMessage: ['revoked'] });
      const expired = await app.sendTask('t.ok', [], {}, { expires: new Date(Date.now() - 1000) });
      await expect(expired.get({ timeout: 5 })).rejects.toMatchObject({ excType: 'TaskRevokedError', excMessage: ['expired'], state: 'REVOKED' });
    });
  });

  test('ETA tasks are held without blocking others, then run', async () => {
    const { app } = memoryApp();
    const order: string[] = [];
    app.task('t.mark', { params: ['name'] }, (name: string) => order.push(name));
    await withWorker(app, async (w) => {
      const later = await app.sendTask('t.mark', ['later'], {}, { countdown: 0.2 });
      const now = await app.sendTask('t.mark', ['now']);
      await now.get({ timeout: 5 });
      expect(w.admission.heldCount).toBe(1);
      await later.get({ timeout: 5 });
      expect(order).toEqual(['now', 'later']);
      expect(w.admission.heldCount).toBe(0);
    });
  });

  test('concurrency bounds the tasks running at once', async () => {
    const { app } = memoryApp();
    let running = 0;
    let peak = 0;
    app.task('t.io', async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
    });
    await withWorker(app, async () => {
      const rs = await Promise.all(Array.from({ length: 12 }, () => app.sendTask('t.io')));
      await Promise.all(rs.map((r) => r.get({ timeout: 5 })));
    }, 3);
    expect(peak).toBe(3);
  });

  test('warm shutdown finishes running tasks and returns prefetched ones to the queue', async () => {
    const { app, url } = memoryApp();
    app.task('t.slow', async () => {
      await sleep(100);
      return 'finished';
    });
    const w = new Worker(app, { concurrency: 1, prefetchMultiplier: 4 });
    await w.start();
    const first = await app.sendTask('t.slow');
    for (let i = 0; i < 3; i++) await app.sendTask('t.slow');
    await until(() => w.active.size > 0);
    await w.stop();
    const check = new Celery({ broker: url, backend: url });
    expect(await check.AsyncResult(first.id).get({ timeout: 1 })).toBe('finished');
    expect(new MemoryBroker(url).size('celery')).toBe(3);
  });
});
