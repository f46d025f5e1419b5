// Exception info ({exc_type, exc_message, exc_module}) both ways: JS errors written so Python rebuilds the right
// class, and Python failures surfaced as JS errors. Also a Python-style traceback text. Pure; no I/O.

import { pyRepr } from './repr';

/** An exception as Celery's backends store it. */
export interface ExceptionInfo {
  exc_type: string;
  exc_message: unknown;
  exc_module: string | null;
}

/** Python builtin exception names: a JS error with one of these names is stored with `exc_module: builtins`. */
const PY_BUILTINS = new Set([
  'Exception', 'ArithmeticError', 'AssertionError', 'AttributeError', 'BufferError', 'EOFError', 'FloatingPointError',
  'ImportError', 'IndexError', 'KeyError', 'LookupError', 'MemoryError', 'ModuleNotFoundError', 'NameError',
  'NotImplementedError', 'OSError', 'OverflowError', 'RecursionError', 'RuntimeError', 'StopIteration', 'SyntaxError',
  'SystemError', 'TimeoutError', 'TypeError', 'UnicodeError', 'UnicodeDecodeError', 'UnicodeEncodeError', 'ValueError',
  'ZeroDivisionError', 'ConnectionError', 'ConnectionRefusedError', 'ConnectionResetError', 'FileExistsError',
  'FileNotFoundError', 'PermissionError', 'IsADirectoryError', 'NotADirectoryError', 'BrokenPipeError', 'InterruptedError',
]);

/** JS built-in error classes with a different Python name. */
const JS_TO_PY: Record<string, string> = {
  Error: 'Exception',
  RangeError: 'ValueError',
  URIError: 'ValueError',
  ReferenceError: 'NameError',
  EvalError: 'Exception',
  AggregateError: 'Exception',
  AbortError: 'Exception',
};

/** Fields a JS error may carry to choose its Python identity (see src/errors.ts). */
interface PythonIdentity {
  excType?: unknown;
  excModule?: unknown;
  excArgs?: unknown;
}

/** Describe a thrown value as Celery exception info, so Python's `.get()` raises the matching class. */
export function toExceptionInfo(err: unknown): ExceptionInfo {
  if (!(err instanceof Error)) {
    return { exc_type: 'Exception', exc_message: [typeof err === 'string' ? err : pyRepr(err)], exc_module: 'builtins' };
  }
  const id = err as Error & PythonIdentity;
  const excArgs = Array.isArray(id.excArgs) ? id.excArgs : [err.message];
  if (typeof id.excType === 'string') {
    const module = typeof id.excModule === 'string' ? id.excModule : PY_BUILTINS.has(id.excType) ? 'builtins' : 'celeriac';
    return { exc_type: id.excType, exc_message: excArgs, exc_module: module };
  }
  // `class PaymentFailed extends Error {}` keeps name 'Error' unless it sets it: use the class name then.
  const ctorName = (err.constructor as { name?: unknown } | undefined)?.name;
  const ownName = err.name === 'Error' && typeof ctorName === 'string' && ctorName !== '' && ctorName !== 'Error' ? ctorName : err.name;
  const name = JS_TO_PY[ownName] ?? ownName ?? 'Exception';
  const safeName = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name) ? name : 'Exception';
  return { exc_type: safeName, exc_message: excArgs, exc_module: PY_BUILTINS.has(safeName) ? 'builtins' : 'celeriac' };
}

/** `str(exc)` as Python would print it for these args. */
export function exceptionMessage(excMessage: unknown): string {
  if (Array.isArray(excMessage)) {
    if (excMessage.length === 0) return '';
    if (excMessage.length === 1) return typeof excMessage[0] === 'string' ? excMessage[0] : pyRepr(excMessage[0]);
    return `(${excMessage.map((a) => pyRepr(a)).join(', ')})`;
  }
  return typeof excMessage === 'string' ? excMessage : pyRepr(excMessage);
}

/** `repr(exc)` as Python prints it in events: `ValueError('bad value')`. */
export function exceptionRepr(info: ExceptionInfo): string {
  const args = Array.isArray(info.exc_message) ? info.exc_message : [info.exc_message];
  const shortType = info.exc_type.split('.').pop() ?? info.exc_type;
  return `${shortType}(${args.map((a) => pyRepr(a)).join(', ')})`;
}

/** Is this value a stored exception dict? */
export function isExceptionInfo(v: unknown): v is ExceptionInfo {
  return v !== null && typeof v === 'object' && typeof (v as { exc_type?: unknown }).exc_type === 'string';
}

/** Frames of celeriac's runtime (built or from source) and of installed packages. */
const INTERNAL_FRAME = /[\\/](node_modules|dist[\\/]src|src[\\/](worker|brokers|backends))[\\/]/;

const STACK_LINE = /^\s*at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/;

/** A traceback in Python's layout (most recent call last) from a JS error's stack, ending `Type: message`. */
export function formatTraceback(err: unknown, info: ExceptionInfo = toExceptionInfo(err)): string {
  const lines = ['Traceback (most recent call last):'];
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack.split('\n') : [];
  const frames: string[] = [];
  for (const line of stack) {
    const m = STACK_LINE.exec(line);
    if (!m) continue;
    const [, fn, file, lineNo] = m;
    // Node internals and celeriac's own worker frames say nothing useful to the task's author.
    if (file.startsWith('node:') || INTERNAL_FRAME.test(file)) continue;
    frames.push(`  File "${file}", line ${lineNo}, in ${fn ?? '<module>'}`);
  }
  lines.push(...frames.reverse());
  // As traceback.format_exception_only: the module prefixes the type unless builtins/__main__, and str(KeyError)
  // is the repr of its key.
  const mod = info.exc_module;
  const type = mod && mod !== 'builtins' && mod !== '__main__' ? `${mod}.${info.exc_type}` : info.exc_type;
  const args = info.exc_message;
  const isKeyError = info.exc_type === 'KeyError' && (!mod || mod === 'builtins') && Array.isArray(args) && args.length === 1;
  const text = isKeyError ? pyRepr(args[0]) : exceptionMessage(args);
  lines.push(text ? `${type}: ${text}` : type);
  return `${lines.join('\n')}\n`;
}
