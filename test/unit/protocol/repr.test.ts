// repr.ts: pyArgsRepr/pyKwargsRepr equal Celery's saferepr (argsrepr/kwargsrepr headers); pyRepr/pyFloatRepr equal Python's repr.

import { exceptionRepr, pyArgsRepr, pyFloatRepr, pyKwargsRepr, pyRepr, stringifyJson } from '../../../protocol';
import { fixtureCases, loadFixture, pythonTest, runPython } from './helpers';

describe('pyArgsRepr / pyKwargsRepr', () => {
  test('tuples: empty, single element, several', () => {
    expect(pyArgsRepr([])).toBe('()');
    expect(pyArgsRepr([1])).toBe('(1,)');
    expect(pyArgsRepr([2, 3])).toBe('(2, 3)');
    expect(pyKwargsRepr({})).toBe('{}');
    expect(pyKwargsRepr({ y: 2 })).toBe("{'y': 2}");
  });

  test('None, True, False, floats and big ints', () => {
    expect(pyArgsRepr([null, true, false, 2.5, -1.5e-10, 1e-7, 9007199254740993n])).toBe('(None, True, False, 2.5, -1.5e-10, 1e-07, 9007199254740993)');
  });

  test("strings with quotes: saferepr always single-quotes and escapes only '", () => {
    expect(pyArgsRepr(["it's"])).toBe("('it\\'s',)");
    expect(pyArgsRepr(['say "hi"'])).toBe('(\'say "hi"\',)');
    expect(pyKwargsRepr({ "k'": 'v' })).toBe("{'k\\'': 'v'}");
  });

  test('unicode is kept as is', () => {
    expect(pyArgsRepr(['héllo wörld ✓ 日本語 🎉'])).toBe("('héllo wörld ✓ 日本語 🎉',)");
  });

  test('nested containers; deeper than three levels prints as [...] / {...}', () => {
    expect(pyArgsRepr([[1, [2]], { a: { b: 1 } }])).toBe("([1, [2]], {'a': {'b': 1}})");
    expect(pyArgsRepr([[[[1]]]])).toBe('([[[...]]],)');
    expect(pyKwargsRepr({ a: { b: { c: { d: 1 } } } })).toBe("{'a': {'b': {'c': {...}}}}");
  });

  test('long output is cut near 1024 characters', () => {
    const r = pyArgsRepr(['x'.repeat(2000)]);
    expect(r.length).toBeLessThanOrEqual(1040);
    expect(r.endsWith("...', ...")).toBe(true);
  });

  // Every golden message whose args came from plain Python values (not an override, not a list, not datetime objects).
  const goldenCases = fixtureCases('redis_broker').filter(
    (n) => !['argsrepr_override', 'special_types_json', 'send_task_unregistered', 'serializer_pickle'].includes(n),
  );
  test.each(goldenCases)('golden %s: same argsrepr and kwargsrepr as Celery wrote', (name) => {
    for (const m of loadFixture<{ messages: { envelope: { headers: any }; body_decoded: any[] }[] }>(`redis_broker/${name}.json`).messages) {
      expect(pyArgsRepr(m.body_decoded[0])).toBe(m.envelope.headers.argsrepr);
      expect(pyKwargsRepr(m.body_decoded[1])).toBe(m.envelope.headers.kwargsrepr);
    }
  });

  // [args, kwargs] pairs for the installed Celery's saferepr(tuple(args), 1024) / saferepr(kwargs, 1024).
  const SAFEREPR_CASES: [unknown[], Record<string, unknown>][] = [
    [[2, 3], {}],
    [[1], { y: 2 }],
    [[], {}],
    [["it's", 'say "hi"', 'both \' and "', 'back\\slash', 'new\nline', 'tab\t', 'nbsp\xa0'], { q: "it's" }],
    [
      ['héllo wörld ✓ 日本語 🎉', { nested: { list: [1, 2.5, null, true, false, { deep: ['x', { y: [] }] }] } }],
      { emoji: '🎉', empty: {}, big: 9007199254740993n, neg: -1.5e-10 },
    ],
    [[null, true, false, 1e-7, 0.0001, 123.456, 2n ** 64n + 1n, -(2n ** 63n)], { none: null }],
    [[[[[1]]], { a: { b: { c: 1 } } }, [[], {}]], { a: { b: { c: { d: 1 } } } }],
    [['x'.repeat(2000)], { k: 'v'.repeat(1100) }],
    [['hello world foo bar '.repeat(60)], { s: 'a b '.repeat(600) }],
    [Array.from({ length: 400 }, (_, i) => i), Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`key${i}`, i]))],
    [[Array.from({ length: 400 }, (_, i) => i)], { nested: [Array.from({ length: 400 }, (_, i) => ({ i }))] }],
    [['🎉'.repeat(1030)], { ['k'.repeat(2000)]: 1 }],
    ...[1017, 1018, 1019, 1020, 1021, 1022, 1023, 1024].map((n): [unknown[], Record<string, unknown>] => [['a'.repeat(n)], { k: 'b'.repeat(n - 7) }]),
    [['a'.repeat(1015), 7], { k: ['b'.repeat(1010), [1, 2]] }],
  ];

  pythonTest(
    "equal celery.utils.saferepr's output, truncation included",
    () => {
      const out = runPython(
        `
import json, sys
from celery.utils.saferepr import saferepr
cases = json.loads(sys.stdin.read())
print(json.dumps([[saferepr(tuple(a), 1024), saferepr(k, 1024)] for a, k in cases]))
`,
        stringifyJson(SAFEREPR_CASES),
      );
      const python = JSON.parse(out) as [string, string][];
      SAFEREPR_CASES.forEach(([args, kwargs], i) => {
        expect([i, pyArgsRepr(args)]).toEqual([i, python[i][0]]);
        expect([i, pyKwargsRepr(kwargs)]).toEqual([i, python[i][1]]);
      });
    },
    ['celery'],
  );
});

