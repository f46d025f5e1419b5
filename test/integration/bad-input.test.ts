// Malformed and refused messages of every kind, written straight onto the real queues: each is logged with its
// reason and removed (nothing left in the queue or in `unacked`), and the worker keeps serving valid tasks.

import * as amqp from 'amqplib';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Celery } from '../../src';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName } from '../helpers/env';
import { startCeleriacWorker, type Proc } from '../helpers/processes';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const goodHeaders = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ lang: 'py', task: 'tasks.add', id, ...extra });
const goodBody = JSON.stringify([[1, 2], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);

/** Each case: what goes on the wire, and the log line it must produce. */
interface BadCase {
  name: string;
  headers: Record<string, unknown>;
  body: string;
  contentType?: string;
  expectLog: RegExp;
}

function cases(): BadCase[] {
  const id = (): string => randomUUID();
  return [
    { name: 'body is not JSON', headers: goodHeaders(id()), body: '{not json', contentType: 'application/json', expectLog: /Can't decode message body: body is not valid JSON/ },
    { name: 'v2 body of the wrong shape', headers: goodHeaders(id()), body: '{"foo": 1}', contentType: 'application/json', expectLog: /protocol 2 body must be a JSON array/ },
    { name: 'two-element body (crashes Python 5.2.6)', headers: goodHeaders(id()), body: '[[1, 2], {}]', contentType: 'application/json', expectLog: /protocol 2 body must be a JSON array \[args, kwargs, embed\]/ },
    { name: 'args not a list', headers: goodHeaders(id()), body: '[5, {}, null]', contentType: 'application/json', expectLog: /args must be an array/ },
    { name: 'missing id header', headers: { lang: 'py', task: 'tasks.add' }, body: goodBody, contentType: 'application/json', expectLog: /header "id" is missing/ },
    { name: 'wrong header type', headers: goodHeaders(id(), { retries: 'many' }), body: goodBody, contentType: 'application/json', expectLog: /header "retries" must be an integer/ },
    { name: 'no task header, not v1', headers: {}, body: '[1, 2, 3]', contentType: 'application/json', expectLog: /Received and deleted unknown message/ },
    { name: 'yaml content type', headers: goodHeaders(id()), body: '- 1', contentType: 'application/x-yaml', expectLog: /Refusing to deserialize untrusted content of type yaml \(application\/x-yaml\)/ },
    { name: 'pickle content type', headers: goodHeaders(id()), body: '\x80\x04N.', contentType: 'application/x-python-serialize', expectLog: /Refusing to deserialize untrusted content of type pickle/ },
    { name: 'unknown compression', headers: goodHeaders(id(), { compression: 'application/zstd' }), body: goodBody, contentType: 'application/json', expectLog: /unsupported compression "application\/zstd"/ },
    { name: 'invalid eta', headers: goodHeaders(id(), { eta: 'tomorrow-ish' }), body: goodBody, contentType: 'application/json', expectLog: /cannot read eta "tomorrow-ish"/ },
  ];
}

describeWith(['redis'], 'bad input on the Redis transport', () => {
  const queue = uniqueName('bad-redis');
  let worker: Proc;
  let redis: Redis;
  let app: Celery;

  beforeAll(async () => {
    worker = await startCeleriacWorker({ broker: REDIS_URL, backend: REDIS_URL, queues: [queue] });
    redis = new Redis(REDIS_URL);
    app = new Celery({ broker: REDIS_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
  });
  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await worker?.stop();
  });

  test('envelopes the transport cannot read are logged and dropped', async () => {
    const tag = randomUUID();
    const raws = [
      'not json at all',
      JSON.stringify({ body: '!!!not base64!!!', 'content-type': 'application/json', 'content-encoding': 'utf-8', headers: goodHeaders(randomUUID()), properties: { delivery_tag: tag, body_encoding: 'base64', delivery_info: { exchange: '', routing_key: queue } } }),
      JSON.stringify({ body: b64(goodBody), 'content-type': 'application/json', headers: goodHeaders(randomUUID()), properties: { body_encoding: 'base64' } }),
      JSON.stringify(['an', 'array']),
    ];
    for (const raw of raws) await redis.lpush(queue, raw);
    const r = await app.sendTask<number>('tasks.add', [20, 22]);
    expect(await r.get({ timeout: 20 })).toBe(42);
    await worker.waitFor(/Discarding unreadable message from queue [^:]+: Redis message is not JSON/);
    await worker.waitFor(/Redis message body is not valid base64/);
    await worker.waitFor(/Redis message has no properties\.delivery_tag/);
    await worker.waitFor(/Redis message is not a JSON object/);
    expect(await redis.llen(queue)).toBe(0);
    expect(await redis.hexists('unacked', tag)).toBe(0);
  });

  test.each(cases())('$name: logged with its reason, removed, worker keeps serving', async (c) => {
    const tag = randomUUID();
    const envelope = {
      body: Buffer.from(c.body, 'latin1').toString('base64'),
      'content-encoding': 'utf-8',
      ...(c.contentType ? { 'content-type': c.contentType } : {}),
      headers: c.headers,
      properties: { correlation_id: String(c.headers.id ?? ''), delivery_mode: 2, delivery_info: { exchange: '', routing_key: queue }, priority: 0, body_encoding: 'base64', delivery_tag: tag },
    };
    await redis.lpush(queue, JSON.stringify(envelope));
    const r = await app.sendTask<number>('tasks.add', [1, 1]);
    expect(await r.get({ timeout: 20 })).toBe(2);
    await worker.waitFor(c.expectLog);
    expect(await redis.llen(queue)).toBe(0);
    // Settled, not left for the visibility timeout to redeliver forever. Acks travel on the broker connection and
    // the result on the backend's, so the ack may land a moment after the result: wait for it, bounded.
    const deadline = Date.now() + 5000;
    while ((await redis.hexists('unacked', tag)) === 1 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(await redis.hexists('unacked', tag)).toBe(0);
    expect(await redis.zscore('unacked_index', tag)).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  });
});

describeWith(['amqp', 'redis'], 'bad input on the AMQP transport', () => {
  const queue = uniqueName('bad-amqp');
  let worker: Proc;
  let conn: amqp.ChannelModel;
  let ch: amqp.Channel;
  let app: Celery;

  beforeAll(async () => {
    worker = await startCeleriacWorker({ broker: AMQP_URL, backend: REDIS_URL, queues: [queue] });
    conn = await amqp.connect(AMQP_URL);
    ch = await conn.createChannel();
    app = new Celery({ broker: AMQP_URL, backend: REDIS_URL, config: { taskDefaultQueue: queue } });
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await ch?.deleteQueue(queue).catch(() => undefined);
    await conn?.close();
  });

  test.each(cases())('$name: logged with its reason, removed, worker keeps serving', async (c) => {
    ch.publish('', queue, Buffer.from(c.body, 'latin1'), { headers: c.headers, contentType: c.contentType, contentEncoding: 'utf-8', deliveryMode: 2 });
    const r = await app.sendTask<number>('tasks.add', [2, 2]);
    expect(await r.get({ timeout: 20 })).toBe(4);
    await worker.waitFor(c.expectLog);
    expect(worker.child.exitCode).toBeNull();
  });

  test('nothing is left in the queue, ready or unacknowledged', async () => {
    await worker.stop();
    const { messageCount } = await ch.checkQueue(queue);
    expect(messageCount).toBe(0);
  });
});
