// Exception info both ways: toExceptionInfo for JS errors, exceptionRepr/exceptionMessage, and Python-layout tracebacks.

import {
  exceptionMessage,
  exceptionRepr,
  formatTraceback,
  isExceptionInfo,
  parseJson,
  toExceptionInfo,
  type ExceptionInfo,
} from '../../../protocol';
import { fixtureCases, loadFixture } from './helpers';

describe('toExceptionInfo', () => {
  test("plain Error becomes Python's builtin Exception with its message as the only arg", () => {
    expect(toExceptionInfo(new Error('boom'))).toEqual({ exc_type: 'Exception', exc_message: ['boom'], exc_module: 'builtins' });
  });

  test('TypeError keeps its name and is a Python builtin', () => {
    expect(toExceptionInfo(new TypeError('not a function'))).toEqual({
      exc_type: 'TypeError',
      exc_message: ['not a function'],
      exc_module: 'builtins',
    });
  });

  test('RangeError maps to ValueError, ReferenceError to NameError', () => {
    expect(toExceptionInfo(new RangeError('too big'))).toEqual({ exc_type: 'ValueError', exc_message: ['too big'], exc_module: 'builtins' });
    expect(toExceptionInfo(new ReferenceError('x is not defined')).exc_type).toBe('NameError');
  });

  test('a custom error with excType/excModule/excArgs takes that Python identity', () => {
    class CustomError extends Error {
      excType = 'CustomError';
      excModule = 'goldapp';
      excArgs = ['custom failure', 42];
    }
    expect(toExceptionInfo(new CustomError('ignored'))).toEqual({
      exc_type: 'CustomError',
      exc_message: ['custom failure', 42],
      exc_module: 'goldapp',
    });
  });

  test('excType alone: builtins when Python has that class, else celeriac', () => {
    const withType = (excType: string) => Object.assign(new Error('bad value'), { excType });
    expect(toExceptionInfo(withType('ValueError'))).toEqual({ exc_type: 'ValueError', exc_message: ['bad value'], exc_module: 'builtins' });
    expect(toExceptionInfo(withType('Outer.InnerError'))).toEqual({ exc_type: 'Outer.InnerError', exc_message: ['bad value'], exc_module: 'celeriac' });
  });

  test('an Error subclass that does not set name is stored under its class name', () => {
    class PaymentFailed extends Error {}
    expect(toExceptionInfo(new PaymentFailed('card declined'))).toEqual({
      exc_type: 'PaymentFailed',
      exc_message: ['card declined'],
      exc_module: 'celeriac',
    });
  });

  test('a subclass that sets name uses it; an unsafe name falls back to Exception', () => {
    class Named extends Error {
      override name = 'QuotaExceeded';
    }
    expect(toExceptionInfo(new Named('q')).exc_type).toBe('QuotaExceeded');
    const odd = new Error('x');
    odd.name = 'not a name!';
    expect(toExceptionInfo(odd).exc_type).toBe('Exception');
  });

  test('thrown non-errors become Exception', () => {
    expect(toExceptionInfo('just a string')).toEqual({ exc_type: 'Exception', exc_message: ['just a string'], exc_module: 'builtins' });
    expect(toExceptionInfo({ code: 7 })).toEqual({ exc_type: 'Exception', exc_message: ["{'code': 7}"], exc_module: 'builtins' });
  });
});

