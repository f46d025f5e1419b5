// One chaos run on one broker: Python producers send N chaos.add tasks with known ids to an acksLate celeriac worker
// while the run SIGKILLs the worker, restarts the broker and drops connections; then every id is accounted for.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { amqpQueueDepth, closeAmqpConnectionsOf, ensureRabbitRunning, killRedisConnectionsOf, rabbitmqctl, restartRabbit, ThrowawayRedis } from './services';
import { ROOT, WorkerProcess } from './worker';

export type ChaosBroker = 'amqp' | 'redis';
type Disruption = 'kill' | 'restart' | 'drop';

export interface ChaosOptions {
  broker: ChaosBroker;
  tasks: number;
  kills?: number;
  brokerRestarts?: number;
  connectionDrops?: number;
  producers?: number;
  concurrency?: number;
  /** How long each task stays in flight (ms), so that disruptions find tasks running. */
  holdMs?: number;
  /** The producers spread the tasks over about this many seconds (0: as fast as they can). */
  paceSeconds?: number;
  seed?: number;
  amqpUrl?: string;
  backendUrl?: string;
  python?: string;
  log?: (line: string) => void;
}

export interface ChaosReport {
  broker: ChaosBroker;
  tasks: number;
  kills: number;
  brokerRestarts: number;
  connectionDrops: number;
  /** Ids with no SUCCESS result at the deadline. */
  lost: number;
  /** Ids whose result is not SUCCESS with 3 * i. */
  wrong: number;
  /** Ids that ran more than once (at-least-once redeliveries). */
  duplicates: number;
  /** The most duplicates the run allows: messages in flight (the prefetch window) at each disruption. */
  duplicateBound: number;
  /** Messages left at the end: ready in the queue, and unacked (AMQP unacknowledged, or Redis `unacked`/`unacked_index`). */
  leftInQueue: number;
  leftUnacked: number;
  unexpectedWorkerExits: number;
  producerResends: number;
  wallSeconds: number;
  seed: number;
  brokerRestartMethod: string;
  connectionDropMethod: string;
  ok: boolean;
  failures: string[];
}

/** A small seeded generator (mulberry32), so a failing run can be repeated with its printed seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The disruptions in a shuffled order, each at a random point of progress between 5 % and 80 % of the tasks. */
function plan(kills: number, restarts: number, drops: number, random: () => number): Array<{ kind: Disruption; at: number }> {
  const kinds: Disruption[] = [...Array<Disruption>(kills).fill('kill'), ...Array<Disruption>(restarts).fill('restart'), ...Array<Disruption>(drops).fill('drop')];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  // One slot per disruption across [0.05, 0.8], a random point inside each slot.
  const width = 0.75 / Math.max(1, kinds.length);
  return kinds.map((kind, i) => ({ kind, at: 0.05 + width * (i + random() * 0.8) }));
}

