// The celeriac CLI as a user drives it: `call --wait` against a running worker, `result`, an unreachable broker,
// and `demo` with no services at all.

import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { celeriacCli, startCeleriacWorker, type Proc } from '../helpers/processes';

describeWith(['redis'], 'celeriac call / result against a celeriac worker on Redis', () => {
  const queue = uniqueName('cli');
  let worker: Proc;
  const common = ['-b', REDIS_URL, '--result-backend', REDIS_URL, '--queue', queue];

  beforeAll(async () => {
    worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue] });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  test('call --wait prints the id, then the result as JSON on the last stdout line', async () => {
    const out = await celeriacCli(['call', 'tasks.add', '--args', '[2, 3]', '--wait', '--timeout', '20', ...common]);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[lines.length - 1]).toBe('5');
    const kw = await celeriacCli(['call', 'tasks.echo', '--args', '["a"]', '--kwargs', '{"k": [1, null]}', '--wait', '--timeout', '20', ...common]);
    expect(JSON.parse(kw.stdout.trim().split('\n').pop() as string)).toEqual([['a'], { k: [1, null] }]);
  });

  test('call --wait on a failure prints `ExcType: message` to stderr and exits 1', async () => {
    const out = await celeriacCli(['call', 'tasks.fail', '--args', '["nope"]', '--wait', '--timeout', '20', ...common]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('ValueError: nope');
  });

  test('result <id> prints the state and the stored result', async () => {
    const sent = await celeriacCli(['call', 'tasks.add', '--args', '[40, 2]', '--wait', '--timeout', '20', ...common]);
    const id = sent.stdout.trim().split('\n')[0];
    const out = await celeriacCli(['result', id, '--result-backend', REDIS_URL, '-b', REDIS_URL]);
    expect(out.code).toBe(0);
    expect(out.stdout.trim().split('\n')).toEqual(['SUCCESS', '42']);
  });

  test('bad --args is one clear line, exit 1', async () => {
    const out = await celeriacCli(['call', 'tasks.add', '--args', '[2,', ...common]);
    expect(out.code).toBe(1);
    expect(out.stderr.trim()).toMatch(/^error: --args is not valid JSON/);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('celeriac with no broker running', () => {
  test.each([
    ['amqp', 'amqp://guest:s3cret@127.0.0.1:1//', /Is RabbitMQ running\?/],
    ['redis', 'redis://:s3cret@127.0.0.1:1/0', /Is Redis running\?/],
  ])('%s: one line naming the masked URL and how to start one, non-zero exit, no stack trace', async (_n, url, hint) => {
    const out = await celeriacCli(['worker', '-A', 'interop/tasks.ts', '-b', url as string, '--result-backend', 'redis://127.0.0.1:1/0']);
    expect(out.code).not.toBe(0);
    const err = out.stderr.trim();
    expect(err.split('\n')).toHaveLength(1);
    expect(err).toMatch(/^error: Cannot connect to broker at /);
    expect(err).toMatch(hint as RegExp);
    expect(err).not.toContain('s3cret');
    expect(err).toContain(':**@127.0.0.1:1');
    expect(err).not.toMatch(/\n\s+at /);
  });
});

describe('celeriac demo', () => {
  test('runs a worker and a producer in-process with no services and reports tasks/s and states', async () => {
    const out = await celeriacCli(['demo', '-N', '500'], { CELERY_BROKER_URL: AMQP_URL });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/done: 501 tasks in [\d.]+s = \d+ tasks\/s; states: SUCCESS 500, FAILURE 1; wrong results: 0/);
    expect(out.stdout).toContain('tasks.fail raised ValueError: this one fails on purpose');
  });
});
