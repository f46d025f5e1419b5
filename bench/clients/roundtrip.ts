// W2 client (child process): one tasks.add at a time, send then wait for the result, `--n` times after `--warmup`;
// prints {"latenciesMs": [...], "errors": n} on stdout. --client celeriac (the library) or bare (ceiling client).

import { performance } from 'node:perf_hooks';
import { Celery } from 'celeriac';
import { Redis } from 'ioredis';
import { makeTasks, ADD } from '../lib/celery-format';
import { bareProducer } from '../producers/bare';

interface Args {
  client: 'celeriac' | 'bare';
  broker: string;
  backend: string;
  queue: string;
  n: number;
  warmup: number;
}

function parseArgs(argv: string[]): Args {
  const get = (k: string): string => {
    const i = argv.indexOf(`--${k}`);
    if (i < 0 || argv[i + 1] === undefined) throw new Error(`missing --${k}`);
    return argv[i + 1];
  };
  const client = get('client');
  if (client !== 'celeriac' && client !== 'bare') throw new Error('--client celeriac|bare');
  return { client, broker: get('broker'), backend: get('backend'), queue: get('queue'), n: Number(get('n')), warmup: Number(get('warmup')) };
}

type RoundTrip = (i: number, timeoutS: number) => Promise<unknown>;

async function celeriacClient(a: Args): Promise<{ call: RoundTrip; close: () => Promise<void> }> {
  const app = new Celery({ broker: a.broker, backend: a.backend });
  return {
    call: async (i, timeoutS) => (await app.sendTask('tasks.add', [i, 1], {}, { queue: a.queue })).get({ timeout: timeoutS }),
    close: () => app.close(),
  };
}

/** Publish with the bare producer; results through one PSUBSCRIBE on celery-task-meta-* (pub/sub spans all DBs: filter by id). */
async function bareClient(a: Args): Promise<{ call: RoundTrip; close: () => Promise<void> }> {
  const producer = await bareProducer(a.broker, false);
  const sub = new Redis(a.backend);
  const waiting = new Map<string, (meta: { status: string; result: unknown }) => void>();
  await sub.psubscribe('celery-task-meta-*');
  sub.on('pmessage', (_p: string, channel: string, message: string) => {
    const resolve = waiting.get(channel.slice('celery-task-meta-'.length));
    if (resolve) resolve(JSON.parse(message) as { status: string; result: unknown });
  });
  return {
    call: (i, timeoutS) => {
      const [task] = makeTasks(ADD, 1, i);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${task.id}`)), timeoutS * 1000);
        waiting.set(task.id, (meta) => {
          if (meta.status !== 'SUCCESS') return;
          clearTimeout(timer);
          waiting.delete(task.id);
          resolve(meta.result);
        });
        producer.publish(a.queue, [task]).catch(reject);
      });
    },
    close: async () => {
      await producer.close();
      await sub.quit();
    },
  };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const c = a.client === 'celeriac' ? await celeriacClient(a) : await bareClient(a);
  // Warm-up: the first call also waits for the worker to come up.
  for (let i = 0; i < a.warmup; i++) await c.call(i, i === 0 ? 60 : 10);
  const latenciesMs: number[] = [];
  let errors = 0;
  for (let i = 0; i < a.n; i++) {
    const t0 = performance.now();
    try {
      const v = await c.call(i, 10);
      latenciesMs.push(performance.now() - t0);
      if (v !== i + 1) errors++;
    } catch {
      errors++;
    }
  }
  await c.close();
  process.stdout.write(`${JSON.stringify({ latenciesMs, errors })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`roundtrip: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
