// `npm run bench`: runs the workloads (W1–W4, producer rate) on each broker for celeriac, Python Celery 5 and the
// ceiling; prints a table, writes bench/results/<name>.json, <name>.svg and <name>.md. Options: see lib/options.ts (--help).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createContext, type Ctx } from './lib/context';
import { parseOptions, type BenchOptions } from './lib/options';
import { installCleanup } from './lib/procs';
import { Progress } from './lib/progress';
import { repoRoot } from './lib/scripts';
import { openServices, type BrokerName, type Services } from './lib/services';
import type { Figure } from './lib/stats';
import { groupFigures, ratios } from './report/groups';
import { renderSvg } from './report/svg';
import { formatMarkdown, formatTable } from './report/table';
import { PYTHON_WORKER_FLAGS } from './workers';
import { producerSteps, runProducer } from './workloads/producer';
import { roundtripSteps, runRoundtrip } from './workloads/roundtrip';
import { runWorkerWorkload, workerWorkloadSteps } from './workloads/workers';

const ROOT = repoRoot();

function tryRun(cmd: string, args: string[], cwd = ROOT): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

/** Keys a bench run (or an interrupted one) leaves in the bench DB; anything else means the DB is not ours. */
const BENCH_KEY = /^(celery-task-meta-|bench-|_kombu\.|unacked|celery-taskset-meta-)/;

async function checkBenchDb(s: Services): Promise<void> {
  const keys = await s.redis.keys('*');
  const foreign = keys.filter((k) => !BENCH_KEY.test(k));
  if (foreign.length) throw new Error(`Redis DB ${s.redisDb} holds keys the benchmark did not write (e.g. ${foreign.slice(0, 3).join(', ')}); it FLUSHes its DB, so pick another with --redis-db`);
  if (keys.length) await s.redis.flushdb();
}

function preflight(opts: BenchOptions): string {
  if (!fs.existsSync(path.join(ROOT, 'dist/bin/celeriac.js'))) throw new Error('dist/bin/celeriac.js is missing: run `npm run build` first (npm run bench does)');
  const v = tryRun(opts.python, ['-c', 'import celery; print(celery.__version__)']);
  if (v === '?') throw new Error(`${opts.python} cannot import celery (set CELERIAC_PYTHON to a Python with Celery 5)`);
  return v;
}

function meta(opts: BenchOptions, celeryVersion: string, startedAt: Date, seconds: number): Record<string, unknown> {
  const cpu = os.cpus()[0]?.model ?? '?';
  return {
    date: startedAt.toISOString(),
    durationS: Math.round(seconds),
    commit: tryRun('git', ['rev-parse', '--short', 'HEAD']),
    dirty: tryRun('git', ['status', '--porcelain', '--', 'src', 'protocol', 'bin', 'interop']) !== '',
    machine: { cpus: opts.cpus, cpu, memGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, celery: celeryVersion, os: `${os.type()} ${os.release()}` },
    options: { ...opts, outDir: path.relative(ROOT, opts.outDir) },
    notes: [
      'Worker figures are timed from the worker process spawn until every result is stored (startup included); "steady" is from the first result stored to the last.',
      `celeriac worker: -c ${opts.w1Concurrency} for W1 and W2, -c <concurrency> for W3, -c ${opts.cpus} for W4 (pools: ${opts.celeriacPools.join(', ')}).`,
      `Python Celery ${celeryVersion}: prefork -c 2 (W1, W2), threads -c <concurrency> (W3), prefork -c ${opts.cpus} (W4); flags ${PYTHON_WORKER_FLAGS.join(' ')} (celeriac has no mingle/gossip/heartbeat).`,
      'Ceiling: bench/ceiling, a bare Node consumer doing only receive, decode, run, store result (SETEX+PUBLISH), ack; W4 ceiling runs one process per core.',
      `Results: Redis backend on DB ${opts.redisDb} for both brokers; queues pre-filled by a bare producer writing Celery 5.2 messages.`,
    ],
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), ROOT);
  const celeryVersion = preflight(opts);
  const services = await openServices({ amqpUrl: opts.amqpUrl, redisBase: opts.redisUrl, redisDb: opts.redisDb });
  await checkBenchDb(services);
  const progress = new Progress(0);
  const ctx: Ctx = createContext(ROOT, opts, services, progress);
  installCleanup(async () => {
    for (const [q, b] of ctx.openQueues) await services.cleanup(b, q).catch(() => undefined);
  });

  const steps = opts.brokers.length * opts.workloads.reduce((s, w) => s + (w === 'w2' ? roundtripSteps(ctx) : w === 'producer' ? producerSteps(ctx) : workerWorkloadSteps(ctx, w)), 0);
  progress.setTotal(steps);
  process.stderr.write(
    `celeriac benchmark: brokers ${opts.brokers.join(',')}, workloads ${opts.workloads.join(',')}, ${opts.runs} run(s); ` +
      `W1 n=${opts.n}, W2 ${opts.roundtrips} calls, W3 n=${opts.ioTasks} at c=${opts.ioConcurrency.join('/')}, W4 n=${opts.cpuTasks}, producer n=${opts.producerTasks}\n`,
  );
  const startedAt = new Date();
  const t0 = Date.now();
  const figures: Figure[] = [];
  for (const broker of opts.brokers as BrokerName[]) {
    for (const w of opts.workloads) {
      if (w === 'w2') figures.push(...(await runRoundtrip(ctx, broker)));
      else if (w === 'producer') figures.push(...(await runProducer(ctx, broker)));
      else figures.push(...(await runWorkerWorkload(ctx, w, broker)));
    }
  }
  progress.done();
  await ctx.close();
  await services.close();

  const groups = groupFigures(figures);
  const m = meta(opts, celeryVersion, startedAt, (Date.now() - t0) / 1000);
  fs.mkdirSync(opts.outDir, { recursive: true });
  const jsonPath = path.join(opts.outDir, `${opts.name}.json`);
  const svgPath = path.join(opts.outDir, `${opts.name}.svg`);
  // Pretty-printed with numbers to 3 decimals, and arrays of numbers or one-word strings on one line.
  const round = (_k: string, v: unknown): unknown => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);
  const json = JSON.stringify({ meta: m, figures, ratios: ratios(groups) }, round, 2).replace(/\[\s+((?:"[^"\s]*"|-?[\d.eE+-]+|null|true|false)(?:,\s+(?:"[^"\s]*"|-?[\d.eE+-]+|null|true|false))*)\s+\]/g, (_m, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`);
  fs.writeFileSync(jsonPath, `${json}\n`);
  const machine = m.machine as { cpus: number; cpu: string };
  const subtitle = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${machine.cpus} cores (${machine.cpu}) · ${opts.runs} run(s), median and min–max · Python Celery ${celeryVersion} · commit ${String(m.commit)}`;
  fs.writeFileSync(svgPath, renderSvg(groups, subtitle));
  const mdPath = path.join(opts.outDir, `${opts.name}.md`);
  fs.writeFileSync(mdPath, `${subtitle}\n\n${formatMarkdown(groups, opts.runs)}`);

  const out: string[] = [];
  out.push(`celeriac benchmark — ${subtitle}`);
  for (const n of m.notes as string[]) out.push(`* ${n}`);
  out.push('');
  out.push(formatTable(groups, opts.runs));
  out.push(`written: ${path.relative(ROOT, jsonPath)}, ${path.relative(ROOT, svgPath)}, ${path.relative(ROOT, mdPath)}; worker logs: ${path.relative(ROOT, ctx.tmpDir)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
