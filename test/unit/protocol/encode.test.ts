// encodeTaskMessage and encodeEnvelope against golden Python messages: header order, argsrepr, properties, envelope layout.

import {
  decodeEnvelope,
  decodeTaskMessage,
  encodeEnvelope,
  encodeTaskMessage,
  parseJson,
  stringifyJson,
  type TaskMessageSpec,
} from '../../../protocol';
import { keyLayout, loadFixture } from './helpers';

interface GoldenRedisMessage {
  raw: string;
  envelope: { headers: Record<string, any>; properties: Record<string, any> };
  body_decoded: any;
}

/** The order Celery 5.2.6's as_task_v2 writes the headers in. */
const PY_HEADER_ORDER = [
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit',
  'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result',
];

function golden(name: string): GoldenRedisMessage {
  return loadFixture<{ messages: GoldenRedisMessage[] }>(`redis_broker/${name}.json`).messages[0];
}

/** The same apply_async inputs as each golden case, taken from the golden message itself. */
function specFor(name: string): TaskMessageSpec {
  const { envelope, body_decoded } = golden(name);
  const h = envelope.headers;
  const p = envelope.properties;
  const spec: TaskMessageSpec = {
    id: h.id,
    task: h.task,
    args: body_decoded[0],
    kwargs: body_decoded[1],
    origin: h.origin,
    replyTo: p.reply_to,
  };
  if (name === 'countdown') spec.eta = h.eta;
  if (name === 'time_limits') spec.timelimit = [30, 20];
  if (name === 'custom_id_and_headers') spec.headers = { 'x-custom': 'value' };
  if (name === 'priority_5') spec.priority = 5;
  if (name === 'expires_seconds') {
    spec.expires = h.expires;
    spec.expirationMs = 120000;
  }
  return spec;
}

const CASES = ['plain_args', 'args_kwargs', 'countdown', 'time_limits', 'custom_id_and_headers', 'priority_5', 'expires_seconds'];

describe.each(CASES)('encodeTaskMessage like Python: %s', (name) => {
  const g = golden(name);
  const msg = encodeTaskMessage(specFor(name));
  const gh = g.envelope.headers;

  test("header keys are exactly in Python's order, custom headers last", () => {
    const custom = Object.keys(gh).filter((k) => !PY_HEADER_ORDER.includes(k));
    expect(Object.keys(msg.headers)).toEqual([...PY_HEADER_ORDER, ...custom]);
    expect(Object.keys(msg.headers)).toEqual(Object.keys(gh));
  });

  test('header values equal the golden ones (lang names the producer)', () => {
    const { lang, ...rest } = msg.headers;
    const { lang: pyLang, ...goldenRest } = gh;
    expect(pyLang).toBe('py');
    expect(typeof lang).toBe('string');
    expect(rest).toEqual(goldenRest);
  });

  test('argsrepr/kwargsrepr are what Python wrote', () => {
    expect(msg.headers.argsrepr).toBe(gh.argsrepr);
    expect(msg.headers.kwargsrepr).toBe(gh.kwargsrepr);
  });

  test('properties, content type and body match', () => {
    const gp = g.envelope.properties;
    const expected: Record<string, unknown> = {
      correlationId: gp.correlation_id,
      replyTo: gp.reply_to,
      deliveryMode: gp.delivery_mode,
      priority: gp.priority,
    };
    if (gp.expiration !== undefined) expected.expiration = gp.expiration;
    expect(msg.properties).toEqual(expected);
    expect(msg.contentType).toBe('application/json');
    expect(msg.contentEncoding).toBe('utf-8');
    expect(parseJson(msg.body)).toEqual(g.body_decoded);
    // Python's bytes, up to separators: json.dumps uses ", " and ": ".
    const pythonBody = Buffer.from((parseJson(g.raw) as { body: string }).body, 'base64').toString('utf8');
    expect(stringifyJson(parseJson(msg.body), { pythonStyle: true })).toBe(pythonBody);
  });

  test('encodeEnvelope decodes back identically and has the golden key layout', () => {
    const gp = g.envelope.properties;
    const tag = gp.delivery_tag;
    const raw = encodeEnvelope(msg, gp.delivery_info, tag);
    const d = decodeEnvelope(raw);
    expect(d.message).toEqual(msg);
    expect(d.deliveryTag).toBe(tag);
    expect(d.deliveryInfo).toEqual(gp.delivery_info);
    expect(decodeTaskMessage(d.message, new Set(['json']))).toEqual(decodeTaskMessage(msg, new Set(['json'])));
    // Same keys in the same order at every level (values differ only in lang and in the JSON spacing).
    expect(keyLayout(parseJson(raw))).toEqual(keyLayout(parseJson(g.raw)));
    const ours = parseJson(raw) as Record<string, any>;
    const theirs = parseJson(g.raw) as Record<string, any>;
    expect(ours.properties).toEqual(theirs.properties);
    expect(ours.body).toBe(Buffer.from(stringifyJson(g.body_decoded)).toString('base64'));
  });
});

test('expires: the AMQP expiration property is a string of milliseconds, rounded and never negative', () => {
  const base = { id: 'i', task: 't', origin: 'o', replyTo: 'r' };
  expect(encodeTaskMessage({ ...base, expirationMs: 120000.4 }).properties.expiration).toBe('120000');
  expect(encodeTaskMessage({ ...base, expirationMs: -5 }).properties.expiration).toBe('0');
  expect(encodeTaskMessage(base).properties).not.toHaveProperty('expiration');
});

test('defaults: root_id is the own id, embed is all null, retries 0', () => {
  const msg = encodeTaskMessage({ id: 'abc', task: 'tasks.add', args: [1, 2], origin: 'gen1@host', replyTo: 'r' });
  expect(msg.headers.root_id).toBe('abc');
  expect(msg.headers.retries).toBe(0);
  expect(msg.headers.timelimit).toEqual([null, null]);
  expect(parseJson(msg.body)).toEqual([[1, 2], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
});

test('big integers and non-ASCII survive encode → envelope → decode', () => {
  const msg = encodeTaskMessage({
    id: 'x',
    task: 'tasks.echo',
    args: ['héllo 🎉', 2n ** 64n + 1n],
    kwargs: { neg: -(2n ** 63n) },
    origin: 'o',
    replyTo: 'r',
  });
  const req = decodeTaskMessage(decodeEnvelope(encodeEnvelope(msg, { exchange: '', routing_key: 'celery' }, 't')).message, new Set(['json']));
  expect(req.args).toEqual(['héllo 🎉', 18446744073709551617n]);
  expect(req.kwargs).toEqual({ neg: -9223372036854775808n });
  expect(req.argsrepr).toBe("('héllo 🎉', 18446744073709551617)");
  expect(req.kwargsrepr).toBe("{'neg': -9223372036854775808}");
});
