// Decoding real Python Celery task messages: kombu Redis envelopes and AMQP messages, protocol v2 and v1, against golden captures.

import { deflateSync } from 'node:zlib';
import {
  ContentDisallowed,
  DecodeError,
  InvalidTaskMessage,
  decodeEnvelope,
  decodeTaskMessage,
  type TaskRequestData,
  type WireMessage,
} from '../../../protocol';
import { fixtureCases, loadFixture, wireFromAmqp } from './helpers';

const ACCEPT = new Set(['json']);

interface GoldenRedisMessage {
  redis_key: string;
  raw: string;
  envelope: { headers: Record<string, any>; properties: Record<string, any>; body: string; 'content-type': string; 'content-encoding': string };
  body_decoded: any;
}

interface GoldenAmqpMessage {
  headers: Record<string, any>;
  properties: Record<string, any>;
  body_base64: string;
  body_decoded: any;
  delivery_info: Record<string, any>;
}

/** Everything decodeTaskMessage must report for a v2 message, straight from the golden headers and body. */
function expectV2(req: TaskRequestData, headers: Record<string, any>, body: any, props: { correlation_id?: string; reply_to?: string }): void {
  const [args, kwargs, embed] = body;
  expect(req.protocol).toBe(2);
  expect(req.id).toBe(headers.id);
  expect(req.task).toBe(headers.task);
  expect(req.args).toEqual(args);
  expect(req.kwargs).toEqual(kwargs);
  expect(req.embed).toEqual({ callbacks: embed.callbacks, errbacks: embed.errbacks, chain: embed.chain, chord: embed.chord });
  expect(req.shadow).toBe(headers.shadow);
  expect(req.eta).toBe(headers.eta);
  expect(req.expires).toBe(headers.expires);
  expect(req.group).toBe(headers.group);
  expect(req.groupIndex).toBe(headers.group_index);
  expect(req.retries).toBe(headers.retries);
  expect(req.timelimit).toEqual(headers.timelimit);
  expect(req.rootId).toBe(headers.root_id);
  expect(req.parentId).toBe(headers.parent_id);
  expect(req.argsrepr).toBe(headers.argsrepr);
  expect(req.kwargsrepr).toBe(headers.kwargsrepr);
  expect(req.origin).toBe(headers.origin);
  expect(req.ignoreResult).toBe(headers.ignore_result);
  expect(req.correlationId).toBe(props.correlation_id);
  expect(req.replyTo).toBe(props.reply_to);
  expect(req.headers).toEqual(headers);
}

/** A v1 body converted as Celery's proto1_to_proto2 does. */
function expectV1(req: TaskRequestData, body: any, props: { correlation_id?: string; reply_to?: string }): void {
  expect(req.protocol).toBe(1);
  expect(req.id).toBe(body.id);
  expect(req.task).toBe(body.task);
  expect(req.args).toEqual(body.args);
  expect(req.kwargs).toEqual(body.kwargs);
  expect(req.embed).toEqual({ callbacks: body.callbacks, errbacks: body.errbacks, chain: null, chord: body.chord });
  expect(req.eta).toBe(body.eta);
  expect(req.expires).toBe(body.expires);
  expect(req.group).toBe(body.taskset); // Celery: body['group'] = body['taskset']
  expect(req.group).toBe(body.group);
  expect(req.groupIndex).toBe(body.group_index);
  expect(req.retries).toBe(body.retries);
  expect(req.timelimit).toEqual(body.timelimit);
  expect(req.rootId).toBeNull();
  expect(req.parentId).toBeNull();
  expect(req.shadow).toBeNull();
  expect(req.correlationId).toBe(props.correlation_id);
  expect(req.replyTo).toBe(props.reply_to);
  expect(req.headers).not.toHaveProperty('args');
  expect(req.headers).not.toHaveProperty('kwargs');
  expect(req.headers.utc).toBe(true);
}

const REDIS_V2 = fixtureCases('redis_broker');
const REDIS_V1 = fixtureCases('redis_broker_v1');
const AMQP_V2 = fixtureCases('amqp_broker');
const AMQP_V1 = fixtureCases('amqp_broker_v1');

