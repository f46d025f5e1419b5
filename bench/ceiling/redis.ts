// Ceiling consumer for the Redis transport: pop (RPOP with a count, BRPOP when idle), decode the envelope (JSON +
// base64), run the task, and write kombu's bookkeeping (ZADD unacked_index + HSET unacked on fetch, ZREM + HDEL on
// ack) together with the results in one pipeline per tick.

import { Redis } from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { JsonValue } from '../lib/celery-format';
import type { CeilingOptions, RunningConsumer } from './amqp';
import { execute, ResultWriter } from './results';

interface Envelope {
  body: string;
  headers: { task: string; id: string };
  properties: { delivery_tag: string; body_encoding?: string };
}

export async function consumeRedis(o: CeilingOptions): Promise<RunningConsumer> {
  const client = new Redis(o.brokerUrl, { lazyConnect: true, enableAutoPipelining: false });
  const blocking = new Redis(o.brokerUrl, { lazyConnect: true });
  await Promise.all([client.connect(), blocking.connect()]);

  let fetched: Array<[string, string]> = []; // [tag, unacked value]
  let acks: string[] = [];
  let inflight = 0; // popped and not yet acked on Redis
  let wake: (() => void) | undefined;
  let stopping = false;

  // The results go to the same Redis (bench db) as the queue, so one pipeline carries bookkeeping, results and acks.
  const sameRedis = o.results.options.db === client.options.db && o.results.options.port === client.options.port && o.results.options.host === client.options.host;
  const hooks = {
    before: (pipe: ChainableCommander) => {
      if (fetched.length === 0) return;
      const now = Date.now() / 1000;
      const zargs: Array<string | number> = [];
      const hargs: string[] = [];
      for (const [tag, value] of fetched) {
        zargs.push(now, tag);
        hargs.push(tag, value);
      }
      pipe.zadd('unacked_index', ...zargs).hset('unacked', ...hargs);
      fetched = [];
    },
    after: (pipe: ChainableCommander) => {
      const n = acks.length;
      if (n > 0) pipe.zrem('unacked_index', ...acks).hdel('unacked', ...acks);
      acks = [];
      return n;
    },
    written: (n: number) => {
      inflight -= n;
      wake?.();
    },
  };
  const writer = sameRedis ? new ResultWriter(client, hooks) : new ResultWriter(o.results);
  const bookkeeping = sameRedis ? writer : new ResultWriter(client, hooks);

  const handle = (raw: string): void => {
    const env = JSON.parse(raw) as Envelope;
    const tag = env.properties.delivery_tag;
    fetched.push([tag, `[${raw}, "", ${JSON.stringify(o.queue)}]`]);
    const bodyText = env.properties.body_encoding === 'base64' ? Buffer.from(env.body, 'base64').toString('utf8') : env.body;
    const body = JSON.parse(bodyText) as [JsonValue[], Record<string, JsonValue>, unknown];
    execute(env.headers.task, body[0], env.headers.id, writer, () => {
      acks.push(tag);
      bookkeeping.schedule();
    });
  };

  const loop = async (): Promise<void> => {
    while (!stopping) {
      if (inflight >= o.prefetch) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      let raws = await client.rpop(o.queue, o.prefetch - inflight);
      if (!raws || raws.length === 0) {
        const popped = await blocking.brpop(o.queue, 1).catch(() => null);
        if (!popped) continue;
        raws = [popped[1]];
      }
      inflight += raws.length;
      for (const raw of raws) handle(raw);
      bookkeeping.schedule();
    }
  };
  const done = loop();

  return {
    async stop() {
      stopping = true;
      blocking.disconnect();
      wake?.();
      await done;
      while (inflight > 0) {
        await bookkeeping.flush();
        if (inflight > 0) await new Promise<void>((r) => setTimeout(r, 20));
      }
      await writer.flush();
      await Promise.all([client.quit(), blocking.quit().catch(() => undefined)]);
    },
  };
}
