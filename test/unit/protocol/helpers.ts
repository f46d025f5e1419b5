// Shared helpers for the protocol tests: golden fixture loading and running the system Python (with CI-aware skips).

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseJson, type WireMessage, type WireProperties } from '../../../protocol';

export const FIXTURES = path.resolve(__dirname, '../../../protocol/fixtures');

/** Read a fixture with the exact parser, so 2**53+1 stays a bigint (JSON.parse would round it). */
export function loadFixture<T = Record<string, any>>(rel: string): T {
  return parseJson(readFileSync(path.join(FIXTURES, rel))) as T;
}

/** The case files of one fixture folder (files starting with `_` are not cases), sorted. */
export function fixtureCases(folder: string): string[] {
  return readdirSync(path.join(FIXTURES, folder))
    .filter((f) => f.endsWith('.json') && !f.startsWith('_'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** A message read by py-amqp (amqp_broker fixtures) as the WireMessage every broker hands the protocol layer. */
export function wireFromAmqp(m: { headers: Record<string, unknown>; properties: Record<string, any>; body_base64: string }): WireMessage {
  const p = m.properties;
  const properties: WireProperties = {};
  if (p.correlation_id !== undefined) properties.correlationId = p.correlation_id;
  if (p.reply_to !== undefined) properties.replyTo = p.reply_to;
  if (p.delivery_mode !== undefined) properties.deliveryMode = p.delivery_mode;
  if (p.priority !== undefined) properties.priority = p.priority;
  if (p.expiration !== undefined) properties.expiration = p.expiration;
  return {
    body: Buffer.from(m.body_base64, 'base64'),
    contentType: p.content_type,
    contentEncoding: p.content_encoding,
    headers: m.headers,
    properties,
  };
}

/** Every object key in document order, depth first, with its path: equal lists mean equal key order everywhere. */
export function keyLayout(v: unknown, at = '$'): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => keyLayout(x, `${at}[${i}]`));
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [`${at}.${k}`, ...keyLayout(x, `${at}.${k}`)]);
}

// ---- Python ----

export const PYTHON = process.env.CELERIAC_PYTHON || '/usr/bin/python3';

/** Run Python code with `input` on stdin (UTF-8) and return its stdout. */
export function runPython(code: string, input = ''): string {
  return execFileSync(PYTHON, ['-c', code], {
    input,
    encoding: 'utf8',
    env: { ...process.env, PYTHONIOENCODING: 'utf-8' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

const probes = new Map<string, string | null>();

/** Why Python (with these modules) cannot be used, or null when it can. */
function pythonProblem(modules: readonly string[]): string | null {
  const key = modules.join(',');
  if (!probes.has(key)) {
    let problem: string | null = null;
    try {
      runPython(`import sys\n${modules.map((m) => `import ${m}`).join('\n')}`);
    } catch (err) {
      const e = err as { code?: string; stderr?: string };
      problem =
        e.code === 'ENOENT'
          ? `no Python at ${PYTHON} (set CELERIAC_PYTHON)`
          : `${PYTHON} cannot import ${modules.join(', ') || 'sys'}: ${String(e.stderr ?? err).trim().split('\n').pop()}`;
    }
    probes.set(key, problem);
  }
  return probes.get(key) ?? null;
}

/**
 * A test that needs Python (and optionally some modules). Without them it fails with the reason, never skips
 * (as describeWith does for services): a skipped round trip against Python proves nothing.
 */
export function pythonTest(name: string, fn: () => void, modules: readonly string[] = []): void {
  const problem = pythonProblem(modules);
  if (problem === null) {
    test(name, fn);
  } else {
    test(name, () => {
      throw new Error(`${problem} (set CELERIAC_PYTHON to a Python with Celery 5)`);
    });
  }
}
