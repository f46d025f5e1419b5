// Child processes of the harness: each in its own process group, output logged to a file and kept (tail) in memory,
// stopped with SIGTERM then SIGKILL to the group; every live group is killed when the harness exits or is interrupted.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly startedAt: number;
  /** Resolves when the main process has exited. */
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  stdout: string;
  /** The last ~8 KB of stderr+stdout, for error reports. */
  tail(): string;
}

const live = new Set<Proc>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export function killAll(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
  live.clear();
}

let installed = false;
/** Kill every child group on exit, CTRL-C or a crash of the harness; then `onInterrupt` (async, 5 s at most). */
export function installCleanup(onInterrupt: () => Promise<void>): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write(`\n${sig}: workers killed, cleaning up…\n`);
      const timer = setTimeout(() => process.exit(130), 5000);
      onInterrupt().finally(() => {
        clearTimeout(timer);
        process.exit(130);
      });
    });
  }
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logFile?: string;
}

export function spawnProc(name: string, cmd: string, args: string[], o: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${cmd}`);
  const log = o.logFile ? fs.createWriteStream(o.logFile, { flags: 'a' }) : undefined;
  log?.write(`$ ${cmd} ${args.join(' ')}\n`);
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
    log?.write(chunk);
  };
  let exitInfo: ExitInfo | undefined;
  const proc: Proc = {
    name,
    pid: child.pid,
    child,
    startedAt: performance.now(),
    exited: new Promise<ExitInfo>((resolve) => {
      let closed = false;
      child.on('close', () => (closed = true));
      child.on('exit', (code, signal) => {
        exitInfo = { code, signal };
        live.delete(proc);
        // Anything the main process left behind in its group goes too.
        killGroup(child.pid as number, 'SIGKILL');
        const info = exitInfo;
        // Resolve once stdout/stderr are drained ('close'), or shortly after if a straggler holds them open.
        const done = (): void => {
          proc.exitInfo = info;
          log?.end();
          resolve(info);
        };
        if (closed) done();
        else {
          const t = setTimeout(done, 300);
          child.once('close', () => {
            clearTimeout(t);
            done();
          });
        }
      });
    }),
    exitInfo,
    stdout: '',
    tail: () => tail,
  };
  child.stdout?.on('data', (c: Buffer) => {
    proc.stdout += c.toString('utf8');
    if (proc.stdout.length > 65536) proc.stdout = proc.stdout.slice(-65536);
    keep(c);
  });
  child.stderr?.on('data', keep);
  live.add(proc);
  return proc;
}

/** Wait until stdout matches, the process exits, or the timeout passes. */
export function waitForOutput(p: Proc, pattern: RegExp, timeoutMs: number): Promise<'matched' | 'exited' | 'timeout'> {
  if (pattern.test(p.stdout)) return Promise.resolve('matched');
  return new Promise((resolve) => {
    const onData = (): void => {
      if (pattern.test(p.stdout)) finish('matched');
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const finish = (r: 'matched' | 'exited' | 'timeout'): void => {
      clearTimeout(timer);
      p.child.stdout?.off('data', onData);
      resolve(r);
    };
    // Registered after spawnProc's own listener, so p.stdout already holds the chunk.
    p.child.stdout?.on('data', onData);
    void p.exited.then(() => finish('exited'));
  });
}

/** Warm shutdown: SIGTERM to the main process, SIGKILL to the whole group after `graceMs`. */
export async function stopProc(p: Proc, graceMs = 15000): Promise<{ killed: boolean; exit: ExitInfo }> {
  if (p.exitInfo) return { killed: false, exit: p.exitInfo };
  try {
    process.kill(p.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
  const r = await Promise.race([p.exited, timedOut]);
  clearTimeout(timer);
  if (r === 'timeout') {
    killGroup(p.pid, 'SIGKILL');
    return { killed: true, exit: await p.exited };
  }
  return { killed: false, exit: r };
}

/** Run a process to completion and return its stdout (throws with the output tail on a non-zero exit). */
export async function runToEnd(name: string, cmd: string, args: string[], o: SpawnOptions & { timeoutMs: number }): Promise<string> {
  const p = spawnProc(name, cmd, args, o);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), o.timeoutMs)));
  const r = await Promise.race([p.exited, timedOut]);
  clearTimeout(timer);
  if (r === 'timeout') {
    killGroup(p.pid, 'SIGKILL');
    await p.exited;
    throw new Error(`${name} timed out after ${o.timeoutMs} ms\n${p.tail()}`);
  }
  if (r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal}\n${p.tail()}`);
  return p.stdout;
}
