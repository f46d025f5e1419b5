// `celeriac worker`: start a worker on the app's tasks, handle SIGTERM/SIGINT as Celery (warm, then cold).

import { Worker } from '../worker/worker';
import { appFromFlags, loggerFromFlags, type AppFlags } from './common';
import { poolFromFlags, type PoolFlags } from './pool';

export interface WorkerFlags extends AppFlags, PoolFlags {
  queues?: string;
  concurrency?: number;
  hostname?: string;
  prefetchMultiplier?: number;
  timeLimit?: number;
  softTimeLimit?: number;
  maxMessageSize?: number;
}

/** Run until a signal stops the worker; resolves with the process exit code. */
export async function runWorker(flags: WorkerFlags): Promise<number> {
  const logger = loggerFromFlags(flags);
  const app = appFromFlags(flags, logger);
  if (flags.timeLimit !== undefined) app.conf.taskTimeLimit = flags.timeLimit;
  if (flags.softTimeLimit !== undefined) app.conf.taskSoftTimeLimit = flags.softTimeLimit;
  if (flags.maxMessageSize !== undefined) app.conf.workerMaxMessageSize = flags.maxMessageSize;
  const pool = poolFromFlags(app, flags, logger);
  const worker = new Worker(app, {
    queues: flags.queues ? flags.queues.split(',').map((q) => q.trim()).filter(Boolean) : undefined,
    concurrency: pool.concurrency,
    executor: pool.executor,
    prefetchMultiplier: flags.prefetchMultiplier,
    hostname: flags.hostname,
    logger,
  });
  await worker.start();
  process.stdout.write(
    `celeriac ${worker.hostname} v${version()}\n` +
      `- transport: ${app.broker.displayUrl}\n- results:   ${app.conf.resultBackend ? app.conf.resultBackend.replace(/:\/\/[^:/@]*:[^@]*@/, '://**@') : 'disabled'}\n` +
      `- concurrency: ${worker.concurrency} (${pool.summary})\n- queues: ${worker.queues.map((q) => q.name).join(', ')}\n` +
      `- tasks: ${[...app.tasks.keys()].sort().join(', ')}\n${worker.hostname} ready.\n`,
  );
  return new Promise<number>((resolve) => {
    let signals = 0;
    let cold = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals === 1 && sig !== 'SIGQUIT') {
        logger.warning(`worker: Warm shutdown (${sig})`);
        worker.stop().then(() => resolve(cold ? 1 : 0), () => resolve(1));
      } else {
        cold = true;
        logger.warning(`worker: Cold shutdown (${sig})`);
        worker.stop({ cold: true }).then(() => resolve(1), () => resolve(1));
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGQUIT', onSignal);
  });
}

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}
