// The main of a pool worker (a worker thread or a child process): load the tasks module once, then run the tasks
// the main thread sends by name, one at a time, and send back their state updates and outcomes.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadApp } from '../../cli/loader';
import type { Celery } from '../../app';
import { NotRegistered } from '../../errors';
import type { Task } from '../../task';
import { runTask, type Outcome } from '../tracer';
import { decodeRequest, encodeError, encodeOutcome, encodeValue, type FromPool, type PoolInit, type ToPool } from './wire';

interface Port {
  send(msg: FromPool): void;
  onMessage(fn: (msg: ToPool) => void): void;
}

function threadPort(): Port {
  const port = parentPort;
  if (!port) throw new Error('pool entry: no parent port');
  return { send: (msg) => port.postMessage(msg), onMessage: (fn) => port.on('message', fn) };
}

function processPort(): Port {
  if (!process.send) throw new Error('pool entry: not started with an IPC channel');
  // The main process handles SIGINT (warm shutdown) for the whole pool; Ctrl-C reaches the process group.
  process.on('SIGINT', () => undefined);
  // The main process is gone: nothing can receive our results.
  process.on('disconnect', () => process.exit(0));
  return { send: (msg) => process.send?.(msg), onMessage: (fn) => process.on('message', fn) };
}

/** Memory this pool worker holds, in KiB: its process's RSS, or a thread's own V8 heap and external memory. */
function memoryKiB(): number {
  const m = process.memoryUsage();
  return Math.round((isMainThread ? m.rss : m.heapUsed + m.external) / 1024);
}

function main(): void {
  const port = isMainThread ? processPort() : threadPort();
  let app: Celery | undefined;
  const acks = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  let seq = 0;

  function load(init: PoolInit): void {
    try {
      app = loadApp(init.appModule, init.cwd);
      if (init.brokerUrl) app.conf.brokerUrl = init.brokerUrl;
      if (init.resultBackend) app.conf.resultBackend = init.resultBackend;
    } catch (err) {
      port.send({ type: 'fatal', error: encodeError(err) });
      return;
    }
    port.send({ type: 'ready', pid: process.pid, tasks: [...app.tasks.keys()] });
  }

  async function run(loaded: Celery, jobId: number, name: string, requestText: string, soft: number | null): Promise<void> {
    const task = loaded.tasks.get(name) as Task<never[], unknown> | undefined;
    let outcome: Outcome;
    if (!task || !task.handler) {
      outcome = { kind: 'failure', error: new NotRegistered(name) };
    } else {
      const services = {
        updateState: (state: string, meta: unknown): Promise<void> =>
          new Promise<void>((resolve, reject) => {
            const text = encodeValue(meta); // throws (rejects) for a meta that is not JSON, as storing it would
            const n = ++seq;
            acks.set(`${jobId}:${n}`, { resolve, reject });
            port.send({ type: 'state', jobId, seq: n, state, meta: text });
          }),
      };
      // The hard limit is the main thread's: it ends this thread or process, which a busy loop cannot ignore.
      outcome = await runTask(task, decodeRequest(requestText), { hard: null, soft }, services);
    }
    port.send({ type: 'done', jobId, outcome: encodeOutcome(outcome), memoryKiB: memoryKiB() });
  }

  port.onMessage((msg) => {
    switch (msg.type) {
      case 'init':
        if (!app) load(msg.init);
        return;
      case 'run':
        if (app) void run(app, msg.jobId, msg.task, msg.request, msg.soft);
        return;
      case 'stateAck': {
        const key = `${msg.jobId}:${msg.seq}`;
        const waiter = acks.get(key);
        acks.delete(key);
        if (msg.error) waiter?.reject(new Error(msg.error));
        else waiter?.resolve();
        return;
      }
      case 'exit':
        void (app ? app.close() : Promise.resolve()).catch(() => undefined).finally(() => process.exit(0));
        return;
    }
  });
  // A thread gets its init as workerData; a child process as its first message (never in argv, where ps shows it).
  if (!isMainThread) load(workerData as PoolInit);
}

main();
