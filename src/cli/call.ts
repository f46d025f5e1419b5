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
  /** Show a progress bar for PROGRESS states (default: when stderr is a terminal). */
  progress?: boolean;
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
    const tty = !!process.stderr.isTTY;
    const progress = flags.progress ?? tty;
    let drawn = false;
    try {
      const value = await result.get({
        timeout: flags.timeout,
        onUpdate: (meta) => {
          const fraction = progressOf(meta.result);
          if (progress && meta.status === 'PROGRESS' && fraction) {
            // A terminal redraws one line; a pipe or log gets one line per update.
            process.stderr.write(`${tty ? '\r' : ''}${bar(fraction.done)}${fraction.label ? ` ${fraction.label}` : ''}${tty ? '' : '\n'}`);
            drawn = true;
          } else logger.info(`${result.id}: ${meta.status}`);
        },
      });
      if (progress && drawn && tty) process.stderr.write('\n');
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

/** How far a PROGRESS meta says the task is: `{current, total}` (celeriac, Celery docs) or `{percent}` (celery-progress). */
export function progressOf(meta: unknown): { done: number; label: string } | null {
  if (!meta || typeof meta !== 'object') return null;
  const m = meta as { current?: unknown; total?: unknown; percent?: unknown; description?: unknown };
  const desc = typeof m.description === 'string' && m.description ? ` ${m.description}` : '';
  if (typeof m.current === 'number' && typeof m.total === 'number' && m.total > 0) return { done: m.current / m.total, label: `${m.current}/${m.total}${desc}` };
  if (typeof m.percent === 'number') return { done: m.percent / 100, label: desc.trim() };
  return null;
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
