// Python-style argument binding: a message's positional `args` and `kwargs` are matched to the parameter names a
// task declared, with Python's TypeError messages when the call does not fit.

import { PythonError } from './errors';

/** A declared parameter: `'x'`, `'*args'`, `'**kwargs'`, or `{ name: 'y', default: 1 }` for an optional one. */
export type ParamSpec = string | { name: string; default: unknown };

interface CompiledParams {
  names: string[];
  defaults: Map<string, unknown>;
  varArgs: boolean;
  varKwargs: boolean;
}

/** Python's TypeError, so the failure arrives in Python as `TypeError`. */
export function pyTypeError(message: string): PythonError {
  return new PythonError('TypeError', [message]);
}

/** Check and compile a parameter list once, when the task is defined. */
export function compileParams(taskName: string, params: readonly ParamSpec[]): CompiledParams {
  const names: string[] = [];
  const defaults = new Map<string, unknown>();
  let varArgs = false;
  let varKwargs = false;
  for (const p of params) {
    const name = typeof p === 'string' ? p : p.name;
    if (name.startsWith('**')) {
      if (varKwargs) throw new Error(`task ${taskName}: only one **kwargs parameter is allowed`);
      varKwargs = true;
      continue;
    }
    if (varKwargs) throw new Error(`task ${taskName}: **kwargs must be the last parameter`);
    if (name.startsWith('*')) {
      if (varArgs) throw new Error(`task ${taskName}: only one *args parameter is allowed`);
      varArgs = true;
      continue;
    }
    if (varArgs) throw new Error(`task ${taskName}: keyword-only parameters after *args are not supported (${name})`);
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`task ${taskName}: invalid parameter name ${JSON.stringify(name)}`);
    if (names.includes(name)) throw new Error(`task ${taskName}: duplicate parameter ${name}`);
    if (typeof p !== 'string') defaults.set(name, p.default);
    else if (defaults.size > 0) throw new Error(`task ${taskName}: parameter ${name} without a default follows one with a default`);
    names.push(name);
  }
  return { names, defaults, varArgs, varKwargs };
}

function quoteList(names: string[]): string {
  const q = names.map((n) => `'${n}'`);
  if (q.length === 1) return q[0];
  return `${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}`;
}

/**
 * The handler's argument list for a call: the named parameters in order, then the `*args` array, then the
 * `**kwargs` object, where declared. Throws Python's TypeError when the call does not fit.
 */
export function bindArguments(fnName: string, compiled: CompiledParams | null, args: readonly unknown[], kwargs: Record<string, unknown>): unknown[] {
  if (compiled === null) {
    // No declared parameters: positional arguments pass through; keyword arguments cannot be placed.
    const keys = Object.keys(kwargs);
    if (keys.length > 0) {
      throw pyTypeError(`${fnName}() got an unexpected keyword argument '${keys[0]}' (declare the task's params to accept keyword arguments)`);
    }
    return [...args];
  }
  const { names, defaults, varArgs, varKwargs } = compiled;
  const bound: unknown[] = new Array(names.length);
  const filled = new Array<boolean>(names.length).fill(false);
  if (args.length > names.length && !varArgs) {
    const required = names.length - defaults.size;
    const takes = defaults.size ? `from ${required} to ${names.length}` : `${names.length}`;
    const word = names.length === 1 && !defaults.size ? 'argument' : 'arguments';
    throw pyTypeError(`${fnName}() takes ${takes} positional ${word} but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`);
  }
  const nPositional = Math.min(args.length, names.length);
  for (let i = 0; i < nPositional; i++) {
    bound[i] = args[i];
    filled[i] = true;
  }
  const extraKwargs: Record<string, unknown> = {};
  for (const key of Object.keys(kwargs)) {
    const i = names.indexOf(key);
    if (i === -1) {
      if (!varKwargs) throw pyTypeError(`${fnName}() got an unexpected keyword argument '${key}'`);
      extraKwargs[key] = kwargs[key];
    } else {
      if (filled[i]) throw pyTypeError(`${fnName}() got multiple values for argument '${key}'`);
      bound[i] = kwargs[key];
      filled[i] = true;
    }
  }
  const missing: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (filled[i]) continue;
    if (defaults.has(names[i])) bound[i] = structuredCloneSafe(defaults.get(names[i]));
    else missing.push(names[i]);
  }
  if (missing.length > 0) {
    throw pyTypeError(`${fnName}() missing ${missing.length} required positional argument${missing.length > 1 ? 's' : ''}: ${quoteList(missing)}`);
  }
  if (varArgs) bound.push(args.slice(names.length));
  if (varKwargs) bound.push(extraKwargs);
  return bound;
}

function structuredCloneSafe(v: unknown): unknown {
  // A default object is shared between calls in Python too, but a copy avoids surprises across tasks.
  return v !== null && typeof v === 'object' ? structuredClone(v) : v;
}
