// Round trip through real Python kombu: kombu.utils.json.dumps → parseJson → stringifyJson(pythonStyle) → kombu loads == original.

import { parseJson, stringifyJson } from '../../../protocol';
import { pythonTest, runPython } from './helpers';

// One Python value, built the same way in both Python runs.
const PY_VALUE = `{
    "big": 2**64 + 1,
    "neg": -2**63,
    "safe_edge": [2**53 - 1, 2**53, 2**53 + 1, -(2**53 + 1)],
    "nested": {"ünïcödé": ["日本語", "🎉 party", {"deep": [["\\u00e9", None, True, False], {"x": -1.5e-10, "y": 2.5}]}]},
    "escapes": "tab\\t nl\\n quote\\" backslash\\\\ nbsp\\xa0 del\\x7f",
    "empty": [{}, [], ""],
}`;

pythonTest(
  'kombu dumps → our parse + pythonStyle stringify → kombu loads gives an identical value',
  () => {
    const dumped = runPython(`import sys\nfrom kombu.utils.json import dumps\nsys.stdout.write(dumps(${PY_VALUE}))`);
    const value = parseJson(dumped) as Record<string, any>;
    expect(value.big).toBe(18446744073709551617n);
    expect(value.neg).toBe(-9223372036854775808n);
    expect(value.safe_edge).toEqual([9007199254740991, 9007199254740992n, 9007199254740993n, -9007199254740993n]);
    expect(value.nested['ünïcödé'][1]).toBe('🎉 party');

    const ours = stringifyJson(value, { pythonStyle: true });
    expect(ours).toBe(dumped); // pythonStyle is byte-identical to kombu's json.dumps

    const verdict = runPython(
      `
import sys
from kombu.utils.json import loads
original = ${PY_VALUE}
got = loads(sys.stdin.buffer.read())
# == alone would accept 1 == 1.0 == True; repr() also compares the types.
print(got == original and repr(got) == repr(original))
`,
      ours,
    );
    expect(verdict.trim()).toBe('True');

    // The compact default encoding is read back identically too.
    const compactVerdict = runPython(
      `import sys\nfrom kombu.utils.json import loads\noriginal = ${PY_VALUE}\ngot = loads(sys.stdin.buffer.read())\nprint(got == original and repr(got) == repr(original))`,
      stringifyJson(value),
    );
    expect(compactVerdict.trim()).toBe('True');
  },
  ['kombu'],
);
