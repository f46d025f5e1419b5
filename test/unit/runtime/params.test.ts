// Python-style argument binding: positional and keyword arguments, defaults, *args/**kwargs, and Python's TypeErrors.

import { bindArguments, compileParams } from '../../../src/params';
import { PythonError } from '../../../src/errors';

const bind = (params: Parameters<typeof compileParams>[1] | null, args: unknown[], kwargs: Record<string, unknown> = {}): unknown[] =>
  bindArguments('add', params ? compileParams('tasks.add', params) : null, args, kwargs);

function typeError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PythonError);
    expect((err as PythonError).excType).toBe('TypeError');
    return (err as Error).message;
  }
  throw new Error('expected a TypeError');
}

describe('bindArguments', () => {
  test('positional, keyword and mixed calls bind by name', () => {
    expect(bind(['x', 'y'], [1, 2])).toEqual([1, 2]);
    expect(bind(['x', 'y'], [], { y: 2, x: 1 })).toEqual([1, 2]);
    expect(bind(['x', 'y'], [1], { y: 2 })).toEqual([1, 2]);
  });

  test('defaults fill missing parameters', () => {
    expect(bind(['x', { name: 'y', default: 10 }], [1])).toEqual([1, 10]);
    expect(bind(['x', { name: 'y', default: 10 }], [1], { y: 3 })).toEqual([1, 3]);
  });

  test('*args and **kwargs collect the rest', () => {
    expect(bind(['a', '*args', '**kwargs'], [1, 2, 3], { k: 4 })).toEqual([1, [2, 3], { k: 4 }]);
    expect(bind(['*args', '**kwargs'], [], {})).toEqual([[], {}]);
  });

  test("Python's TypeError messages", () => {
    expect(typeError(() => bind(['x', 'y'], [1, 2, 3]))).toBe('add() takes 2 positional arguments but 3 were given');
    expect(typeError(() => bind(['x'], [1, 2]))).toBe('add() takes 1 positional argument but 2 were given');
    expect(typeError(() => bind(['x', { name: 'y', default: 1 }], [1, 2, 3]))).toBe('add() takes from 1 to 2 positional arguments but 3 were given');
    expect(typeError(() => bind(['x', 'y'], [1]))).toBe("add() missing 1 required positional argument: 'y'");
    expect(typeError(() => bind(['x', 'y', 'z'], []))).toBe("add() missing 3 required positional arguments: 'x', 'y' and 'z'");
    expect(typeError(() => bind(['x', 'y'], [1], { x: 2 }))).toBe("add() got multiple values for argument 'x'");
    expect(typeError(() => bind(['x', 'y'], [1, 2], { z: 3 }))).toBe("add() got an unexpected keyword argument 'z'");
  });

  test('without declared params, positional arguments pass through and keywords are refused', () => {
    expect(bind(null, [1, 2, 3])).toEqual([1, 2, 3]);
    expect(typeError(() => bind(null, [], { x: 1 }))).toMatch(/unexpected keyword argument 'x'/);
  });

  test('bad declarations are refused when the task is defined', () => {
    expect(() => compileParams('t', ['x', 'x'])).toThrow(/duplicate/);
    expect(() => compileParams('t', ['**kw', 'x'])).toThrow(/last/);
    expect(() => compileParams('t', [{ name: 'x', default: 1 }, 'y'])).toThrow(/without a default/);
  });
});
