// Hostile input at volume (property-based, fast-check): golden Celery messages mutated in every header, body,
// content type, compression and envelope, plus huge and deeply nested payloads, interleaved with valid tasks on
// both brokers. The worker never crashes, logs each bad message once, removes it, and completes every valid task.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as amqp from 'amqplib';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, ROOT, uniqueName } from '../helpers/env';
import { startCeleriacWorker, type Proc } from '../helpers/processes';

const RUNS = Number(process.env.CELERIAC_FUZZ_RUNS ?? 150);

interface Golden {
  headers: Record<string, unknown>;
  body: string;
  contentType: string;
}

/** The golden add/echo/chain messages captured from Python Celery, as bases for mutation. */
function goldens(): Golden[] {
  const dir = path.join(ROOT, 'protocol', 'fixtures', 'amqp_broker');
  const out: Golden[] = [];
  for (const file of ['plain_args.json', 'args_kwargs.json', 'chain.json', 'link_and_link_error.json', 'unicode_nested.json', 'time_limits.json']) {
    const f = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { messages: Array<{ headers: Record<string, unknown>; body_base64: string; properties: { content_type: string } }> };
    const m = f.messages[0];
    // Keep the task harmless and quick: always tasks.add (a chain/link continues with add/mul too, unregistered here).
    out.push({ headers: { ...m.headers, task: 'tasks.add', eta: null, expires: null }, body: Buffer.from(m.body_base64, 'base64').toString('utf8'), contentType: m.properties.content_type });
  }
  return out;
}

const HEADER_KEYS = ['lang', 'task', 'id', 'shadow', 'group', 'group_index', 'retries', 'timelimit', 'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result', 'compression'];

/** One mutation of a golden message (never a valid future ETA, so nothing is legitimately held at the end). */
function mutated(base: Golden[]): fc.Arbitrary<Golden> {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  return fc.tuple(fc.constantFrom(...base), fc.nat(11), fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(...HEADER_KEYS), fc.nat(400), fc.string({ maxLength: 40 })).map(([g, kind, value, key, cut, text]) => {
    const m: Golden = { headers: { ...g.headers, id: randomUUID() }, body: g.body, contentType: g.contentType };
    switch (kind) {
      case 0: delete m.headers[key]; break;
      case 1: m.headers[key] = value; break;
      case 2: m.body = m.body.slice(0, cut % (m.body.length + 1)); break;
      case 3: m.body = JSON.stringify(value); break;
      case 4: m.body = text; break;
      case 5: m.contentType = ['application/x-python-serialize', 'application/x-yaml', 'application/x-msgpack', 'text/plain', '', 'application/json; charset=utf-8', text][cut % 7]; break;
      case 6: m.headers.compression = ['application/x-gzip', 'application/x-bz2', 'application/zstd', text][cut % 4]; break;
      case 7: m.body = `[[${deep(2000 + cut)}], {}, null]`; break;
      case 8: m.body = JSON.stringify([['x'.repeat(200000 + cut)], {}, null]); break;
      case 9: m.headers = { id: m.headers.id }; m.body = JSON.stringify({ task: value, id: m.headers.id, args: value }); break;
      case 10: m.body = JSON.stringify([value, value, value]); break;
      default: m.headers.timelimit = [value, value]; break;
    }
    return m;
  });
}

