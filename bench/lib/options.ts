// Command-line options of `npm run bench` and what --quick changes.

import * as os from 'node:os';
import yargs from 'yargs';
import type { BrokerName } from './services';

export const WORKLOADS = ['w1', 'w2', 'w3', 'w4', 'producer'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  quick: boolean;
  runs: number;
  brokers: BrokerName[];
  workloads: Workload[];
  /** W1 tasks (and the base of the other sizes). */
  n: number;
  /** W2 round trips per client. */
  roundtrips: number;
  /** W3 tasks per concurrency level. */
  ioTasks: number;
  ioConcurrency: number[];
  /** W4 tasks. */
  cpuTasks: number;
  /** Producer-rate tasks. */
  producerTasks: number;
  /** celeriac worker concurrency for W1. */
  w1Concurrency: number;
  /** Pool arguments to try for W4: "default" = no -P flag, anything else is passed as `-P <name>`. */
  celeriacPools: string[];
  amqpUrl: string;
  redisUrl: string;
  redisDb: number;
  python: string;
  outDir: string;
  /** Base name of the output files (latest → latest.json, latest.svg). */
  name: string;
  cpus: number;
}

const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

export function parseOptions(argv: string[], root: string): BenchOptions {
  const a = yargs(argv)
    .scriptName('npm run bench --')
    .options({
      quick: { type: 'boolean', default: false, describe: 'CI smoke: tiny sizes, 1 run (< 2 minutes)' },
      n: { type: 'number', describe: 'W1 tasks (default 20000; quick 300); other sizes derive from it' },
      runs: { type: 'number', describe: 'repetitions of each figure (default 3; quick 1)' },
      brokers: { type: 'string', default: 'amqp,redis' },
      workloads: { type: 'string', default: WORKLOADS.join(','), describe: 'any of w1,w2,w3,w4,producer' },
      roundtrips: { type: 'number', describe: 'W2 round trips per client (default 1000; quick 50)' },
      'io-tasks': { type: 'number', describe: 'W3 tasks per concurrency level (default n/4)' },
      'io-concurrency': { type: 'string', describe: 'W3 concurrency levels (default 100,1000; quick 100)' },
      'cpu-tasks': { type: 'number', describe: 'W4 tasks.burn(20) calls (default n/100, at least 20)' },
      'producer-tasks': { type: 'number', describe: 'producer-rate tasks (default n)' },
      'w1-concurrency': { type: 'number', default: 50 },
      'celeriac-pools': { type: 'string', default: 'default,threads,prefork', describe: 'W4: "default" (no -P) or -P values; rejected ones show n/a' },
      'amqp-url': { type: 'string', default: process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//' },
      'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', describe: 'without a DB number' },
      'redis-db': { type: 'number', default: Number(process.env.BENCH_REDIS_DB ?? 5), describe: 'dedicated DB, FLUSHed after each run' },
      out: { type: 'string', default: 'bench/results' },
      name: { type: 'string', describe: 'output base name (default latest; quick: quick)' },
    })
    .strict()
    .help()
    .parseSync();
  const quick = a.quick;
  const n = a.n ?? (quick ? 300 : 20000);
  const workloads = list(a.workloads).map((w) => w.toLowerCase());
  for (const w of workloads) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w} (use ${WORKLOADS.join(',')})`);
  const brokers = list(a.brokers);
  for (const b of brokers) if (b !== 'amqp' && b !== 'redis') throw new Error(`unknown broker ${b} (use amqp,redis)`);
  return {
    quick,
    runs: a.runs ?? (quick ? 1 : 3),
    brokers: brokers as BrokerName[],
    workloads: workloads as Workload[],
    n,
    roundtrips: a.roundtrips ?? (quick ? 50 : 1000),
    ioTasks: a['io-tasks'] ?? Math.max(100, Math.round(n / 4)),
    ioConcurrency: list(a['io-concurrency'] ?? (quick ? '100' : '100,1000')).map(Number),
    cpuTasks: a['cpu-tasks'] ?? Math.max(20, Math.round(n / 100)),
    producerTasks: a['producer-tasks'] ?? n,
    w1Concurrency: a['w1-concurrency'],
    celeriacPools: list(a['celeriac-pools']),
    amqpUrl: a['amqp-url'],
    redisUrl: a['redis-url'].replace(/\/\d*$/, ''),
    redisDb: a['redis-db'],
    python: process.env.CELERIAC_PYTHON || '/usr/bin/python3',
    outDir: a.out.startsWith('/') ? a.out : `${root}/${a.out}`,
    name: a.name ?? (quick ? 'quick' : 'latest'),
    cpus: os.availableParallelism(),
  };
}
