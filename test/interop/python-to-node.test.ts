// Python Celery 5 sends tasks, a celeriac worker runs them, Python's .get() reads the results: on RabbitMQ and
// Redis brokers, with the Redis and RPC result backends.

import { AMQP_URL, describeWith, REDIS_URL, uniqueName, type Need } from '../helpers/env';
import { pythonClient, startCeleriacWorker, type Proc, type PyCall } from '../helpers/processes';

const COMBOS: Array<{ name: string; broker: string; backend: string; needs: Need[] }> = [
  { name: 'redis broker + redis backend', broker: REDIS_URL, backend: REDIS_URL, needs: ['redis', 'python'] },
  { name: 'amqp broker + redis backend', broker: AMQP_URL, backend: REDIS_URL, needs: ['amqp', 'redis', 'python'] },
  { name: 'amqp broker + rpc backend', broker: AMQP_URL, backend: 'rpc://', needs: ['amqp', 'python'] },
  { name: 'redis broker + rpc backend', broker: REDIS_URL, backend: 'rpc://', needs: ['redis', 'python'] },
];

for (const combo of COMBOS) {
  describeWith(combo.needs, `Python producer → celeriac worker (${combo.name})`, () => {
    const queue = uniqueName('py2node');
    const env = { broker: combo.broker, backend: combo.backend };
    let worker: Proc;
    const call = (c: PyCall): PyCall => ({ ...c, options: { queue, ...(c.options ?? {}) } });

    beforeAll(async () => {
      worker = await startCeleriacWorker({ broker: combo.broker, backend: combo.backend, queues: [queue] });
    });
    afterAll(async () => {
      await worker?.stop('SIGTERM');
    });

    test('results come back to Python exactly: positional and keyword calls, strings, lists, unicode, big integers', async () => {
      const results = await pythonClient(env, {
        wait: true,
        calls: [
          call({ task: 'tasks.add', args: [2, 3] }),
          call({ task: 'tasks.add', kwargs: { x: 2, y: 40 } }),
          call({ task: 'tasks.add', args: ['ab'], kwargs: { y: 'cd' } }),
          call({ task: 'tasks.add', args: [[1, 2], [3]] }),
          call({ task: 'tasks.echo', args: [1, 'ünïcødé 🎉', null, [true, false], { nested: { deep: [1.5] } }], kwargs: { big: 18446744073709551617n, neg: -9223372036854775808n } }),
        ],
      });
      expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
      expect(results[0].result).toBe(5);
      expect(results[1].result).toBe(42);
      expect(results[2].result).toBe('abcd');
      expect(results[3].result).toEqual([1, 2, 3]);
      expect(results[4].result).toEqual([
        [1, 'ünïcødé 🎉', null, [true, false], { nested: { deep: [1.5] } }],
        { big: 18446744073709551617n, neg: -9223372036854775808n },
      ]);
      expect(results[0].state).toBe('SUCCESS');
    });

    test('a failing task raises ValueError in Python with its message and a traceback', async () => {
      const [r] = await pythonClient(env, { wait: true, calls: [call({ task: 'tasks.fail', args: ['boom from node'] })] });
      expect(r.ok).toBe(false);
      expect(r.exc_class).toBe('ValueError');
      expect(r.exc_module).toBe('builtins');
      expect(r.exc_str).toBe('boom from node');
      expect(r.state).toBe('FAILURE');
      expect(r.traceback).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*ValueError: boom from node\n$/);
      expect(r.traceback).toContain('interop/tasks.ts');
    });

    test('a call that does not fit the task raises TypeError like Python', async () => {
      const results = await pythonClient(env, {
        wait: true,
        calls: [
          call({ task: 'tasks.add', args: [1, 2, 3] }),
          call({ task: 'tasks.add', args: [1] }),
          call({ task: 'tasks.add', args: [1], kwargs: { x: 2 } }),
          call({ task: 'tasks.add', args: [1, 2], kwargs: { z: 3 } }),
        ],
      });
      expect(results.map((r) => r.exc_class)).toEqual(['TypeError', 'TypeError', 'TypeError', 'TypeError']);
      expect(results.map((r) => r.exc_str)).toEqual([
        'add() takes 2 positional arguments but 3 were given',
        "add() missing 1 required positional argument: 'y'",
        "add() got multiple values for argument 'x'",
        "add() got an unexpected keyword argument 'z'",
      ]);
    });

    test('an unregistered task is rejected and fails with NotRegistered; the worker keeps serving', async () => {
      const results = await pythonClient(env, {
        wait: true,
        calls: [call({ task: 'tasks.does_not_exist', args: [1] }), call({ task: 'tasks.add', args: [1, 1] })],
      });
      expect(results[0].ok).toBe(false);
      expect(results[0].exc_class).toBe('NotRegistered');
      expect(results[0].exc_module).toBe('celery.exceptions');
      expect(results[0].exc_args).toEqual(['tasks.does_not_exist']);
      expect(results[1].result).toBe(2);
      await worker.waitFor(/Received unregistered task of type 'tasks\.does_not_exist'/);
    });

    test('a pickle message is refused (nothing stored, nothing run) and the worker keeps serving', async () => {
      const [pickled] = await pythonClient(env, { wait: false, calls: [call({ task: 'tasks.add', args: [7, 7], options: { serializer: 'pickle' } })] });
      const [after] = await pythonClient(env, { wait: true, calls: [call({ task: 'tasks.add', args: [8, 8] })] });
      expect(after.result).toBe(16);
      await worker.waitFor(/Refusing to deserialize untrusted content of type pickle \(application\/x-python-serialize\)/);
      expect(worker.output).not.toContain(`tasks.add[${pickled.id}] succeeded`);
    });

    if (combo.backend !== 'rpc://') {
      test('PROGRESS states with {current, total} are visible to Python while the task runs', async () => {
        const [r] = await pythonClient(env, { wait: true, collect_states: true, timeout: 30, calls: [call({ task: 'tasks.progress', args: [3] })] });
        expect(r.result).toBe(3);
        const progress = (r.states ?? []).filter((s) => s.state === 'PROGRESS').map((s) => s.meta);
        expect(progress.length).toBeGreaterThanOrEqual(2);
        for (const m of progress) expect(m).toEqual({ current: expect.any(Number), total: 3 });
      });
    }
  });
}
