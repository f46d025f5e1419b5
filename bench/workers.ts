// How each worker under test is started: the celeriac CLI, Python Celery 5 (prefork or threads), and the ceiling.

import * as path from 'node:path';
import type { Ctx } from './lib/context';
import { spawnProc, type Proc } from './lib/procs';
import type { Side } from './lib/stats';
import type { BrokerName } from './lib/services';
import { nodeScript } from './lib/scripts';

export interface WorkerSpec {
  label: string;
  side: Side;
  /** Printed on stdout once consuming; undefined when the worker does not say (Python at -l warning). */
  ready?: RegExp;
  start(ctx: Ctx, broker: BrokerName, queue: string): Proc;
}

/** Celery features celeriac does not have, switched off in the Python worker so both do the same work. */
export const PYTHON_WORKER_FLAGS = ['--without-mingle', '--without-gossip', '--without-heartbeat'];

/** `node dist/bin/celeriac.js worker -A interop/tasks.ts …`; `pool` "default" passes no -P. */
export function celeriacWorker(concurrency: number, pool = 'default'): WorkerSpec {
  const poolArgs = pool === 'default' ? [] : ['-P', pool];
  return {
    label: `celeriac worker -c ${concurrency}${pool === 'default' ? '' : ` -P ${pool}`}`,
    side: 'celeriac',
    ready: / ready\./,
    start(ctx, broker, queue) {
      const args = [
        path.join(ctx.root, 'dist/bin/celeriac.js'),
        'worker',
        '-A',
        'interop/tasks.ts',
        '-b',
        ctx.services.brokerUrl(broker),
        '--result-backend',
        ctx.services.backendUrl(),
        '-Q',
        queue,
        '-c',
        String(concurrency),
        '-l',
        'warning',
        ...poolArgs,
      ];
      return spawnProc(this.label, process.execPath, args, { cwd: ctx.root, logFile: ctx.logFile(queue, 'celeriac') });
    },
  };
}

export function pythonWorker(pool: 'prefork' | 'threads', concurrency: number): WorkerSpec {
  return {
    label: `Python Celery 5 -P ${pool} -c ${concurrency}`,
    side: 'python',
    start(ctx, broker, queue) {
      const args = ['-m', 'celery', '-A', 'celery_app', 'worker', '-Q', queue, '-c', String(concurrency), '-P', pool, '-l', 'warning', '-n', `${queue}@%h`, ...PYTHON_WORKER_FLAGS];
      const env = { ...process.env, CELERY_BROKER_URL: ctx.services.brokerUrl(broker), CELERY_RESULT_BACKEND: ctx.services.backendUrl(), PYTHONUNBUFFERED: '1' };
      return spawnProc(this.label, ctx.opts.python, args, { cwd: path.join(ctx.root, 'interop/python'), env, logFile: ctx.logFile(queue, 'python') });
    },
  };
}

/** The minimal consumer of bench/ceiling (one process per `procs`). */
export function ceilingWorker(prefetch: number, procs = 1): WorkerSpec {
  return {
    label: `ceiling (bare Node, prefetch ${prefetch}${procs > 1 ? `, ${procs} processes` : ''})`,
    side: 'ceiling',
    ready: / ready\./,
    start(ctx, broker, queue) {
      const args = [...nodeScript('ceiling/consumer'), '--broker', ctx.services.brokerUrl(broker), '--backend', ctx.services.backendUrl(), '--queue', queue, '--prefetch', String(prefetch), '--procs', String(procs)];
      return spawnProc(this.label, process.execPath, args, { cwd: ctx.root, logFile: ctx.logFile(queue, 'ceiling') });
    },
  };
}