describe('exceptionRepr / exceptionMessage', () => {
  test('repr as in events', () => {
    expect(exceptionRepr({ exc_type: 'ValueError', exc_message: ['bad value'], exc_module: 'builtins' })).toBe("ValueError('bad value')");
    expect(exceptionRepr({ exc_type: 'CustomError', exc_message: ['custom failure', 42], exc_module: 'goldapp' })).toBe(
      "CustomError('custom failure', 42)",
    );
    expect(exceptionRepr({ exc_type: 'Outer.InnerError', exc_message: ['inner'], exc_module: 'goldapp' })).toBe("InnerError('inner')");
    expect(exceptionRepr({ exc_type: 'KeyError', exc_message: ["it's"], exc_module: 'builtins' })).toBe('KeyError("it\'s")');
    expect(exceptionRepr({ exc_type: 'Ignore', exc_message: [], exc_module: 'celery.exceptions' })).toBe('Ignore()');
    expect(exceptionRepr({ exc_type: 'ValueError', exc_message: 'not a list', exc_module: 'builtins' })).toBe("ValueError('not a list')");
  });

  test('str(exc) for zero, one and several args', () => {
    expect(exceptionMessage([])).toBe('');
    expect(exceptionMessage(['bad value'])).toBe('bad value');
    expect(exceptionMessage([42])).toBe('42');
    expect(exceptionMessage(['custom failure', 42])).toBe("('custom failure', 42)");
    expect(exceptionMessage('plain')).toBe('plain');
  });

  test('isExceptionInfo', () => {
    expect(isExceptionInfo({ exc_type: 'X', exc_message: [], exc_module: null })).toBe(true);
    expect(isExceptionInfo({ status: 'SUCCESS' })).toBe(false);
    expect(isExceptionInfo(null)).toBe(false);
  });
});

describe('formatTraceback', () => {
  function failValue(): never {
    throw new Error('bad value');
  }

  test('Python layout: header, frames, then "ValueError: bad value"', () => {
    let err: unknown;
    try {
      failValue();
    } catch (e) {
      err = e;
    }
    const tb = formatTraceback(err, { exc_type: 'ValueError', exc_message: ['bad value'], exc_module: 'builtins' });
    expect(tb.startsWith('Traceback (most recent call last):\n')).toBe(true);
    expect(tb.endsWith('ValueError: bad value\n')).toBe(true);
    const frames = tb.split('\n').filter((l) => l.startsWith('  File "'));
    expect(frames.length).toBeGreaterThan(0);
    // most recent call last: the throwing function is the final frame
    expect(frames[frames.length - 1]).toMatch(/^ {2}File ".*exceptions\.test\.ts", line \d+, in failValue$/);
    expect(tb).not.toContain('node:internal');
  });

  test('default info comes from the error itself', () => {
    expect(formatTraceback(new RangeError('too big')).endsWith('ValueError: too big\n')).toBe(true);
    expect(formatTraceback('thrown string')).toBe('Traceback (most recent call last):\nException: thrown string\n');
  });

  test('an exception with no message ends with the bare type', () => {
    expect(formatTraceback(undefined, { exc_type: 'Ignore', exc_message: [], exc_module: 'builtins' }).endsWith('\nIgnore\n')).toBe(true);
  });

  // The last line of every traceback the Python worker stored, rebuilt from the stored exception info alone.
  const failures: [string, ExceptionInfo, string][] = [];
  for (const name of fixtureCases('redis_backend')) {
    const fx = loadFixture<{ writes_in_order: { raw: string }[] }>(`redis_backend/${name}.json`);
    for (const w of fx.writes_in_order) {
      const meta = parseJson(w.raw) as { status: string; result: ExceptionInfo; traceback: string | null };
      if (meta.status === 'FAILURE' && meta.traceback) failures.push([name, meta.result, meta.traceback]);
    }
  }

  test('golden failures exist', () => {
    expect(failures.map(([n]) => n)).toEqual(
      expect.arrayContaining(['fail_value', 'fail_custom', 'fail_key', 'fail_nested', 'chord_failing_header']),
    );
  });

  test.each(failures)('%s: the final line matches Python', (_name, info, pythonTb) => {
    const pyLines = pythonTb.trimEnd().split('\n');
    const ours = formatTraceback(new Error('x'), info).trimEnd().split('\n');
    expect(ours[ours.length - 1]).toBe(pyLines[pyLines.length - 1]);
  });
});