/** A random line of the worker log that accounts for one message (received, or discarded with a reason). */
const ACCOUNTED = /(Task \S+ received|Received invalid task message|Received and deleted unknown message|Can't decode message body|Discarding unreadable message|Received unregistered task|byte limit|Unexpected error reading a message)/g;

function samples(base: Golden[]): Golden[] {
  return fc.sample(mutated(base), { numRuns: RUNS, seed: Number(process.env.CELERIAC_FUZZ_SEED ?? 4242) });
}

async function checkValid(app: Celery, n: number): Promise<void> {
  const rs = await Promise.all(Array.from({ length: n }, (_, i) => app.sendTask<number>('tasks.add', [i, 1])));
  expect(await Promise.all(rs.map((r) => r.get({ timeout: 60 })))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}

/**
 * Send every sample through `send` (false: it could not be sent), with valid tasks interleaved (2 every 25 samples,
 * 20 at the end); then every message must be accounted once in the worker's log and the worker still alive.
 */
async function fuzzRun(app: Celery, worker: Proc, msgs: Golden[], send: (m: Golden, i: number) => Promise<boolean>): Promise<{ sent: number; valid: number }> {
  let sent = 0;
  for (const [i, m] of msgs.entries()) {
    if (await send(m, i)) sent++;
    if (i % 25 === 0) await checkValid(app, 2);
  }
  await checkValid(app, 20);
  const valid = Math.ceil(msgs.length / 25) * 2 + 20;
  await worker.waitForCount(ACCOUNTED, sent + valid, 60000);
  expect(worker.child.exitCode).toBeNull();
  await worker.stop();
  expect(worker.count(ACCOUNTED)).toBe(sent + valid);
  return { sent, valid };
}

describeWith(['redis'], 'fuzzing the Redis transport', () => {
  test(`${RUNS} mutated messages and mutated envelopes: no crash, each accounted once, queue and unacked empty`, async () => {
    const queue = uniqueName('fuzz-redis');
    const redis = new Redis(REDIS_URL);
    const app = new Celery({ broker: REDIS_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    let worker: Proc | undefined;
    try {
      worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue], concurrency: 8, extraArgs: ['--max-message-size', '150000'] });
      const { sent, valid } = await fuzzRun(app, worker, samples(goldens()), async (m, i) => {
        const envelope = {
          body: Buffer.from(m.body, 'utf8').toString('base64'),
          'content-encoding': 'utf-8',
          'content-type': m.contentType,
          headers: m.headers,
          properties: { correlation_id: String(m.headers.id), reply_to: 'fuzz', delivery_mode: 2, delivery_info: { exchange: '', routing_key: queue }, priority: 0, body_encoding: 'base64', delivery_tag: randomUUID() },
        };
        let raw = JSON.stringify(envelope);
        if (i % 10 === 9) raw = raw.slice(0, (i * 37) % raw.length); // a broken envelope every tenth message
        await redis.lpush(queue, raw);
        return true;
      });
      expect(await redis.llen(queue)).toBe(0);
      const left = Object.values(await redis.hgetall('unacked')).filter((p) => p.includes(queue));
      expect(left).toEqual([]);
      process.stderr.write(`[fuzz redis] ${sent} generated messages (${Math.floor(sent / 10)} with broken envelopes) and ${valid} valid tasks: worker crashes 0, each accounted once, valid completed ${valid}/${valid}, queue and unacked empty\n`);
    } finally {
      await worker?.stop();
      redis.disconnect();
      await app.close();
    }
  }, 240000);
});

describeWith(['amqp', 'redis'], 'fuzzing the AMQP transport', () => {
  test(`${RUNS} mutated messages: no crash, each accounted once, nothing left in the queue`, async () => {
    const queue = uniqueName('fuzz-amqp');
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    const app = new Celery({ broker: AMQP_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
    let worker: Proc | undefined;
    try {
      worker = await startCeleriacWorker({ broker: AMQP_URL, backend: REDIS_URL, queues: [queue], concurrency: 8, extraArgs: ['--max-message-size', '150000'] });
      const msgs = samples(goldens());
      const { sent, valid } = await fuzzRun(app, worker, msgs, async (m) => {
        try {
          ch.publish('', queue, Buffer.from(m.body, 'utf8'), { headers: m.headers, contentType: m.contentType || undefined, contentEncoding: 'utf-8', deliveryMode: 2 });
          return true;
        } catch {
          // amqplib cannot encode some generated header values (e.g. huge ints); those never reach the broker.
          return false;
        }
      });
      expect((await ch.checkQueue(queue)).messageCount).toBe(0);
      process.stderr.write(`[fuzz amqp] ${sent} generated messages published (${msgs.length - sent} not encodable by amqplib) and ${valid} valid tasks: worker crashes 0, each accounted once, valid completed ${valid}/${valid}, queue empty\n`);
    } finally {
      await worker?.stop();
      await ch.deleteQueue(queue).catch(() => undefined);
      await conn.close();
      await app.close();
    }
  }, 240000);
});
