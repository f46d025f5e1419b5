// Test environment: service URLs, the Python interpreter, unique names, and the CI rule that a missing
// dependency fails an interop test instead of skipping it.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PYTHON = process.env.CELERIAC_PYTHON || '/usr/bin/python3';
export const REDIS_URL = process.env.CELERIAC_TEST_REDIS_URL || 'redis://127.0.0.1:6379/0';
export const AMQP_URL = process.env.CELERIAC_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672//';
export const IS_CI = process.env.CI === 'true';

/** A name unique to this run, for queues and keys, so suites can run side by side. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

let pythonOk: boolean | undefined;
function pythonHasCelery(): boolean {
  if (pythonOk === undefined) {
    try {
      execFileSync(PYTHON, ['-c', 'import celery, redis, amqp'], { stdio: 'ignore' });
      pythonOk = true;
    } catch {
      pythonOk = false;
    }
  }
  return pythonOk;
}

/**
 * Wait for a state an in-process component reaches asynchronously where no event announces it (checked every few
 * ms, bounded). Prefer awaiting an event (Proc.waitFor, AsyncResult.get) where one exists.
 */
export async function until(check: () => boolean, what = 'a condition', timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export type Need = 'redis' | 'amqp' | 'python';

/** What is missing among the needs, as readable reasons. */
export async function missing(needs: Need[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of needs) {
    if (n === 'redis' && !(await portOpen(6379))) out.push('Redis is not reachable on 127.0.0.1:6379');
    if (n === 'amqp' && !(await portOpen(5672))) out.push('RabbitMQ is not reachable on 127.0.0.1:5672');
    if (n === 'python' && !pythonHasCelery()) out.push(`${PYTHON} cannot import celery (apt-get install -y python3-celery python3-redis python3-amqp)`);
  }
  return out;
}

/**
 * `describe` for suites that need real services. A missing service fails the suite with the reason (never a silent
 * skip: CI must show that the interop proof did not run).
 */
export function describeWith(needs: Need[], name: string, body: () => void): void {
  describe(name, () => {
    beforeAll(async () => {
      const reasons = await missing(needs);
      if (reasons.length > 0) throw new Error(`required services missing${IS_CI ? ' under CI=true' : ''}: ${reasons.join('; ')}`);
    });
    body();
  });
}
