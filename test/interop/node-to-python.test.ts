// The celeriac client sends tasks, a Python Celery 5 worker runs them, the celeriac client reads the results:
// on RabbitMQ and Redis brokers, with the Redis and RPC result backends.

import { Celery, TaskError } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName, type Need } from '../helpers/env';
import { startPythonWorker, type Proc } from '../helpers/processes';

const COMBOS: Array<{ name: string; broker: string; backend: string; needs: Need[] }> = [
  { name: 'redis broker + redis backend', broker: REDIS_URL, backend: REDIS_URL, needs: ['redis', 'python'] },
  { name: 'amqp broker + redis backend', broker: AMQP_URL, backend: REDIS_URL, needs: ['amqp', 'redis', 'python'] },
  { name: 'amqp broker + rpc backend', broker: AMQP_URL, backend: 'rpc://', needs: ['amqp', 'python'] },
  { name: 'redis broker + rpc backend', broker: REDIS_URL, backend: 'rpc://', needs: ['redis', 'python'] },
];

for (const combo of COMBOS) {
  describeWith(combo.needs, `celeriac client → Python worker (${combo.name})`, () => {
    const queue = uniqueName('node2py');
    let worker: Proc;
    let app: Celery;

    beforeAll(async () => {
      worker = await startPythonWorker({ broker: combo.broker, backend: combo.backend, queues: [queue], concurrency: 4 });
      app = new Celery({ broker: combo.broker, backend: combo.backend, config: { taskDefaultQueue: queue } });
    });
    afterAll(async () => {
      await app?.close();
      await worker?.stop('SIGTERM');
    });

    test('delay and applyAsync results come back exactly (numbers, strings, kwargs, unicode, big integers)', async () => {
      const add = app.remoteTask<[unknown, unknown], unknown>('tasks.add');
      const echo = app.remoteTask('tasks.echo');
      const r1 = await add.delay(2, 3);
      const r2 = await add.applyAsync([], { x: 'py', y: 'thon' });
      const r3 = await echo.applyAsync(['ünïcødé 🎉', 18446744073709551617n, null, { a: [1.5, true] }], { k: -9223372036854775808n });
      expect(await r1.get({ timeout: 20 })).toBe(5);
      expect(await r2.get({ timeout: 20 })).toBe('python');
      expect(await r3.get({ timeout: 20 })).toEqual([['ünïcødé 🎉', 18446744073709551617n, null, { a: [1.5, true] }], { k: -9223372036854775808n }]);
      expect(await r1.status).toBe('SUCCESS');
      expect(await r1.successful()).toBe(true);
    });

    test('a Python failure surfaces as TaskError carrying excType, message and traceback', async () => {
      const r = await app.sendTask('tasks.fail', ['python says no']);
      const err = await r.get({ timeout: 20 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TaskError);
      const te = err as TaskError;
      expect(te.excType).toBe('ValueError');
      expect(te.excModule).toBe('builtins');
      expect(te.message).toBe('python says no');
      expect(te.traceback).toMatch(/ValueError: python says no/);
      expect(await r.status).toBe('FAILURE');
      expect(await r.failed()).toBe(true);
    });

    test('a task unknown to the Python worker fails with NotRegistered', async () => {
      const r = await app.sendTask('tasks.not_in_python', []);
      await expect(r.get({ timeout: 20 })).rejects.toMatchObject({ excType: 'NotRegistered', excModule: 'celery.exceptions' });
    });

    if (combo.backend !== 'rpc://') {
      test('progress updates from a Python task are seen through updates()', async () => {
        const r = await app.sendTask<number>('tasks.progress', [3]);
        const seen: string[] = [];
        for await (const meta of r.updates()) {
          seen.push(meta.status);
          if (meta.status === 'PROGRESS') expect(meta.result).toMatchObject({ total: 3 });
        }
        expect(seen).toContain('PROGRESS');
        expect(seen[seen.length - 1]).toBe('SUCCESS');
        expect(await r.result).toBe(3);
        await r.forget();
        expect(await r.status).toBe('PENDING');
      });
    }
  });
}
