// Producer-rate client (child process): one warm-up task, then --n tasks.add; prints {"startMs","endMs","sent"}.
// --producer celeriac: app.sendTask in a loop with at most --inflight pending; bare: the bare producer (ceiling).

import * as amqp from 'amqplib';
import { Celery } from 'celeriac';
import { Redis } from 'ioredis';
import { ADD, makeTasks } from '../lib/celery-format';
import { bareProducer } from './bare';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`missing --${name}`);
  return process.argv[i + 1];
}

/** Poll the queue (own connection) until it holds `expected` messages, 30 s at most. */
async function waitQueued(broker: string, queue: string, expected: number): Promise<void> {
  const redis = /^rediss?:/.test(broker) ? new Redis(broker) : undefined;
  const conn = redis ? undefined : await amqp.connect(broker);
  const ch = conn ? await conn.createChannel() : undefined;
  try {
    for (const until = Date.now() + 30000; Date.now() < until; ) {
      const len = redis ? await redis.llen(queue) : (await (ch as amqp.Channel).checkQueue(queue)).messageCount;
      if (len >= expected) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await redis?.quit();
    await conn?.close();
  }
}

/**
 * `guard`: wait until the broker holds every message before app.close(). Closing straight after the last sendTask
 * resolved lost messages on AMQP (celeriac's close does not flush amqplib's channel buffer); the harness checks that
 * separately (guard off) and reports it, and times the runs with the guard on.
 */
async function celeriac(broker: string, backend: string, queue: string, n: number, inflight: number, guard: boolean): Promise<[number, number]> {
  const app = new Celery({ broker, backend });
  await app.sendTask('tasks.add', [0, 1], {}, { queue });
  const start = Date.now();
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const p: Promise<unknown> = app.sendTask('tasks.add', [i, 1], {}, { queue }).then(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= inflight) await Promise.race(pending);
  }
  await Promise.all(pending);
  const end = Date.now();
  if (guard) await waitQueued(broker, queue, n + 1);
  await app.close();
  return [start, end];
}

async function bare(broker: string, queue: string, n: number): Promise<[number, number]> {
  const producer = await bareProducer(broker, false);
  await producer.publish(queue, makeTasks(ADD, 1));
  const start = Date.now();
  const chunk = 500;
  for (let i = 0; i < n; i += chunk) await producer.publish(queue, makeTasks(ADD, Math.min(chunk, n - i), i));
  await producer.settle();
  const end = Date.now();
  await producer.close();
  return [start, end];
}

async function main(): Promise<void> {
  const n = Number(arg('n'));
  const which = arg('producer');
  const [startMs, endMs] = which === 'celeriac' ? await celeriac(arg('broker'), arg('backend'), arg('queue'), n, Number(arg('inflight')), arg('guard') === '1') : await bare(arg('broker'), arg('queue'), n);
  process.stdout.write(`${JSON.stringify({ startMs, endMs, sent: n })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`producer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