test('the fixture folders hold every golden broker case', () => {
  expect(REDIS_V2).toHaveLength(27);
  expect(AMQP_V2).toEqual(REDIS_V2);
  expect(REDIS_V1).toEqual(['chord', 'countdown', 'link_and_link_error', 'plain_args']);
  expect(AMQP_V1).toEqual(REDIS_V1);
});

describe.each(REDIS_V2)('redis_broker/%s', (name) => {
  const fx = loadFixture<{ messages: GoldenRedisMessage[]; result_id: string }>(`redis_broker/${name}.json`);

  test('decodeEnvelope reads the exact list element', () => {
    expect(fx.messages.length).toBeGreaterThan(0);
    for (const m of fx.messages) {
      const d = decodeEnvelope(m.raw);
      const p = m.envelope.properties;
      expect(d.deliveryTag).toBe(p.delivery_tag);
      expect(d.deliveryInfo).toEqual({ exchange: p.delivery_info.exchange, routing_key: p.delivery_info.routing_key });
      expect(d.redelivered).toBe(false);
      expect(d.message.contentType).toBe(m.envelope['content-type']);
      expect(d.message.contentEncoding).toBe(m.envelope['content-encoding']);
      expect(d.message.headers).toEqual(m.envelope.headers);
      expect(d.message.body).toEqual(Buffer.from(m.envelope.body, 'base64'));
      const expected: Record<string, unknown> = {
        correlationId: p.correlation_id,
        replyTo: p.reply_to,
        deliveryMode: p.delivery_mode,
        priority: p.priority,
      };
      if (p.expiration !== undefined) expected.expiration = p.expiration;
      expect(d.message.properties).toEqual(expected);
    }
  });

  if (name === 'serializer_pickle') {
    test('a pickle body is refused before it is read (ContentDisallowed)', () => {
      for (const m of fx.messages) {
        const { message } = decodeEnvelope(m.raw);
        expect(message.contentType).toBe('application/x-python-serialize');
        expect(() => decodeTaskMessage(message, ACCEPT)).toThrow(ContentDisallowed);
        expect(() => decodeTaskMessage(message, ACCEPT)).toThrow(
          'Refusing to deserialize untrusted content of type pickle (application/x-python-serialize)',
        );
      }
    });
    return;
  }

  test('decodeTaskMessage matches headers and body_decoded', () => {
    for (const m of fx.messages) {
      const req = decodeTaskMessage(decodeEnvelope(m.raw).message, ACCEPT);
      expectV2(req, m.envelope.headers, m.body_decoded, m.envelope.properties);
    }
  });
});

describe.each(REDIS_V1)('redis_broker_v1/%s', (name) => {
  const fx = loadFixture<{ messages: GoldenRedisMessage[] }>(`redis_broker_v1/${name}.json`);
  test('decodes and converts protocol 1 like Celery', () => {
    expect(fx.messages.length).toBeGreaterThan(0);
    for (const m of fx.messages) {
      const d = decodeEnvelope(m.raw);
      expect(d.message.headers).toEqual({});
      expect(d.deliveryTag).toBe(m.envelope.properties.delivery_tag);
      expectV1(decodeTaskMessage(d.message, ACCEPT), m.body_decoded, m.envelope.properties);
    }
  });
});

describe.each(AMQP_V2)('amqp_broker/%s', (name) => {
  const fx = loadFixture<{ messages: GoldenAmqpMessage[] }>(`amqp_broker/${name}.json`);
  const wires = fx.messages.map(wireFromAmqp);

  if (name === 'serializer_pickle') {
    test('a pickle body is refused (ContentDisallowed)', () => {
      for (const w of wires) expect(() => decodeTaskMessage(w, ACCEPT)).toThrow(ContentDisallowed);
    });
    return;
  }

  test('decodeTaskMessage matches headers and body_decoded', () => {
    expect(fx.messages.length).toBeGreaterThan(0);
    fx.messages.forEach((m, i) => expectV2(decodeTaskMessage(wires[i], ACCEPT), m.headers, m.body_decoded, m.properties));
  });
});

