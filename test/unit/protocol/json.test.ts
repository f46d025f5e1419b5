// Celery JSON (json.ts): exact big ints, NaN/Infinity, kombu >= 5.3 tagged types, 5.2 plain strings, and pythonStyle == Python's json.dumps.

import {
  JsonDecodeError,
  JsonEncodeError,
  PyDate,
  PyDateTime,
  PyDecimal,
  PyTime,
  PyUUID,
  parseJson,
  stringifyJson,
} from '../../../protocol';
import { fixtureCases, loadFixture, pythonTest, runPython } from './helpers';

describe('exact integers', () => {
  test('integers beyond 2^53 become bigint; safe ones stay numbers', () => {
    expect(parseJson('9007199254740993')).toBe(9007199254740993n);
    expect(parseJson('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(parseJson('18446744073709551617')).toBe(18446744073709551617n);
    expect(parseJson('9007199254740991')).toBe(9007199254740991);
    expect(parseJson('[1, 9007199254740993, {"x": -9007199254740993}]')).toEqual([1, 9007199254740993n, { x: -9007199254740993n }]);
  });

  test('long floats are numbers, not bigints', () => {
    expect(parseJson('12345678901234567890.5')).toBe(12345678901234567890.5);
    expect(parseJson('1.2345678901234567e+30')).toBe(1.2345678901234567e30);
    expect(parseJson('0.1234567890123456789')).toBe(0.1234567890123456789);
  });

  test('bigints round-trip through stringifyJson in every mode', () => {
    const v = { big: 2n ** 64n + 1n, neg: -(2n ** 63n), list: [9007199254740993n, 1, 'x'] };
    for (const opts of [{}, { pythonStyle: true }, { tagged: true }]) expect(parseJson(stringifyJson(v, opts))).toEqual(v);
    expect(stringifyJson(v)).toBe('{"big":18446744073709551617,"neg":-9223372036854775808,"list":[9007199254740993,1,"x"]}');
  });

  test('Buffer input is read as UTF-8', () => {
    expect(parseJson(Buffer.from('{"emoji": "🎉", "n": 9007199254740993}'))).toEqual({ emoji: '🎉', n: 9007199254740993n });
  });
});

describe("Python's NaN and Infinity", () => {
  test('parse, including inside the exact parser', () => {
    expect(parseJson('[NaN, Infinity, -Infinity]')).toEqual([NaN, Infinity, -Infinity]);
    expect(parseJson('{"a": NaN, "b": 9007199254740993, "c": -Infinity}')).toEqual({ a: NaN, b: 9007199254740993n, c: -Infinity });
  });

  test('re-encode as Python writes them', () => {
    expect(stringifyJson([NaN, Infinity, -Infinity])).toBe('[NaN,Infinity,-Infinity]');
    expect(stringifyJson([NaN, Infinity, -Infinity], { pythonStyle: true })).toBe('[NaN, Infinity, -Infinity]');
  });
});

describe('malformed input', () => {
  test.each(['', '{', '[1,]', '{"a" 1}', '[1] x', 'nul', '"\u0001"', '01', '[9007199254740993,]', '{"a": 9007199254740993'])(
    '%j raises JsonDecodeError',
    (text) => {
      expect(() => parseJson(text)).toThrow(JsonDecodeError);
    },
  );

  test('a "__proto__" key is plain data', () => {
    const v = parseJson('{"__proto__": {"polluted": 1}, "n": 9007199254740993}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__', 'n']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('the default (compact) path writes what the exact encoder writes: no silent null, Buffer or {} for Map', () => {
    expect(stringifyJson({ r: NaN, l: [1, -Infinity] })).toBe('{"r":NaN,"l":[1,-Infinity]}');
    expect(() => stringifyJson([new Uint8Array([1])])).toThrow(JsonEncodeError);
    expect(stringifyJson({ m: new Map([['a', 1]]), s: new Set([2]) })).toBe('{"m":{"a":1},"s":[2]}');
    expect(stringifyJson({ d: new PyDecimal('1.10'), t: new Date(0) })).toBe('{"d":"1.10","t":"1970-01-01T00:00:00.000Z"}');
    const cyclic: Record<string, unknown> = {};
    cyclic.a = cyclic;
    cyclic.b = cyclic;
    expect(() => stringifyJson(cyclic)).toThrow(JsonEncodeError);
  });

  test('undefined is dropped from objects and null in arrays, as JSON.stringify does', () => {
    expect(stringifyJson({ a: undefined, b: [undefined, 1n] })).toBe('{"b":[null,1]}');
  });
});

describe('kombu >= 5.3 tagged values', () => {
  // [type, exact Python json.dumps text of the tag, check of the revived value]
  const CASES: [string, string, (v: unknown) => void][] = [
    ['datetime with microseconds and offset', '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678901+05:30"}', (v) => {
      expect(v).toBeInstanceOf(PyDateTime);
      expect((v as PyDateTime).getTime()).toBe(Date.UTC(2024, 0, 2, 3, 4, 5, 678) - 5.5 * 3600_000);
      expect((v as PyDateTime).isoformat()).toBe('2024-01-02T03:04:05.678901+05:30');
    }],
    ['aware UTC datetime', '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678901+00:00"}', (v) => {
      expect((v as PyDateTime).toISOString()).toBe('2024-01-02T03:04:05.678Z');
    }],
    ['naive datetime (UTC)', '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05"}', (v) => {
      expect((v as PyDateTime).getTime()).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    }],
    ['date', '{"__type__": "date", "__value__": "2024-01-02"}', (v) => {
      expect(v).toBeInstanceOf(PyDate);
      expect(String(v)).toBe('2024-01-02');
    }],
    ['time', '{"__type__": "time", "__value__": "03:04:05.123456"}', (v) => {
      expect(v).toBeInstanceOf(PyTime);
      expect(String(v)).toBe('03:04:05.123456');
    }],
    ['decimal', '{"__type__": "decimal", "__value__": "1.10"}', (v) => {
      expect(v).toBeInstanceOf(PyDecimal);
      expect((v as PyDecimal).value).toBe('1.10');
    }],
    ['uuid', '{"__type__": "uuid", "__value__": {"hex": "12345678123456781234567812345678"}}', (v) => {
      expect(v).toBeInstanceOf(PyUUID);
      expect((v as PyUUID).value).toBe('12345678-1234-5678-1234-567812345678');
    }],
    ['bytes (valid UTF-8)', '{"__type__": "bytes", "__value__": "h\\u00e9llo \\ud83c\\udf89"}', (v) => {
      expect(v).toEqual(Buffer.from('héllo 🎉', 'utf8'));
    }],
    ['base64 (not UTF-8)', '{"__type__": "base64", "__value__": "/wCA"}', (v) => {
      expect(v).toEqual(Buffer.from([0xff, 0x00, 0x80]));
    }],
  ];

  test.each(CASES)('%s: parses and re-encodes identically with {tagged: true}', (_name, text, check) => {
    const v = parseJson(text);
    check(v);
    expect(stringifyJson(v, { tagged: true, pythonStyle: true })).toBe(text);
    expect(stringifyJson(v, { tagged: true })).toBe(JSON.stringify(JSON.parse(text)));
  });

  test('tags are revived anywhere in a document, big ints alongside', () => {
    const text =
      '{"when": {"__type__": "datetime", "__value__": "2024-01-02T03:04:05.000001-08:00"}, "ids": [{"__type__": "uuid", "__value__": {"hex": "0123456789abcdef0123456789abcdef"}}], "n": 9007199254740993}';
    const v = parseJson(text) as { when: PyDateTime; ids: PyUUID[]; n: bigint };
    expect(v.when.getTime()).toBe(Date.UTC(2024, 0, 2, 11, 4, 5));
    expect(v.ids[0].value).toBe('01234567-89ab-cdef-0123-456789abcdef');
    expect(v.n).toBe(9007199254740993n);
    expect(stringifyJson(v, { tagged: true, pythonStyle: true })).toBe(text);
  });

  test('the kombu >= 5.4 uuid form with "version" is accepted', () => {
    const v = parseJson('{"__type__": "uuid", "__value__": {"hex": "12345678123456784234567812345678", "version": 4}}');
    expect((v as PyUUID).value).toBe('12345678-1234-5678-4234-567812345678');
  });

  test('an unknown tag is an error (kombu raises too); extra keys mean it is not a tag', () => {
    expect(() => parseJson('{"__type__": "frozenset", "__value__": [1]}')).toThrow(JsonDecodeError);
    expect(parseJson('{"__type__": "datetime", "__value__": "x", "extra": 1}')).toEqual({ __type__: 'datetime', __value__: 'x', extra: 1 });
  });

  test('a JS Date is written as a tagged aware UTC datetime', () => {
    expect(stringifyJson(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), { tagged: true })).toBe(
      '{"__type__":"datetime","__value__":"2024-01-02T03:04:05.678+00:00"}',
    );
  });

  pythonTest('Python decodes our tagged output to the same objects (kombu main object_hook)', () => {
    const ours = stringifyJson(
      [
        new PyDateTime('2024-01-02T03:04:05.678901+05:30'),
        new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
        new PyDate('2024-01-02'),
        new PyTime('03:04:05.123456'),
        new PyDecimal('1.10'),
        new PyUUID('12345678-1234-5678-1234-567812345678'),
        Buffer.from('héllo', 'utf8'),
        Buffer.from([0xff, 0x00]),
      ],
      { tagged: true },
    );
    // The decoders of kombu >= 5.3's utils/json.py (the installed kombu is 5.2, which has none).
    const out = runPython(
      `
import base64, json, sys, uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
dec = {
    "datetime": datetime.fromisoformat, "date": lambda o: datetime.fromisoformat(o).date(),
    "time": time.fromisoformat, "decimal": Decimal, "uuid": lambda o: uuid.UUID(**o),
    "bytes": lambda o: o.encode("utf-8"), "base64": lambda o: base64.b64decode(o.encode("utf-8")),
}
def hook(o):
    return dec[o["__type__"]](o["__value__"]) if o.keys() == {"__type__", "__value__"} else o
got = json.loads(sys.stdin.read(), object_hook=hook)
want = [
    datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
    date(2024, 1, 2), time(3, 4, 5, 123456), Decimal("1.10"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"), "héllo".encode(), b"\\xff\\x00",
]
print(got == want and [type(x) for x in got] == [type(x) for x in want], repr(got))
`,
      ours,
    );
    expect(out.trim()).toMatch(/^True /);
  });
});

describe('Celery 5.2 (untagged) JSON of special types', () => {
  test('matches what kombu 5.2 wrote in special_types_json', () => {
    const golden = loadFixture<{ messages: { body_decoded: unknown[][] }[] }>('redis_broker/special_types_json.json');
    const args = golden.messages[0].body_decoded[0];
    const ours = [
      new PyDateTime('2024-01-02T03:04:05.678901+00:00'),
      new PyDateTime('2024-01-02T03:04:05'),
      new PyDate('2024-01-02'),
      new PyTime('03:04:05'),
      new PyUUID('12345678-1234-5678-1234-567812345678'),
      new PyDecimal('1.10'),
      [1, 2],
    ];
    expect(JSON.parse(stringifyJson(ours))).toEqual(args);
  });

  test('a JS Date becomes an ISO string with Z; bytes cannot be sent', () => {
    expect(stringifyJson(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))).toBe('"2024-01-02T03:04:05.678Z"');
    expect(() => stringifyJson({ b: Buffer.from('x') })).toThrow(JsonEncodeError);
  });
});

describe("pythonStyle equals Python's json.dumps", () => {
  test('every golden Redis envelope re-encodes byte for byte', () => {
    let n = 0;
    for (const folder of ['redis_broker', 'redis_broker_v1']) {
      for (const name of fixtureCases(folder)) {
        for (const m of loadFixture<{ messages: { raw: string }[] }>(`${folder}/${name}.json`).messages) {
          expect(stringifyJson(parseJson(m.raw), { pythonStyle: true })).toBe(m.raw);
          n++;
        }
      }
    }
    expect(n).toBe(35); // 30 v2 messages (chord has 2, group 3) and 5 v1
  });

  test('every golden JSON task body re-encodes byte for byte', () => {
    for (const name of fixtureCases('amqp_broker')) {
      for (const m of loadFixture<{ messages: { properties: { content_type: string }; headers: Record<string, unknown>; body_base64: string }[] }>(
        `amqp_broker/${name}.json`,
      ).messages) {
        if (m.properties.content_type !== 'application/json' || m.headers.compression) continue;
        const body = Buffer.from(m.body_base64, 'base64').toString('utf8');
        expect(stringifyJson(parseJson(body), { pythonStyle: true })).toBe(body);
      }
    }
  });

  // [name, JS value, Python expression for the same value, what parseJson gives back if not the same value]
  const CASES: [string, unknown, string, unknown?][] = [
    ['containers and literals', { a: 1, b: [1, 2.5, null, true, false], 'c d': {}, e: [] }, "{'a': 1, 'b': [1, 2.5, None, True, False], 'c d': {}, 'e': []}"],
    ['non-ASCII and emoji', { 'ключ': ['héllo wörld ✓ 日本語 🎉', { '🎉': 'x' }] }, "{'ключ': ['héllo wörld ✓ 日本語 🎉', {'🎉': 'x'}]}"],
    ['escapes and controls', 'tab\t nl\n cr\r q" bs\\ sl/ del\x7f nbsp\xa0 ls\u2028 nul\x00 bel\x07 \ud800', "'tab\\t nl\\n cr\\r q\" bs\\\\ sl/ del\\x7f nbsp\\xa0 ls\\u2028 nul\\x00 bel\\x07 \\ud800'"],
    ['big ints', [9007199254740993n, 2n ** 64n + 1n, -(2n ** 63n), 2n ** 100n], '[2**53 + 1, 2**64 + 1, -2**63, 2**100]'],
    ['floats', [0.1, 123.456, -1.5e-10, 1e-7, 1e-5, 0.0001, 1.7976931348623157e308, 5e-324, 1e21, 2.5], '[0.1, 123.456, -1.5e-10, 1e-7, 1e-5, 0.0001, 1.7976931348623157e308, 5e-324, 1e21, 2.5]'],
    // JS cannot tell 2.5e20 from an int; it goes out as an int, so it comes back exact, as a bigint.
    ['integral numbers stay ints', [0, -7, 9007199254740991, 2.5e20], '[0, -7, 9007199254740991, 250000000000000000000]', [0, -7, 9007199254740991, 250000000000000000000n]],
    ['NaN and infinities', [NaN, Infinity, -Infinity], "[float('nan'), float('inf'), -float('inf')]"],
    ['nested empties', [[], {}, [[]], '', { x: { y: {} } }], "[[], {}, [[]], '', {'x': {'y': {}}}]"],
  ];

  pythonTest('matches /usr/bin/python3 json.dumps for the same values', () => {
    const out = runPython(
      `
import json, sys
exprs = json.loads(sys.stdin.read())
print(json.dumps([json.dumps(eval(e, {"__builtins__": {"float": float}})) for e in exprs]))
`,
      JSON.stringify(CASES.map(([, , expr]) => expr)),
    );
    const python = JSON.parse(out) as string[];
    CASES.forEach(([name, value, , back], i) => {
      expect([name, stringifyJson(value, { pythonStyle: true })]).toEqual([name, python[i]]);
      expect([name, parseJson(python[i])]).toEqual([name, back ?? value]);
    });
  });
});
