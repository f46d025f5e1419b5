// Ceiling consumer for the Redis transport: pop a slice and write kombu's fetch bookkeeping (ZADD unacked_index +
// HSET unacked) in one server-side script, BRPOP when idle; decode the envelope (JSON + base64), run the task, and
// send results (SETEX + PUBLISH) and acks (ZREM + HDEL) in one pipeline per tick.

import { Redis } from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { JsonValue } from '../lib/celery-format';
import type { CeilingOptions, RunningConsumer } from './amqp';
import { execute, ResultWriter } from './results';

/** RPOP up to ARGV[1] from KEYS[1] and record each in unacked_index (KEYS[2]) / unacked (KEYS[3]), atomically. */
const FETCH_LUA = `
local msgs = redis.call('RPOP', KEYS[1], ARGV[1])
if not msgs then return {} end
local z, h = {}, {}
for _, raw in ipairs(msgs) do
  local tag = string.match(raw, '"delivery_tag":%s*"([^"]+)"')
  if tag then
    z[#z + 1] = ARGV[2]
    z[#z + 1] = tag
    h[#h + 1] = tag
    h[#h + 1] = '[' .. raw .. ', "", ' .. ARGV[3] .. ']'
  end
end
if #z > 0 then
  redis.call('ZADD', KEYS[2], unpack(z))
  redis.call('HSET', KEYS[3], unpack(h))
end
return msgs
`;

type FetchClient = Redis & { ceilingFetch(numKeys: number, queue: string, index: string, hash: string, count: number, now: number, routingKey: string): Promise<string[]> };

interface Envelope {
  body: string;
  headers: { task: string; id: string };
  properties: { delivery_tag: string; body_encoding?: string };
}

export async function consumeRedis(o: CeilingOptions): Promise<RunningConsumer> {
  const client = new Redis(o.brokerUrl, { lazyConnect: true, enableAutoPipelining: false }) as FetchClient;
  client.defineCommand('ceilingFetch', { lua: FETCH_LUA });
  const blocking = new Redis(o.brokerUrl, { lazyConnect: true });
  await Promise.all([client.connect(), blocking.connect()]);

  let fetched: Array<[string, string]> = []; // [tag, unacked value] of messages popped by BRPOP
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

  const handle = (raw: string, record: boolean): void => {
    const env = JSON.parse(raw) as Envelope;
    const tag = env.properties.delivery_tag;
    if (record) fetched.push([tag, `[${raw}, "", ${JSON.stringify(o.queue)}]`]);
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
      // Pop in slices of a quarter of the prefetch so fetching overlaps with the previous slices' pipelines.
      const count = Math.min(o.prefetch - inflight, Math.max(1, Math.ceil(o.prefetch / 4)));
      const raws = await client.ceilingFetch(3, o.queue, 'unacked_index', 'unacked', count, Date.now() / 1000, JSON.stringify(o.queue));
      if (raws.length > 0) {
        inflight += raws.length;
        for (const raw of raws) handle(raw, false);
      } else {
        const popped = await blocking.brpop(o.queue, 1).catch(() => null);
        if (!popped) continue;
        inflight++;
        handle(popped[1], true);
      }
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