describe.each(AMQP_V1)('amqp_broker_v1/%s', (name) => {
  const fx = loadFixture<{ messages: GoldenAmqpMessage[] }>(`amqp_broker_v1/${name}.json`);
  test('decodes and converts protocol 1 like Celery', () => {
    expect(fx.messages.length).toBeGreaterThan(0);
    for (const m of fx.messages) expectV1(decodeTaskMessage(wireFromAmqp(m), ACCEPT), m.body_decoded, m.properties);
  });
});

describe('specific golden cases', () => {
  const redisReq = (name: string, i = 0): TaskRequestData =>
    decodeTaskMessage(decodeEnvelope(loadFixture<{ messages: GoldenRedisMessage[] }>(`redis_broker/${name}.json`).messages[i].raw).message, ACCEPT);
  const amqpReq = (name: string, i = 0): TaskRequestData =>
    decodeTaskMessage(wireFromAmqp(loadFixture<{ messages: GoldenAmqpMessage[] }>(`amqp_broker/${name}.json`).messages[i]), ACCEPT);

  test.each([['redis', redisReq], ['amqp', amqpReq]] as const)('unicode_nested (%s): 2**53+1 stays exact, emoji intact', (_b, get) => {
    const req = get('unicode_nested');
    expect(req.kwargs.big).toBe(9007199254740993n);
    expect(req.kwargs.emoji).toBe('🎉');
    expect(req.kwargs.neg).toBe(-1.5e-10);
    expect(req.kwargs.empty).toEqual({});
    expect(req.args[0]).toBe('héllo wörld ✓ 日本語 🎉');
    expect(req.args[1]).toEqual({ nested: { list: [1, 2.5, null, true, false, { deep: ['x', { y: [] }] }] } });
  });

  test('compression_zlib: the body is a zlib stream named application/x-gzip', () => {
    const m = loadFixture<{ messages: GoldenRedisMessage[] }>('redis_broker/compression_zlib.json').messages[0];
    const { message } = decodeEnvelope(m.raw);
    expect(message.headers.compression).toBe('application/x-gzip');
    expect(message.body[0]).toBe(0x78); // RFC 1950 header, not gzip's 1f 8b
    expect(redisReq('compression_zlib').args).toEqual([1, 2]);
    expect(amqpReq('compression_zlib').args).toEqual([1, 2]);
  });

  test('chain: the remaining steps are in reverse, the next one last', () => {
    const fx = loadFixture<{ result_id: string }>('redis_broker/chain.json');
    const chain = redisReq('chain').embed.chain!;
    expect(chain.map((s) => s.task)).toEqual(['tasks.mul', 'tasks.add']);
    expect(chain[0].options?.task_id).toBe(fx.result_id);
    expect(chain[1].args).toEqual([3]);
  });

  test('chord: header tasks carry group, group_index and the body signature', () => {
    const fx = loadFixture<{ result_id: string; messages: GoldenRedisMessage[] }>('redis_broker/chord.json');
    const reqs = fx.messages.map((_, i) => redisReq('chord', i));
    expect(reqs.map((r) => r.groupIndex)).toEqual([0, 1]);
    expect(new Set(reqs.map((r) => r.group)).size).toBe(1);
    for (const r of reqs) expect(r.embed.chord?.options?.task_id).toBe(fx.result_id);
  });

  test('group: members have group set and group_index null', () => {
    for (let i = 0; i < 3; i++) {
      const r = redisReq('group', i);
      expect(r.group).toEqual(expect.any(String));
      expect(r.groupIndex).toBeNull();
    }
  });

  test('link_and_link_error: callbacks and errbacks are signatures', () => {
    const r = redisReq('link_and_link_error');
    expect(r.embed.callbacks?.map((s) => s.task)).toEqual(['tasks.mul']);
    expect(r.embed.errbacks?.map((s) => s.task)).toEqual(['tasks.on_error_old']);
  });

  test('time_limits / retries / eta / expires / custom headers / shadow', () => {
    expect(redisReq('time_limits').timelimit).toEqual([30, 20]);
    expect(redisReq('retries_header').retries).toBe(3);
    expect(redisReq('eta_datetime_utc').eta).toBe('2030-01-02T03:04:05.678901+00:00');
    expect(redisReq('expires_datetime').expires).toBe('2030-01-01T00:00:00+00:00');
    expect(amqpReq('expires_seconds').expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(redisReq('custom_id_and_headers').headers['x-custom']).toBe('value');
    expect(redisReq('custom_id_and_headers').id).toBe('11111111-2222-3333-4444-555555555555');
    expect(redisReq('shadow_name').shadow).toBe('custom.shadow.name');
    expect(redisReq('ignore_result').ignoreResult).toBe(true);
  });

  test('special_types_json: kombu 5.2 sends special types as plain strings', () => {
    expect(redisReq('special_types_json').args).toEqual([
      '2024-01-02T03:04:05.678901Z',
      '2024-01-02T03:04:05',
      '2024-01-02T00:00:00',
      '03:04:05',
      '12345678-1234-5678-1234-567812345678',
      '1.10',
      [1, 2],
    ]);
  });

  test('serializer_pickle is still refused when pickle is accepted but the body is not JSON', () => {
    const m = loadFixture<{ messages: GoldenRedisMessage[] }>('redis_broker/serializer_pickle.json').messages[0];
    expect(() => decodeTaskMessage(decodeEnvelope(m.raw).message, new Set(['json', 'pickle']))).toThrow(DecodeError);
  });
});

describe('hand-built messages (PROTOCOL.md a.1 acceptance rules)', () => {
  const wire = (headers: Record<string, unknown>, body: unknown, contentType: string | undefined = 'application/json'): WireMessage => ({
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    contentType,
    contentEncoding: 'utf-8',
    headers,
    properties: {},
  });

  test('headers {task, id} and a 3-element body are enough; embed may be {} or null', () => {
    for (const embed of [{}, null]) {
      const r = decodeTaskMessage(wire({ task: 't', id: 'i' }, [[1], {}, embed]), ACCEPT);
      expect(r).toMatchObject({ task: 't', id: 'i', args: [1], retries: 0, timelimit: [null, null], rootId: null, argsrepr: null });
      expect(r.embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
    }
  });

  test('a minimal v1 body {task, id, args, kwargs} with empty headers works', () => {
    const r = decodeTaskMessage(wire({}, { task: 't', id: 'i', args: [1, 2], kwargs: {} }), ACCEPT);
    expect(r).toMatchObject({ protocol: 1, task: 't', id: 'i', args: [1, 2], group: null, eta: null });
  });

  test('malformed messages raise the error that decides their fate', () => {
    expect(() => decodeTaskMessage(wire({ task: 't', id: 'i' }, [[1], {}]), ACCEPT)).toThrow(DecodeError);
    expect(() => decodeTaskMessage(wire({ task: 't', id: 'i' }, '[[1], {}, '), ACCEPT)).toThrow(DecodeError);
    expect(() => decodeTaskMessage(wire({}, [[1], {}, {}]), ACCEPT)).toThrow(InvalidTaskMessage);
    expect(() => decodeTaskMessage(wire({ task: 't', id: 'i' }, [[], {}, {}], 'application/json; charset=utf-8'), ACCEPT)).toThrow(
      ContentDisallowed,
    );
  });

  test('an envelope without body_encoding carries the JSON text as is; one without delivery_tag is refused', () => {
    const env = {
      body: '[[4, 4], {}, {}]',
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      headers: { task: 'tasks.add', id: 'x' },
      properties: { delivery_tag: 'tag-1', delivery_info: { exchange: '', routing_key: 'celery' } },
    };
    expect(decodeTaskMessage(decodeEnvelope(JSON.stringify(env)).message, ACCEPT).args).toEqual([4, 4]);
    const noTag = { ...env, properties: { delivery_info: env.properties.delivery_info } };
    expect(() => decodeEnvelope(JSON.stringify(noTag))).toThrow(DecodeError);
  });

  test('a compressed body we produce with zlib decodes', () => {
    const w = wire({ task: 't', id: 'i', compression: 'application/x-gzip' }, '');
    w.body = deflateSync(Buffer.from('[[7], {}, null]'));
    expect(decodeTaskMessage(w, ACCEPT).args).toEqual([7]);
  });
});
