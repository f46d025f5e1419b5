// Operator-facing output of the worker and the CLI: Celery-like task lines, --logfile with node-name expansion,
// the JSON log format for shippers, passwords masked in every line; `celeriac call --wait` with a progress bar.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { celeriacCli, startCeleriacWorker } from '../helpers/processes';
import { uniqueNode } from '../helpers/ops';

jest.setTimeout(120000);

describeWith(['redis', 'amqp'], 'worker logs', () => {
  test('--logfile %n.log --log-format json: one JSON object per line, Celery task lines, password masked', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'celeriac-logs-'));
    const queue = uniqueName('logs');
    const node = uniqueNode('ops-log');
    const worker = await startCeleriacWorker({
      broker: AMQP_URL, // guest:guest@ — the password must never be written
      backend: REDIS_URL,
      queues: [queue],
      extraArgs: ['-n', node.arg, '--logfile', path.join(dir, '%n.log'), '--log-format', 'json'],
    });
    const app = new Celery({ broker: AMQP_URL, backend: REDIS_URL });
    try {
      const r = await app.sendTask('tasks.add', [2, 3], {}, { queue });
      expect(await r.get({ timeout: 20 })).toBe(5);
      const f = await app.sendTask('tasks.fail', ['boom'], {}, { queue });
      await expect(f.get({ timeout: 20 })).rejects.toThrow('boom');
      const file = path.join(dir, `${node.name.split('@')[0]}.log`);
      const lines = () => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      // the failure's log line is written before its result is stored: all lines are there now
      const records = lines();
      for (const rec of records) expect(rec).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.stringMatching(/^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$/), name: 'celeriac', pid: expect.any(Number), message: expect.any(String) });
      const messages = records.map((rec) => rec.message as string);
      expect(messages).toContain(`Task tasks.add[${r.id}] received`);
      expect(messages.find((m) => m.startsWith(`Task tasks.add[${r.id}] succeeded in `))).toMatch(/ succeeded in \d+\.\d+s: 5$/);
      expect(records.find((rec) => (rec.message as string).startsWith(`Task tasks.fail[${f.id}] raised unexpected: ValueError('boom')`))?.level).toBe('ERROR');
      const all = fs.readFileSync(file, 'utf8');
      expect(all).not.toContain('guest:guest@');
      expect(all).toContain('guest:**@');
      expect(worker.stderr).toBe(''); // everything went to the file
    } finally {
      await worker.stop('SIGTERM');
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWith(['redis'], 'celeriac call --wait --progress', () => {
  test('draws the progress bar while the task reports PROGRESS, then prints the result', async () => {
    const queue = uniqueName('progress');
    const worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue] });
    try {
      const r = await celeriacCli(['call', 'tasks.progress', '--args', '[3]', '--queue', queue, '--wait', '--progress', '--timeout', '30'], { CELERY_BROKER_URL: REDIS_URL, CELERY_RESULT_BACKEND: REDIS_URL });
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n').pop()).toBe('3');
      expect(r.stderr).toMatch(/^\[#{10}-{20}\]  33% 1\/3$|^\[#{20}-{10}\]  67% 2\/3$/m);
      expect(r.stderr).toContain(`[${'#'.repeat(30)}] 100% 3/3`);
    } finally {
      await worker.stop('SIGTERM');
    }
  });
});
