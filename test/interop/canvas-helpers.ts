// Helpers for the canvas interop suites: run Python-built canvases (interop/python/canvas_client.py) and compare
// reports without their ids.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseJson, stringifyJson } from '../../protocol';
import { PYTHON, ROOT } from '../helpers/env';
import { Proc } from '../helpers/processes';

export interface CanvasRun {
  case: string;
  qa: string;
  qb: string;
  ok: boolean;
  value?: unknown;
  extra?: Record<string, unknown>;
  error?: string;
}

/** Build, apply and wait for each case with real Python Celery; steps go to queues qa and qb. */
export async function runPythonCanvases(env: { broker: string; backend: string }, cases: readonly string[], qa: string, qb: string, timeout = 30): Promise<Record<string, CanvasRun>> {
  const child = spawn(PYTHON, ['canvas_client.py'], {
    cwd: path.join(ROOT, 'interop', 'python'),
    env: { ...process.env, CELERY_BROKER_URL: env.broker, CELERY_RESULT_BACKEND: env.backend },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'canvas-client');
  child.stdin?.end(stringifyJson({ runs: cases.map((c) => ({ case: c, qa, qb })), timeout }));
  const code = await proc.exited;
  if (code !== 0) throw new Error(`canvas_client.py exited ${code}\n${proc.stderr.slice(-4000)}`);
  const report = parseJson(proc.stdout.trim().split('\n').pop() ?? '') as { runs: CanvasRun[] };
  return Object.fromEntries(report.runs.map((r) => [r.case, r]));
}

/** What a run must equal across fleets: its outcome, not where it ran. */
export function outcome(r: CanvasRun | undefined): unknown {
  return r ? { ok: r.ok, value: r.value, extra: r.extra, error: r.error } : undefined;
}
