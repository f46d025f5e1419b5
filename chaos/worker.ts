// A `celeriac worker` child for the chaos and soak suites: started and awaited on its ready line, SIGKILLed on purpose,
// and watched for exits nobody asked for. Keeps only the tail of its output (a long run logs a line per task).

import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'bin', 'celeriac.js');
const TAIL_CHARS = 16000;

export interface WorkerSpec {
  broker: string;
  backend: string;
  queue: string;
  concurrency: number;
  env: Record<string, string>;
  extraArgs?: string[];
  /** Default `info`: readiness is the "ready." line. A quieter level needs `healthUrl`. */
  loglevel?: string;
  /** Ready when this answers 200 (the worker's `--metrics-port` /healthz), for runs that do not log at info. */
  healthUrl?: string;
}

export class WorkerProcess {
  private tail = '';
  private readyWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private expectedExit = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Called when the process exits without being killed or stopped by us. */
  onUnexpectedExit: ((description: string) => void) | undefined;

  private constructor(readonly child: ChildProcess) {
    const onData = (s: string): void => {
      this.tail = (this.tail + s).slice(-TAIL_CHARS);
      if (this.readyWaiter && / ready\. /.test(this.tail)) {
        this.readyWaiter.resolve();
        this.readyWaiter = undefined;
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(({ code, signal }) => {
      const description = `worker ${child.pid} exited (code ${code}, signal ${signal})\n--- output tail ---\n${this.tail.slice(-3000)}`;
      this.readyWaiter?.reject(new Error(description));
      if (!this.expectedExit) this.onUnexpectedExit?.(description);
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get output(): string {
    return this.tail;
  }

  /** Spawn `celeriac worker -A chaos/tasks.ts` and resolve once it logs "ready.". */
  static async start(spec: WorkerSpec, timeoutMs = 60000): Promise<WorkerProcess> {
    const args = [CLI, 'worker', '-A', 'chaos/tasks.ts', '-b', spec.broker, '--result-backend', spec.backend, '-Q', spec.queue, '-c', String(spec.concurrency), '-l', spec.loglevel ?? 'info', '--without-heartbeat', ...(spec.extraArgs ?? [])];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const worker = new WorkerProcess(child);
    if (spec.healthUrl) void worker.probeHealth(spec.healthUrl);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${child.pid} not ready after ${timeoutMs} ms\n${worker.tail.slice(-3000)}`)), timeoutMs);
      worker.readyWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
    return worker;
  }

  /** Poll the health endpoint until it answers 200 (it has no push event), then count the worker ready. */
  private async probeHealth(url: string): Promise<void> {
    for (;;) {
      const ok = await fetch(url).then((r) => r.ok, () => false);
      if (ok && this.readyWaiter) {
        this.readyWaiter.resolve();
        this.readyWaiter = undefined;
        return;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL, as a crash: no shutdown, no acks. */
  async kill(): Promise<void> {
    this.expectedExit = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Warm shutdown (SIGTERM): finish running tasks, ack, exit. SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30000): Promise<void> {
    this.expectedExit = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
