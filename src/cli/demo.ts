// `celeriac demo`: no services needed. An in-process memory broker and backend, a worker on the example tasks, a
// producer sending N tasks with a progress bar, and a summary (tasks/s, states).

import * as path from 'node:path';
import { Worker } from '../worker/worker';
import { TaskError } from '../errors';
import { loadApp } from './loader';
import { bar } from './call';
import { loggerFromFlags } from './common';

export interface DemoFlags {
  tasks: number;
  concurrency: number;
  loglevel?: string;
}

export async function runDemo(flags: DemoFlags): Promise<number> {
  const out = (s: string): boolean => process.stdout.write(s);
  const app = loadApp(path.join(__dirname, '..', '..', '..', 'interop', 'tasks.ts'));
  app.conf.brokerUrl = 'memory://demo';
  app.conf.resultBackend = 'memory://demo';
  app.logger = loggerFromFlags({ loglevel: flags.loglevel });
  const worker = new Worker(app, { concurrency: flags.concurrency, hostname: 'demo@%h', logger: app.logger });
  await worker.start();
  out(`celeriac demo: worker ${worker.hostname} on memory:// (concurrency ${worker.concurrency}); sending ${flags.tasks} × tasks.add and 1 × tasks.fail\n`);

  const started = performance.now();
  const sends = [];
  for (let i = 0; i < flags.tasks; i++) sends.push(app.sendTask<number>('tasks.add', [i, i]));
  const failing = await app.sendTask('tasks.fail', ['this one fails on purpose']);
  const results = await Promise.all(sends);
  const states = new Map<string, number>();
  let done = 0;
  let wrong = 0;
  const tty = process.stdout.isTTY;
  let lastDraw = 0;
  const draw = (force = false): void => {
    const now = performance.now();
    if (!force && now - lastDraw < 50) return;
    lastDraw = now;
    if (tty) out(`\r${bar(done / flags.tasks)} ${done}/${flags.tasks}`);
  };
  await Promise.all(
    results.map(async (r, i) => {
      const value = await r.get({ timeout: 60 });
      if (value !== i + i) wrong++;
      states.set('SUCCESS', (states.get('SUCCESS') ?? 0) + 1);
      done++;
      draw();
    }),
  );
  draw(true);
  if (tty) out('\n');
  try {
    await failing.get({ timeout: 10 });
  } catch (err) {
    if (err instanceof TaskError) {
      states.set(err.state, (states.get(err.state) ?? 0) + 1);
      out(`tasks.fail raised ${err.excType}: ${err.message} (as Python's .get() would)\n`);
    } else throw err;
  }
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  out(`done: ${flags.tasks + 1} tasks in ${seconds.toFixed(2)}s = ${Math.round((flags.tasks + 1) / seconds)} tasks/s; states: ${[...states].map(([k, v]) => `${k} ${v}`).join(', ')}; wrong results: ${wrong}\n`);
  out('next: run a real worker with `npx celeriac worker -A interop/tasks.ts -b redis://127.0.0.1:6379/0 --result-backend redis://127.0.0.1:6379/0 -l info`\n');
  return wrong === 0 ? 0 : 1;
}