describe("pyRepr / pyFloatRepr (Python's repr)", () => {
  test('basic values', () => {
    expect(pyRepr(null)).toBe('None');
    expect(pyRepr([true, false, 'a', 1, 2.5])).toBe("[True, False, 'a', 1, 2.5]");
    expect(pyRepr({ a: [1, { b: null }] })).toBe("{'a': [1, {'b': None}]}");
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr('both \' and "')).toBe("'both \\' and \"'");
    expect(pyRepr('a\\b\nc')).toBe("'a\\\\b\\nc'");
  });

  test('pyFloatRepr', () => {
    expect(pyFloatRepr(1e-7)).toBe('1e-07');
    expect(pyFloatRepr(0.0001)).toBe('0.0001');
    expect(pyFloatRepr(1e16)).toBe('1e+16');
    expect(pyFloatRepr(1234.5)).toBe('1234.5');
    expect(pyFloatRepr(2)).toBe('2.0');
    expect(pyFloatRepr(-0)).toBe('-0.0');
    expect(pyFloatRepr(NaN)).toBe('nan');
    expect(pyFloatRepr(-Infinity)).toBe('-inf');
  });

  const REPR_VALUES: unknown[] = [
    "it's",
    'say "hi"',
    'both \' and "',
    'back\\slash\nnew\rline\ttab',
    'héllo wörld ✓ 日本語 🎉',
    'nbsp\xa0 soft\xad nel\x85 zwsp\u200b ls\u2028 bom\ufeff del\x7f nul\x00 esc\x1b lone\ud800 pua\ue000',
    [null, true, false, 0, -7, 2.5, -1.5e-10, 1e-7, 1e-5, 0.1, 123.456, 1e300, 9007199254740993n, -(2n ** 63n)],
    { nested: { list: [1, { deep: ['x', { y: [] }] }] }, 'k\'"': '' },
  ];

  pythonTest("equal Python's repr() of the same JSON values", () => {
    const out = runPython(
      `
import json, sys
print(json.dumps([repr(v) for v in json.loads(sys.stdin.read())]))
`,
      stringifyJson(REPR_VALUES),
    );
    const python = JSON.parse(out) as string[];
    REPR_VALUES.forEach((v, i) => expect([i, pyRepr(v)]).toEqual([i, python[i]]));
  });

  pythonTest("exceptionRepr equals Python's repr(exc)", () => {
    const infos: [string, unknown[]][] = [
      ['ValueError', ['bad value']],
      ['KeyError', ['missing']],
      ['ValueError', ["it's", 42, null]],
      ['RuntimeError', []],
      ['TypeError', [['a', 1e-7]]],
    ];
    const out = runPython(
      `
import json, sys
print(json.dumps([repr(getattr(__builtins__, t)(*a)) for t, a in json.loads(sys.stdin.read())]))
`,
      stringifyJson(infos),
    );
    const python = JSON.parse(out) as string[];
    infos.forEach(([type, args], i) => expect(exceptionRepr({ exc_type: type, exc_message: args, exc_module: 'builtins' })).toBe(python[i]));
  });
});
