// `celeriac worker`: start a worker on the app's tasks, handle SIGTERM/SIGINT as Celery (warm, then cold).

import { expandHostname, Worker } from '../worker/worker';
import { WorkerOps } from '../ops';
import { nodeFormat } from './nodename';
import { appFromFlags, loggerFromFlags, type AppFlags } from './common';
import { poolFromFlags, type PoolFlags } from './pool';
import { maskSecrets } from '../url';

export interface WorkerFlags extends AppFlags, PoolFlags {
  queues?: string;
  concurrency?: number;
  hostname?: string;
  prefetchMultiplier?: number;
  timeLimit?: number;
  softTimeLimit?: number;
  maxMessageSize?: number;
  /** -E: send task events. */
  taskEvents?: boolean;
  withoutHeartbeat?: boolean;
  heartbeatInterval?: number;
  statedb?: string;
  metricsPort?: number;
  metricsHost?: string;
}

/** Run until a signal stops the worker; resolves with the process exit code. */
export async function runWorker(flags: WorkerFlags): Promise<number> {
  const nodename = expandHostname(flags.hostname);
  if (flags.logfile) flags = { ...flags, logfile: nodeFormat(flags.logfile, nodename) };
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
  let remoteShutdown: () => void = () => undefined;
  const ops = new WorkerOps(worker, {
    taskEvents: flags.taskEvents || app.conf.workerSendTaskEvents,
    heartbeat: !flags.withoutHeartbeat,
    heartbeatInterval: flags.heartbeatInterval,
    statedb: flags.statedb ? nodeFormat(flags.statedb, nodename) : undefined,
    metricsPort: flags.metricsPort,
    metricsHost: flags.metricsHost,
    prefetchMultiplier: flags.prefetchMultiplier ?? app.conf.workerPrefetchMultiplier,
    logger,
    onShutdown: () => remoteShutdown(),
  });
  ops.attach();
  await worker.start();
  await ops.start();
  if (ops.metricsPort !== undefined) process.stdout.write(`- metrics: http://${flags.metricsHost ?? '0.0.0.0'}:${ops.metricsPort}/metrics\n`);
  process.stdout.write(
    `celeriac ${worker.hostname} v${version()}\n` +
      `- transport: ${app.broker.displayUrl}\n- results:   ${app.conf.resultBackend ? maskSecrets(app.conf.resultBackend) : 'disabled'}\n` +
      `- concurrency: ${worker.concurrency} (${pool.summary})\n- queues: ${worker.queues.map((q) => q.name).join(', ')}\n` +
      `- tasks: ${[...app.tasks.keys()].sort().join(', ')}\n${worker.hostname} ready.\n`,
  );
  return new Promise<number>((resolve) => {
    let signals = 0;
    let cold = false;
    let closing: Promise<void> | undefined;
    const done = (code: number): void => {
      closing ??= ops.stop().catch(() => undefined);
      void closing.then(() => resolve(code));
    };
    const onSignal = (sig: NodeJS.Signals | 'remote shutdown'): void => {
      signals++;
      ops.stopping();
      if (signals === 1 && sig !== 'SIGQUIT') {
        logger.warning(`worker: Warm shutdown (${sig})`);
        worker.stop().then(() => done(cold ? 1 : 0), () => done(1));
      } else {
        cold = true;
        logger.warning(`worker: Cold shutdown (${sig})`);
        worker.stop({ cold: true }).then(() => done(1), () => done(1));
      }
    };
    remoteShutdown = () => onSignal('remote shutdown');
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGQUIT', onSignal);
  });
}

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}
