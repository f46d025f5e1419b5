// The "ceiling" worker: a minimal Node consumer doing only the irreducible per-message work (see amqp.ts, redis.ts).
// Usage: node -r tsx/cjs bench/ceiling/consumer.ts --broker URL --backend URL --queue Q [--prefetch 200] [--procs 1]

import { fork, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { consumeAmqp, type RunningConsumer } from './amqp';
import { consumeRedis } from './redis';

interface Args {
  broker: string;
  backend: string;
  queue: string;
  prefetch: number;
  procs: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const broker = get('broker');
  const backend = get('backend');
  const queue = get('queue');
  if (!broker || !backend || !queue) throw new Error('usage: consumer.ts --broker URL --backend URL --queue Q [--prefetch N] [--procs N]');
  return { broker, backend, queue, prefetch: Number(get('prefetch') ?? 200), procs: Number(get('procs') ?? 1) };
}

async function runOne(a: Args): Promise<void> {
  const results = new Redis(a.backend);
  const consumer: RunningConsumer = /^rediss?:/.test(a.broker)
    ? await consumeRedis({ brokerUrl: a.broker, queue: a.queue, prefetch: a.prefetch, results })
    : await consumeAmqp({ brokerUrl: a.broker, queue: a.queue, prefetch: a.prefetch, results });
  if (process.send) process.send('ready');
  else process.stdout.write(`ceiling@${process.pid} ready.\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    consumer
      .stop()
      .then(() => results.quit())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`ceiling: stop failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

/** Several single consumers (one per core for CPU-bound work); ready when all are, stopped together. */
function runMany(a: Args): void {
  const childArgs = process.argv.slice(2).map((v, i, all) => (all[i - 1] === '--procs' ? '1' : v));
  const children: ChildProcess[] = [];
  let ready = 0;
  let exited = 0;
  for (let i = 0; i < a.procs; i++) {
    const child = fork(__filename, childArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m) => {
      if (m === 'ready' && ++ready === a.procs) process.stdout.write(`ceiling@${process.pid} (${a.procs} processes) ready.\n`);
    });
    child.on('exit', (code) => {
      if (code !== 0) process.stderr.write(`ceiling: child ${child.pid} exited with ${code}\n`);
      if (++exited === a.procs) process.exit(0);
    });
    children.push(child);
  }
  const stop = (): void => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const args = parseArgs(process.argv.slice(2));
if (args.procs > 1) runMany(args);
else
  runOne(args).catch((err: unknown) => {
    process.stderr.write(`ceiling: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
