// Jobs for driving a pool executor directly in tests: a real decoded request for a task of test/fixtures/pool-tasks.ts,
// its limits and abort signal, and the state updates it reports; plus a logger whose lines can be awaited.

import { TaskCancel } from '../../src/worker/cancel';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { decodeTaskMessage, encodeTaskMessage } from '../../protocol';
import type { Celery } from '../../src/app';
import type { Logger, LogLevel } from '../../src/log';
import type { Task } from '../../src/task';
import type { ExecutionJob } from '../../src/worker/hooks';
import { Request } from '../../src/worker/request';
import { ROOT } from './env';

export const POOL_TASKS = path.join(ROOT, 'test', 'fixtures', 'pool-tasks.ts');

export interface TestJob {
  job: ExecutionJob;
  states: Array<{ state: string; meta: unknown }>;
  abort: TaskCancel;
}

/** A job for `name(...args)` as the worker would hand it to its executor. */
export function makeJob(app: Celery, name: string, args: unknown[] = [], options: { hard?: number; soft?: number; kwargs?: Record<string, unknown> } = {}): TestJob {
  const task = app.tasks.get(name) as Task<never[], unknown> | undefined;
  if (!task) throw new Error(`no task ${name}`);
  const id = randomUUID();
  const wire = encodeTaskMessage({ id, task: name, args, kwargs: options.kwargs ?? {}, origin: 'test', replyTo: '', taggedJson: true });
  const data = decodeTaskMessage(wire, new Set(['json']));
  const delivery = { message: wire, queue: 'q', exchange: '', routingKey: 'q', redelivered: false, priority: 0, ack: () => undefined, reject: () => undefined };
  const request = new Request(data, delivery).toTaskRequest('test@host');
  const states: TestJob['states'] = [];
  const abort = new TaskCancel();
  const job: ExecutionJob = {
    task,
    request,
    limits: { hard: options.hard ?? null, soft: options.soft ?? null },
    services: {
      updateState: async (state, meta) => {
        states.push({ state, meta });
      },
    },
    cancel: abort,
    get signal() {
      return abort.signal;
    },
  };
  return { job, states, abort };
}

/** A logger that keeps its lines, so a test can await one (autoscale shrinking, a replacement). */
export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  private waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];

  private emit(level: LogLevel, msg: string): void {
    const line = `${level.toUpperCase()} ${msg}`;
    this.lines.push(line);
    if (process.env.CELERIAC_TEST_VERBOSE) process.stderr.write(`[pool] ${line}\n`);
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  debug = (m: string): void => this.emit('debug', m);
  info = (m: string): void => this.emit('info', m);
  warning = (m: string): void => this.emit('warning', m);
  error = (m: string): void => this.emit('error', m);
  critical = (m: string): void => this.emit('critical', m);
  isEnabled = (): boolean => true;

  /** Resolve with the first line (already logged or to come) matching `re`. */
  waitFor(re: RegExp, timeoutMs = 20000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; log:\n${this.lines.join('\n')}`)), timeoutMs);
      this.waiters.push({
        re,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }
}