const META = 'celery-task-meta-';

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = o.seed ?? randomBytes(4).readUInt32BE(0);
  const random = seeded(seed);
  const n = o.tasks;
  const concurrency = o.concurrency ?? 8;
  const prefetch = concurrency * 4;
  const backendUrl = o.backendUrl ?? 'redis://127.0.0.1:6379/0';
  const amqpUrl = o.amqpUrl ?? 'amqp://guest:guest@127.0.0.1:5672//';
  const queue = `chaos-${o.broker}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const counterKey = `chaos:executions:${queue}`;
  const ids = Array.from({ length: n }, (_, i) => `${queue}-${i}`);
  const backend = new Redis(backendUrl, { connectionName: 'chaos-suite', maxRetriesPerRequest: null });
  const failures: string[] = [];
  const counts = { kills: 0, brokerRestarts: 0, connectionDrops: 0, unexpectedWorkerExits: 0, producerResends: 0 };
  let brokerRedis: ThrowawayRedis | undefined;
  let brokerAdmin: Redis | undefined;
  let worker: WorkerProcess | undefined;
  const started = Date.now();
  log(`[chaos ${o.broker}] ${n} tasks on queue ${queue}, seed ${seed}`);
  try {
    let brokerUrl = amqpUrl;
    const env: Record<string, string> = { CELERY_TASK_ACKS_LATE: 'true', CHAOS_REDIS_URL: backendUrl };
    if (o.broker === 'redis') {
      brokerRedis = await ThrowawayRedis.start();
      brokerUrl = brokerRedis.url;
      brokerAdmin = new Redis(brokerUrl, { connectionName: 'chaos-suite', maxRetriesPerRequest: null });
      brokerAdmin.on('error', () => undefined); // it reconnects after the broker restart
      // A short visibility timeout so a killed worker's messages come back within the run (held ones are renewed).
      env.CELERY_BROKER_TRANSPORT_OPTIONS = JSON.stringify({ visibility_timeout: 5, unacked_restore_interval: 1 });
    }
    const spec = { broker: brokerUrl, backend: backendUrl, queue, concurrency, env };
    const startWorker = async (): Promise<WorkerProcess> => {
      const w = await WorkerProcess.start(spec);
      w.onUnexpectedExit = (description) => {
        counts.unexpectedWorkerExits++;
        failures.push(`the worker died on its own: ${description.split('\n')[0]}`);
        log(`[chaos ${o.broker}] ${description}`);
        if (worker === w) worker = undefined; // the driver loop starts another
      };
      return w;
    };
    worker = await startWorker();

    const producers = runProducers(o, brokerUrl, queue, counterKey, n, log);
    const disruptions = plan(o.kills ?? 3, o.brokerRestarts ?? 1, o.connectionDrops ?? 1, random);
    const deadline = Date.now() + 120000 + n * 10;
    let executedAtLastDisruption = -1;
    const pending = new Set(ids);
    let producersDone = false;
    let producerError: Error | undefined;
    producers.then(
      (r) => {
        producersDone = true;
        counts.producerResends = r.resends;
      },
      (err: Error) => (producerError = err),
    );
    // The driver: watch progress (distinct ids executed), fire each disruption when its point is reached, until every
    // id has a result. A worker that died on its own is replaced so the accounting can finish.
    while (pending.size > 0 && Date.now() < deadline) {
      if (producerError) throw producerError;
      if (!worker) worker = await startWorker();
      const executed = await backend.hlen(counterKey);
      const next = disruptions[0];
      // Each disruption needs fresh progress since the last one, so that it hits a worker that is doing work.
      if (next && executed >= next.at * n && executed > executedAtLastDisruption) {
        disruptions.shift();
        await disrupt(next.kind);
        executedAtLastDisruption = (await backend.hlen(counterKey)) + Math.max(1, Math.floor(n / 100));
        continue;
      }
      if (executed >= n && producersDone) await collect(pending);
      await new Promise((r) => setTimeout(r, 20)); // progress is polled: the backend has no event for "n done"
    }
    await producers;
    if (disruptions.length > 0) failures.push(`${disruptions.length} disruption(s) not performed: the run finished first (${disruptions.map((d) => d.kind).join(', ')})`);

    async function disrupt(kind: Disruption): Promise<void> {
      const w = worker as WorkerProcess;
      if (kind === 'kill') {
        await w.kill();
        counts.kills++;
        log(`[chaos ${o.broker}] SIGKILL worker ${w.pid} at ${await backend.hlen(counterKey)}/${n}`);
        worker = await startWorker();
      } else if (kind === 'restart') {
        log(`[chaos ${o.broker}] restarting the broker at ${await backend.hlen(counterKey)}/${n}`);
        if (o.broker === 'amqp') await restartRabbit(1000);
        else await (brokerRedis as ThrowawayRedis).restart(1000);
        counts.brokerRestarts++;
      } else {
        const dropped = o.broker === 'amqp' ? await closeAmqpConnectionsOf(w.pid, 'chaos: connection drop') : (await killRedisConnectionsOf(brokerAdmin as Redis, w.pid)) + (await killRedisConnectionsOf(backend, w.pid));
        log(`[chaos ${o.broker}] dropped ${dropped} connection(s) of worker ${w.pid} at ${await backend.hlen(counterKey)}/${n}`);
        if (dropped > 0) counts.connectionDrops++;
        else failures.push('a connection drop found no connection of the worker');
      }
    }

    // Results are all in: wait for the broker side to drain (acks are batched; on Redis a killed worker's messages come
    // back after the visibility timeout and run again), then stop the worker warm and look again.
    let left = await leftOver();
    const drainDeadline = Date.now() + 30000;
    while ((left.ready > 0 || left.unacked > 0) && Date.now() < drainDeadline) {
      await new Promise((r) => setTimeout(r, 250)); // polled: no event for "queue empty"
      left = await leftOver();
    }
    if (worker) await worker.stop();
    worker = undefined;
    left = await leftOver();

    async function leftOver(): Promise<{ ready: number; unacked: number }> {
      if (o.broker === 'amqp') return (await amqpQueueDepth(queue)) ?? { ready: 0, unacked: 0 };
      const admin = brokerAdmin as Redis;
      const lists = [queue, ...[3, 6, 9].map((p) => `${queue}\x06\x16${p}`)];
      const ready = (await Promise.all(lists.map((k) => admin.llen(k)))).reduce((a, b) => a + b, 0);
      const unacked = Math.max(await admin.hlen('unacked'), await admin.zcard('unacked_index'));
      return { ready, unacked };
    }

    // The accounting, per id.
    const executions = await backend.hgetall(counterKey);
    let duplicates = 0;
    for (const id of ids) if (Number(executions[id] ?? 0) > 1) duplicates++;
    const { lost, wrong } = await verify(ids);
    const disruptionCount = counts.kills + counts.brokerRestarts + counts.connectionDrops;
    const duplicateBound = disruptionCount * prefetch;
    if (lost > 0) failures.push(`${lost} task(s) lost (no SUCCESS result)`);
    if (wrong > 0) failures.push(`${wrong} task(s) with a wrong result`);
    if (left.ready > 0) failures.push(`${left.ready} message(s) left in the queue`);
    if (left.unacked > 0) failures.push(`${left.unacked} message(s) left unacked`);
    if (duplicates > duplicateBound) failures.push(`${duplicates} duplicates exceed the ${duplicateBound} messages that can be in flight at ${disruptionCount} disruption(s)`);
    const report: ChaosReport = {
      broker: o.broker,
      tasks: n,
      ...counts,
      lost,
      wrong,
      duplicates,
      duplicateBound,
      leftInQueue: left.ready,
      leftUnacked: left.unacked,
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
      seed,
      brokerRestartMethod: o.broker === 'amqp' ? 'rabbitmqctl stop_app, 1 s down, start_app' : 'private redis-server (appendonly, fsync always): SHUTDOWN NOSAVE, 1 s down, relaunch',
      connectionDropMethod: o.broker === 'amqp' ? "rabbitmqctl close_connection on the worker's connections" : "CLIENT KILL of the worker's connections on the broker and backend Redis",
      ok: failures.length === 0,
      failures,
    };
    return report;
  } finally {
    await worker?.kill();
    if (o.broker === 'amqp') {
      await ensureRabbitRunning();
      await rabbitmqctl('delete_queue', queue).catch(() => undefined);
    }
    brokerAdmin?.disconnect();
    await brokerRedis?.stop();
    await cleanup(backend, ids, counterKey);
    backend.disconnect();
  }

  /** Drop ids whose SUCCESS is stored from `pending`. */
  async function collect(pending: Set<string>): Promise<void> {
    const batch = [...pending].slice(0, 2000);
    const metas = await backend.mget(batch.map((id) => META + id));
    batch.forEach((id, i) => {
      if (metas[i] && (JSON.parse(metas[i] as string) as { status: string }).status === 'SUCCESS') pending.delete(id);
    });
  }

  async function verify(all: string[]): Promise<{ lost: number; wrong: number }> {
    let lost = 0;
    let wrong = 0;
    for (let start = 0; start < all.length; start += 2000) {
      const batch = all.slice(start, start + 2000);
      const metas = await backend.mget(batch.map((id) => META + id));
      batch.forEach((id, i) => {
        const raw = metas[i];
        if (!raw) return void lost++;
        const meta = JSON.parse(raw) as { status: string; result: unknown };
        const index = Number(id.slice(id.lastIndexOf('-') + 1));
        if (meta.status !== 'SUCCESS') lost++;
        else if (meta.result !== 3 * index) wrong++;
      });
    }
    return { lost, wrong };
  }
}

async function cleanup(backend: Redis, ids: string[], counterKey: string): Promise<void> {
  for (let start = 0; start < ids.length; start += 2000) await backend.del(...ids.slice(start, start + 2000).map((id) => META + id));
  await backend.del(counterKey);
}

/** Start the Python producers, each sending a slice of the ids; resolves with the total resends once all exited 0. */
async function runProducers(o: ChaosOptions, brokerUrl: string, queue: string, counterKey: string, n: number, log: (line: string) => void): Promise<{ sent: number; resends: number }> {
  const count = Math.max(1, Math.min(o.producers ?? (o.broker === 'amqp' ? 4 : 2), n));
  const per = Math.ceil(n / count);
  const pace = o.paceSeconds ?? 20;
  const rate = pace > 0 ? per / pace : 0;
  const runs = Array.from({ length: count }, (_, k) => {
    const env = { ...process.env, CHAOS_BROKER: brokerUrl, CHAOS_QUEUE: queue, CHAOS_PREFIX: queue, CHAOS_COUNTER: counterKey, CHAOS_HOLD_MS: String(o.holdMs ?? 2), CHAOS_RATE: String(rate), CHAOS_START: String(k * per), CHAOS_END: String(Math.min(n, (k + 1) * per)) };
    const child = spawn(o.python ?? process.env.CELERIAC_PYTHON ?? '/usr/bin/python3', [path.join(ROOT, 'chaos', 'producer.py')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
    return new Promise<{ sent: number; resends: number }>((resolve, reject) => {
      child.once('exit', (code) => {
        if (code !== 0) return reject(new Error(`producer ${k} exited ${code}\n${err}`));
        if (err) log(`[chaos producer ${k}] ${err.trim().split('\n').slice(-2).join(' | ')}`);
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as { sent: number; resends: number });
      });
    });
  });
  const results = await Promise.all(runs);
  return results.reduce((a, r) => ({ sent: a.sent + r.sent, resends: a.resends + r.resends }), { sent: 0, resends: 0 });
}
