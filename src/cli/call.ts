// `celeriac call` and `celeriac result`: send a task by name (optionally wait for it) and read a stored result.

import { TaskError } from '../errors';
import { stringifyJson } from '../../protocol';
import { appFromFlags, loggerFromFlags, parseJsonFlag, type AppFlags } from './common';

export interface CallFlags extends AppFlags {
  task: string;
  args?: string;
  kwargs?: string;
  queue?: string;
  countdown?: number;
  eta?: string;
  expires?: number;
  priority?: number;
  wait?: boolean;
  timeout?: number;
}

/** Prints the task id; with --wait, the result as JSON on the last stdout line (exit 1 and `Type: message` on failure). */
export async function runCall(flags: CallFlags): Promise<number> {
  const logger = loggerFromFlags(flags);
  const app = appFromFlags(flags, logger);
  try {
    const args = parseJsonFlag<unknown[]>('args', flags.args, []);
    const kwargs = parseJsonFlag<Record<string, unknown>>('kwargs', flags.kwargs, {});
    if (!Array.isArray(args)) throw new TypeError('--args must be a JSON array, e.g. --args "[2, 3]"');
    const result = await app.sendTask(flags.task, args, kwargs, { queue: flags.queue, countdown: flags.countdown, eta: flags.eta, expires: flags.expires, priority: flags.priority });
    process.stdout.write(`${result.id}\n`);
    if (!flags.wait) return 0;
    const progress = process.stderr.isTTY;
    try {
      const value = await result.get({
        timeout: flags.timeout,
        onUpdate: (meta) => {
          const m = meta.result as { current?: number; total?: number } | null;
          if (progress && meta.status === 'PROGRESS' && m && typeof m.current === 'number' && typeof m.total === 'number') {
            process.stderr.write(`\r${bar(m.current / m.total)} ${m.current}/${m.total}`);
          } else if (!progress) logger.info(`${result.id}: ${meta.status}`);
        },
      });
      if (progress) process.stderr.write('\n');
      process.stdout.write(`${stringifyJson(value ?? null)}\n`);
      return 0;
    } catch (err) {
      if (err instanceof TaskError) {
        process.stderr.write(`${err.excType}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  } finally {
    await app.close();
  }
}

export function bar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

export interface ResultFlags extends AppFlags {
  id: string;
}

/** Prints the state and, when ready, the result (JSON). */
export async function runResult(flags: ResultFlags): Promise<number> {
  const app = appFromFlags(flags, loggerFromFlags(flags));
  try {
    await app.connect();
    const meta = await app.AsyncResult(flags.id).meta();
    process.stdout.write(`${meta.status}\n${stringifyJson(meta.result ?? null)}\n`);
    if (meta.traceback) process.stderr.write(meta.traceback);
    return 0;
  } finally {
    await app.close();
  }
}
