// Child processes for interop tests: the celeriac worker CLI, a Python Celery worker, and the scriptable Python
// client. Readiness and log lines are awaited as events on the output streams, never with sleeps.

import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { parseJson, stringifyJson } from '../../protocol';
import { PYTHON, ROOT } from './env';

const CLI = path.join(ROOT, 'dist', 'bin', 'celeriac.js');
const PY_DIR = path.join(ROOT, 'interop', 'python');

/** A running child with its output captured and awaitable. */
export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private watchers: Array<{ re: RegExp; resolve: () => void }> = [];

  constructor(readonly child: ChildProcess, readonly label: string) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => this.onData('stdout', s));
    child.stderr?.on('data', (s: string) => this.onData('stderr', s));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    if (process.env.CELERIAC_TEST_VERBOSE) {
      child.stderr?.on('data', (s: string) => process.stderr.write(`[${label}] ${s}`));
    }
  }

  private onData(stream: 'stdout' | 'stderr', s: string): void {
    this[stream] += s;
    const all = this.output;
    this.watchers = this.watchers.filter((w) => {
      if (w.re.test(all)) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  get output(): string {
    return `${this.stdout}\n${this.stderr}`;
  }

  /** Resolve when the combined output matches; fail with the output so far after `timeoutMs` or on exit. */
  waitFor(re: RegExp, timeoutMs = 20000): Promise<void> {
    if (re.test(this.output)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: timed out waiting for ${re}\n--- output ---\n${this.output.slice(-4000)}`)), timeoutMs);
      const watcher = {
        re,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.watchers.push(watcher);
      void this.exited.then((code) => {
        if (!this.watchers.includes(watcher)) return;
        clearTimeout(timer);
        reject(new Error(`${this.label} exited (${code}) before ${re} appeared\n--- output ---\n${this.output.slice(-4000)}`));
      });
    });
  }

  /** Number of matches of a global regex in the combined output so far. */
  count(re: RegExp): number {
    return (this.output.match(new RegExp(re.source, 'g')) ?? []).length;
  }

  /** Resolve once the output holds at least `n` matches of `re` (checked as output arrives). */
  async waitForCount(re: RegExp, n: number, timeoutMs = 20000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.count(re) < n) {
      if (Date.now() > end) throw new Error(`${this.label}: ${this.count(re)} of ${n} lines matching ${re} after ${timeoutMs} ms\n--- output ---\n${this.output.slice(-3000)}`);
      if (this.child.exitCode !== null) throw new Error(`${this.label} exited (${this.child.exitCode}) with ${this.count(re)} of ${n} lines matching ${re}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.child.stdout?.off('data', done);
          this.child.stderr?.off('data', done);
          resolve();
        };
        const t = setTimeout(done, 200);
        this.child.stdout?.once('data', done);
        this.child.stderr?.once('data', done);
      });
    }
  }

  /** Send a signal and wait for exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

export interface CeleriacWorkerOptions {
  broker: string;
  backend?: string;
  queues: string[];
  concurrency?: number;
  loglevel?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  tasksModule?: string;
}

/** Start `celeriac worker` on the example tasks; resolves once it prints "ready.". */
export async function startCeleriacWorker(o: CeleriacWorkerOptions): Promise<Proc> {
  const args = [CLI, 'worker', '-A', o.tasksModule ?? 'interop/tasks.ts', '-b', o.broker, '-Q', o.queues.join(','), '-l', o.loglevel ?? 'info', '-c', String(o.concurrency ?? 4)];
  if (o.backend) args.push('--result-backend', o.backend);
  args.push(...(o.extraArgs ?? []));
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, 'celeriac-worker');
  await proc.waitFor(/ ready\.\n/, 30000);
  return proc;
}

export interface PythonWorkerOptions {
  broker: string;
  backend: string;
  queues: string[];
  concurrency?: number;
  pool?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
}

/** Start a Python Celery 5 worker on interop/python/celery_app.py; resolves once it logs "ready.". */
export async function startPythonWorker(o: PythonWorkerOptions): Promise<Proc> {
  const args = ['-m', 'celery', '-A', 'celery_app', 'worker', '-Q', o.queues.join(','), '-c', String(o.concurrency ?? 2), '-P', o.pool ?? 'threads', '-l', 'info', '--without-mingle', '--without-gossip', '-n', `py-${process.pid}-${Date.now()}@%h`, ...(o.extraArgs ?? [])];
  const child = spawn(PYTHON, args, {
    cwd: PY_DIR,
    env: { ...process.env, CELERY_BROKER_URL: o.broker, CELERY_RESULT_BACKEND: o.backend, PYTHONUNBUFFERED: '1', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'python-worker');
  await proc.waitFor(/ ready\./, 60000);
  return proc;
}

export interface PyCall {
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
}

export interface PyResult {
  id: string;
  ok?: boolean;
  result?: unknown;
  state?: string;
  traceback?: string | null;
  exc_class?: string;
  exc_module?: string;
  exc_args?: unknown[];
  exc_str?: string;
  states?: Array<{ state: string; meta: unknown }>;
}

/** Run the Python client: send the calls (and wait for them) with real Celery 5; returns its report. */
export async function pythonClient(
  env: { broker: string; backend: string; extra?: Record<string, string> },
  job: { calls: PyCall[]; wait?: boolean; timeout?: number; collect_states?: boolean },
): Promise<PyResult[]> {
  const child = spawn(PYTHON, ['client.py'], {
    cwd: PY_DIR,
    env: { ...process.env, CELERY_BROKER_URL: env.broker, CELERY_RESULT_BACKEND: env.backend, ...env.extra },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'python-client');
  child.stdin?.end(stringifyJson(job));
  const code = await proc.exited;
  if (code !== 0) throw new Error(`python client exited ${code}\n${proc.stderr.slice(-4000)}`);
  const report = parseJson(proc.stdout.trim().split('\n').pop() ?? '') as { results: PyResult[] };
  return report.results;
}

/** Run a short Python snippet with Celery importable (cwd interop/python); returns stdout. */
export async function pythonSnippet(code: string, env: Record<string, string> = {}): Promise<string> {
  const child = spawn(PYTHON, ['-c', code], { cwd: PY_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, 'python');
  const exit = await proc.exited;
  if (exit !== 0) throw new Error(`python exited ${exit}\n${proc.stderr.slice(-4000)}`);
  return proc.stdout;
}

/** Run the celeriac CLI to completion. */
export async function celeriacCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, 'celeriac');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}
