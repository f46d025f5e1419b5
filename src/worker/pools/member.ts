// One pool worker seen from the main thread: a worker thread or a child process running entry.ts, with the same
// handle for both (send, messages, ready, kill, graceful close, exit).

import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import type { FromPool, PoolInit, ToPool, WireError } from './wire';

export type PoolKind = 'threads' | 'processes';

/** The pool worker's script: the compiled entry.js, or entry.ts through tsx when celeriac runs from source. */
function entryScript(): { file: string; ts: boolean } {
  const own = path.join(__dirname, 'entry.js');
  if (fs.existsSync(own)) return { file: own, ts: false };
  // From source (ts-jest, tsx): a tasks module importing 'celeriac' gets the build, so the pool worker uses it too,
  // keeping one copy of the error classes the tracer checks.
  const built = path.resolve(__dirname, '..', '..', '..', 'dist', 'src', 'worker', 'pools', 'entry.js');
  if (fs.existsSync(built)) return { file: built, ts: false };
  return { file: path.join(__dirname, 'entry.ts'), ts: true };
}

/** Node flags a child inherits, minus debugger ones (a second inspector on the same port would fail). */
function childExecArgv(ts: boolean): string[] {
  const inherited = process.execArgv.filter((a) => !/^--inspect/.test(a) && !/^--debug/.test(a));
  return ts ? [...inherited, '--require', require.resolve('tsx/cjs')] : inherited;
}

/** A pool worker failed to load the tasks module. */
export class PoolStartError extends Error {
  override name = 'PoolStartError';
  constructor(
    message: string,
    readonly detail?: WireError,
  ) {
    super(message);
  }
}

export class PoolMember {
  /** `thread 3` or `process 12345`, for log lines. */
  label: string;
  pid = 0;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  /** Set when the main thread ends it on purpose (time limit, terminate, recycling, shutdown). */
  endedOnPurpose = false;
  /** What ended a thread that threw (a child process prints its own uncaught errors). */
  lastError: Error | undefined;
  private readonly thread?: Thread;
  private readonly child?: ChildProcess;
  private isReady = false;
  private hasExited = false;

  constructor(
    readonly kind: PoolKind,
    readonly index: number,
    init: PoolInit,
    onMessage: (member: PoolMember, msg: FromPool) => void,
    onExit: (member: PoolMember, code: number | null, signal: string | null) => void,
  ) {
    const { file, ts } = entryScript();
    const env = { ...process.env, CELERIAC_POOL_WORKER: kind === 'threads' ? 'thread' : 'process' };
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => undefined);
    let exitResolve!: () => void;
    this.exited = new Promise<void>((resolve) => (exitResolve = resolve));
    const handleMessage = (msg: FromPool): void => {
      if (msg.type === 'ready') {
        this.pid = msg.pid;
        if (kind === 'processes') this.label = `process ${msg.pid}`;
        this.isReady = true;
        readyResolve();
        return;
      }
      if (msg.type === 'fatal') {
        const e = msg.error;
        readyReject(new PoolStartError(`pool ${this.label} could not load the tasks module: ${e.name}: ${e.message}`, e));
        this.kill();
        return;
      }
      onMessage(this, msg);
    };
    const handleExit = (code: number | null, signal: string | null): void => {
      if (this.hasExited) return;
      this.hasExited = true;
      if (!this.isReady) readyReject(new PoolStartError(`pool ${this.label} exited (${signal ?? code}) before it was ready`));
      exitResolve();
      onExit(this, code, signal);
    };
    if (kind === 'threads') {
      const code = ts ? `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(file)});` : file;
      this.thread = new Thread(code, { eval: ts, workerData: init, env, execArgv: [] });
      this.label = `thread ${this.thread.threadId}`;
      this.thread.on('message', handleMessage);
      this.thread.on('error', (err) => (this.lastError = err)); // an uncaught error ends the thread; 'exit' follows
      this.thread.on('exit', (c) => handleExit(c, null));
    } else {
      this.child = fork(file, [], {
        cwd: init.cwd,
        env,
        execArgv: childExecArgv(ts),
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.label = `process ${this.child.pid ?? '?'}`;
      this.child.on('message', (m) => handleMessage(m as FromPool));
      this.child.on('error', () => undefined); // e.g. a send on a closed channel; 'exit' follows
      this.child.on('exit', (c, s) => handleExit(c, s));
      this.child.send({ type: 'init', init } satisfies ToPool);
    }
  }

  get alive(): boolean {
    return !this.hasExited;
  }

  send(msg: ToPool): void {
    if (this.hasExited) return;
    if (this.thread) this.thread.postMessage(msg);
    else if (this.child?.connected) this.child.send(msg);
  }

  /** End it now (a thread is terminated, a process gets SIGKILL). */
  kill(): void {
    this.endedOnPurpose = true;
    if (this.hasExited) return;
    if (this.thread) void this.thread.terminate();
    else this.child?.kill('SIGKILL');
  }

  /** Ask it to close its connections and exit; kill it if it has not after `timeoutMs`. */
  async close(timeoutMs = 10000): Promise<void> {
    this.endedOnPurpose = true;
    if (this.hasExited) return;
    this.send({ type: 'exit' });
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
