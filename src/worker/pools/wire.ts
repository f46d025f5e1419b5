// The messages between the worker's main thread and its pool workers (threads or child processes), and how values,
// errors and outcomes cross: values as Celery's tagged JSON, so every type the protocol carries survives.

import { parseJson, stringifyJson, toExceptionInfo } from '../../../protocol';
import { PythonError, Retry } from '../../errors';
import type { TaskRequest } from '../../task';
import type { Outcome, RetryPlan } from '../tracer';

/** How a pool worker is told what to load. */
export interface PoolInit {
  /** The tasks module (`-A`), resolved by the pool worker as the CLI's loader does. */
  appModule: string;
  cwd: string;
  /** Command-line overrides the main thread applied to the app, so tasks that send tasks use the same broker. */
  brokerUrl?: string;
  resultBackend?: string;
}

/** Main thread → pool worker. */
export type ToPool =
  | { type: 'init'; init: PoolInit }
  | { type: 'run'; jobId: number; task: string; request: string; soft: number | null }
  | { type: 'stateAck'; jobId: number; seq: number; error?: string }
  | { type: 'exit' };

/** Pool worker → main thread. */
export type FromPool =
  | { type: 'ready'; pid: number; tasks: string[] }
  | { type: 'fatal'; error: WireError }
  | { type: 'state'; jobId: number; seq: number; state: string; meta: string }
  | { type: 'done'; jobId: number; outcome: WireOutcome; memoryKiB: number };

/** A thrown value with what exception info and the traceback need. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  excType: string;
  excModule: string | null;
  /** exc_message (the Python args) as tagged JSON. */
  excArgs: string;
}

/** `unknown` that may be an error (Retry's exc, RetryPlan's exc). */
export type WireValue = { error: WireError } | { json: string } | { undefined: true };

export type WireOutcome =
  | { kind: 'success'; value: WireValue }
  | { kind: 'failure'; error: WireError }
  | { kind: 'retry'; plan: Omit<RetryPlan, 'exc' | 'args' | 'kwargs'> & { exc: WireValue; args: string; kwargs: string }; cause: { message: string; when: number | null; stack?: string } }
  | { kind: 'reject'; requeue: boolean; reason: string }
  | { kind: 'ignore' };

const TAGGED = { tagged: true } as const;

/** A value as tagged JSON (bigint, bytes, datetimes, decimals, UUIDs, NaN survive). Throws if it cannot be written. */
export function encodeValue(value: unknown): string {
  return stringifyJson(value, TAGGED);
}

export function decodeValue(text: string): unknown {
  return parseJson(text);
}

export function encodeRequest(request: TaskRequest): string {
  return encodeValue(request);
}

export function decodeRequest(text: string): TaskRequest {
  return decodeValue(text) as TaskRequest;
}

/** kombu's EncodeError: a result that cannot be written as JSON (Celery stores this as the task's failure). */
export class EncodeError extends PythonError {
  constructor(message: string) {
    super('EncodeError', [message], 'kombu.exceptions');
  }
}

export function encodeError(err: unknown): WireError {
  const info = toExceptionInfo(err);
  let excArgs: string;
  try {
    excArgs = encodeValue(info.exc_message);
  } catch {
    excArgs = encodeValue([err instanceof Error ? err.message : String(err)]);
  }
  const e = err instanceof Error ? err : undefined;
  return { name: e?.name ?? info.exc_type, message: e?.message ?? String(err), stack: e?.stack, excType: info.exc_type, excModule: info.exc_module, excArgs };
}

/** An error from a pool worker, carrying the Python identity and the stack of the original. */
export class PoolTaskError extends Error {
  readonly excType: string;
  readonly excModule: string | null;
  readonly excArgs: unknown[];
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    this.excType = wire.excType;
    this.excModule = wire.excModule;
    const args = decodeValue(wire.excArgs);
    this.excArgs = Array.isArray(args) ? args : [args];
    this.stack = wire.stack ?? `${wire.name}: ${wire.message}`;
  }
}

export function decodeError(wire: WireError): Error {
  return new PoolTaskError(wire);
}

function encodeUnknown(v: unknown): WireValue {
  if (v === undefined) return { undefined: true };
  if (v instanceof Error) return { error: encodeError(v) };
  return { json: encodeValue(v) };
}

function decodeUnknown(v: WireValue): unknown {
  if ('undefined' in v) return undefined;
  if ('error' in v) return decodeError(v.error);
  return decodeValue(v.json);
}

/** Write an outcome for the main thread; a result that is not JSON becomes an EncodeError failure, as in Celery. */
export function encodeOutcome(outcome: Outcome): WireOutcome {
  switch (outcome.kind) {
    case 'success':
      try {
        return { kind: 'success', value: outcome.value === undefined ? { undefined: true } : { json: encodeValue(outcome.value) } };
      } catch (err) {
        return { kind: 'failure', error: encodeError(new EncodeError(`cannot encode the result as JSON: ${(err as Error)?.message ?? String(err)}`)) };
      }
    case 'failure':
      return { kind: 'failure', error: encodeError(outcome.error) };
    case 'retry': {
      const { exc, args, kwargs, ...rest } = outcome.retry;
      try {
        return {
          kind: 'retry',
          plan: { ...rest, exc: encodeUnknown(exc), args: encodeValue(args), kwargs: encodeValue(kwargs) },
          cause: { message: outcome.cause.message, when: outcome.cause.when, stack: outcome.cause.stack },
        };
      } catch (err) {
        return { kind: 'failure', error: encodeError(new EncodeError(`cannot encode the retry as JSON: ${(err as Error)?.message ?? String(err)}`)) };
      }
    }
    case 'reject':
      return { kind: 'reject', requeue: outcome.requeue, reason: outcome.reason };
    case 'ignore':
      return { kind: 'ignore' };
  }
}

export function decodeOutcome(wire: WireOutcome): Outcome {
  switch (wire.kind) {
    case 'success':
      return { kind: 'success', value: decodeUnknown(wire.value) };
    case 'failure':
      return { kind: 'failure', error: decodeError(wire.error) };
    case 'retry': {
      const { exc, args, kwargs, ...rest } = wire.plan;
      const excValue = decodeUnknown(exc);
      const cause = new Retry(wire.cause.message, excValue ?? null, wire.cause.when);
      if (wire.cause.stack) cause.stack = wire.cause.stack;
      const plan: RetryPlan = { ...rest, exc: excValue ?? null, args: decodeValue(args) as unknown[], kwargs: decodeValue(kwargs) as Record<string, unknown> };
      return { kind: 'retry', retry: plan, cause };
    }
    case 'reject':
      return { kind: 'reject', requeue: wire.requeue, reason: wire.reason };
    case 'ignore':
      return { kind: 'ignore' };
  }
}
