// Public error classes. Errors thrown by tasks carry a Python identity (excType/excModule/excArgs) so Python's
// `.get()` raises the same class; failures read from the backend surface as TaskError with the Python details.

import { exceptionMessage, type ExceptionInfo } from '../protocol';
import { maskSecrets } from './url';

/** An error that Python rebuilds as `<excModule>.<excType>(*excArgs)`. */
export class PythonError extends Error {
  readonly excType: string;
  readonly excModule: string;
  readonly excArgs: unknown[];
  constructor(excType: string, args: unknown[] | string = [], excModule = 'builtins') {
    const list = typeof args === 'string' ? [args] : args;
    super(exceptionMessage(list));
    this.excType = excType;
    this.excModule = excModule;
    this.excArgs = list;
    this.name = excType;
  }
}

function builtin(excType: string): new (...args: unknown[]) => PythonError {
  const cls = class extends PythonError {
    constructor(...args: unknown[]) {
      super(excType, args);
    }
  };
  Object.defineProperty(cls, 'name', { value: excType });
  return cls;
}

/** Python's ValueError: `throw new ValueError('bad value')`. */
export const ValueError = builtin('ValueError');
export type ValueError = PythonError;
/** Python's KeyError. */
export const KeyError = builtin('KeyError');
export type KeyError = PythonError;
/** Python's RuntimeError. */
export const RuntimeError = builtin('RuntimeError');
export type RuntimeError = PythonError;
/** Python's NotImplementedError. */
export const NotImplementedError = builtin('NotImplementedError');
export type NotImplementedError = PythonError;
/** Python's IndexError. */
export const IndexError = builtin('IndexError');
export type IndexError = PythonError;
/** Python's ZeroDivisionError. */
export const ZeroDivisionError = builtin('ZeroDivisionError');
export type ZeroDivisionError = PythonError;
/** Python's LookupError. */
export const LookupError = builtin('LookupError');
export type LookupError = PythonError;
/** Python's AttributeError. */
export const AttributeError = builtin('AttributeError');
export type AttributeError = PythonError;
/** Python's PermissionError. */
export const PermissionError = builtin('PermissionError');
export type PermissionError = PythonError;

/** celery.exceptions.NotRegistered: the worker has no task of that name. */
export class NotRegistered extends PythonError {
  constructor(taskName: string) {
    super('NotRegistered', [taskName], 'celery.exceptions');
  }
}

/** celery.exceptions.TaskRevokedError: revoked, expired or terminated. */
export class TaskRevokedError extends PythonError {
  constructor(reason: 'revoked' | 'expired' | 'terminated' | string) {
    super('TaskRevokedError', [reason], 'celery.exceptions');
  }
}

/** billiard's SoftTimeLimitExceeded: the reason of the task's AbortSignal when its soft limit passes. */
export class SoftTimeLimitExceeded extends PythonError {
  constructor(readonly seconds: number) {
    super('SoftTimeLimitExceeded', [], 'billiard.exceptions'); // billiard raises it with no arguments
    this.message = `soft time limit (${seconds}s) exceeded`;
  }
}

/** billiard's TimeLimitExceeded: the hard limit passed and the task was abandoned. */
export class TimeLimitExceeded extends PythonError {
  constructor(seconds: number) {
    super('TimeLimitExceeded', [seconds], 'billiard.exceptions');
  }
}

/** celery.exceptions.MaxRetriesExceededError. */
export class MaxRetriesExceededError extends PythonError {
  constructor(message: string) {
    super('MaxRetriesExceededError', [message], 'celery.exceptions');
  }
}

/** celery.exceptions.ChordError: a chord header task failed. */
export class ChordError extends PythonError {
  constructor(message: string) {
    super('ChordError', [message], 'celery.exceptions');
  }
}

/** billiard's WorkerLostError. */
export class WorkerLostError extends PythonError {
  constructor(message: string) {
    super('WorkerLostError', [message], 'billiard.exceptions');
  }
}

/** A task failed (on any worker, Python or Node): Python's exception details as read from the result backend. */
export class TaskError extends Error {
  readonly taskId: string;
  readonly excType: string;
  readonly excModule: string | null;
  readonly excMessage: unknown;
  readonly traceback: string | null;
  readonly state: string;
  constructor(taskId: string, info: ExceptionInfo, traceback: string | null, state = 'FAILURE') {
    super(exceptionMessage(info.exc_message));
    this.name = info.exc_type;
    this.taskId = taskId;
    this.excType = info.exc_type;
    this.excModule = info.exc_module;
    this.excMessage = info.exc_message;
    this.traceback = traceback;
    this.state = state;
  }
}

/** `AsyncResult.get({timeout})` gave up (Celery's `celery.exceptions.TimeoutError`). */
export class ResultTimeoutError extends Error {
  override name = 'TimeoutError';
}

/** No result backend is configured, so there is nothing to wait on. */
export class NoResultBackend extends Error {
  override name = 'NoResultBackend';
}

/** The broker (or result backend) cannot be reached; the message names the masked URL and how to start one. */
export class BrokerConnectionError extends Error {
  override name = 'BrokerConnectionError';

  /** The message is masked as a whole: a client library's own error text may quote the URL it was given. */
  constructor(message: string) {
    super(maskSecrets(message));
  }
}

/** Raised inside a task by `this.retry()`: the worker re-sends the task and stores RETRY. */
export class Retry extends PythonError {
  constructor(
    message: string,
    readonly exc: unknown,
    readonly when: number | null,
  ) {
    super('Retry', [message], 'celery.exceptions');
  }
}

/** Throw from a task to reject its message (requeue or drop); nothing is stored. */
export class Reject extends PythonError {
  constructor(
    readonly reason: string = '',
    readonly requeue = false,
  ) {
    super('Reject', [reason, requeue], 'celery.exceptions');
  }
}

/** Throw from a task to ack its message and store nothing. */
export class Ignore extends PythonError {
  constructor() {
    super('Ignore', [], 'celery.exceptions');
  }
}
