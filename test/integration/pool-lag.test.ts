// The main thread stays responsive while every pool slot burns CPU: a worker (in this process, on memory://) runs
// 2 × tasks.burn with -c 2 on the threads pool and on the async pool, and the event-loop delay of this thread is
// measured while both slots are busy, with how long a message sent meanwhile takes to be received.
// The figures are logged for the report; the only bound is the 1 s a control reply may take.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Celery } from '../../src/app';
import { silentLogger } from '../../src/log';
import { createExecutor } from '../../src/worker/pools';
import { Worker } from '../../src/worker/worker';
import { uniqueName } from '../helpers/env';
import { POOL_TASKS } from '../helpers/pool-jobs';

interface Lag {
  maxDelayMs: number;
  p99DelayMs: number;
  probeMaxGapMs: number;
  receivedAfterMs: number;
}

function freshApp(): Celery {
  let app!: Celery;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    app = (require('../fixtures/pool-tasks') as { app: Celery }).app;
  });
  const url = `memory://${uniqueName('lag')}`;
  app.conf.brokerUrl = url;
  app.conf.resultBackend = url;
  return app;
}

async function measure(pool: 'async' | 'threads', burnMs: number): Promise<Lag> {
  const app = freshApp();
  const executor = pool === 'async' ? undefined : createExecutor(app, { pool, concurrency: 2, appModule: POOL_TASKS, logger: silentLogger });
  const worker = new Worker(app, { concurrency: 2, executor, logger: silentLogger });
  await worker.start();
  try {
    let running = 0;
    let onAllBusy!: () => void;
    const allBusy = new Promise<void>((resolve) => (onAllBusy = resolve));
    let onAddReceived!: () => void;
    const addReceived = new Promise<void>((resolve) => (onAddReceived = resolve));
    worker.addListener({
      started: (r) => {
        if (r.name === 'tasks.burn' && ++running === 2) onAllBusy();
      },
      received: (r) => {
        if (r.name === 'tasks.add') onAddReceived();
      },
    });
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    let last = performance.now();
    let probeMaxGapMs = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      probeMaxGapMs = Math.max(probeMaxGapMs, now - last - 10);
      last = now;
    }, 10);
    const burns = await Promise.all([app.sendTask<number>('tasks.burn', [burnMs]), app.sendTask<number>('tasks.burn', [burnMs])]);
    await allBusy;
    // Only the threads pool can take a message while both slots burn: on the async pool this line runs after them.
    const sentAt = performance.now();
    const add = await app.sendTask<number>('tasks.add', [2, 3]);
    await addReceived;
    const receivedAfterMs = performance.now() - sentAt;
    const values = await Promise.all(burns.map((r) => r.get({ timeout: 60 })));
    clearInterval(probe);
    histogram.disable();
    expect(values).toEqual([burnMs, burnMs]);
    expect(await add.get({ timeout: 30 })).toBe(5);
    return { maxDelayMs: histogram.max / 1e6, p99DelayMs: histogram.percentile(99) / 1e6, probeMaxGapMs, receivedAfterMs };
  } finally {
    await worker.stop();
  }
}

describe('event-loop lag of the worker main thread while every slot burns (-c 2, 2 × burn(2000))', () => {
  test('threads pool: the main thread stays responsive; async pool for comparison', async () => {
    const threads = await measure('threads', 2000);
    const async = await measure('async', 2000);
    // monitorEventLoopDelay cannot sample during a block it is part of, so the 10 ms timer's worst gap is the figure
    // that compares both pools.
    console.log(
      `[pools] event-loop lag of the main thread while 2 × burn(2000) run (-c 2):\n` +
        `  -P threads: 10 ms timer worst gap ${threads.probeMaxGapMs.toFixed(1)} ms (monitorEventLoopDelay max ${threads.maxDelayMs.toFixed(1)} ms, ` +
        `p99 ${threads.p99DelayMs.toFixed(1)} ms); a message sent while both slots burn was received after ${threads.receivedAfterMs.toFixed(1)} ms\n` +
        `  -P async:   10 ms timer worst gap ${async.probeMaxGapMs.toFixed(1)} ms`,
    );
    expect(threads.probeMaxGapMs).toBeLessThan(1000);
    expect(threads.receivedAfterMs).toBeLessThan(1000);
    expect(async.probeMaxGapMs).toBeGreaterThan(threads.probeMaxGapMs);
  }, 120000);
});
