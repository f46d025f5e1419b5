// What every workload gets: options, services, progress, a scratch dir for logs, unique queue names, and a
// cached bare producer per broker (used to pre-fill queues).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { bareProducer, type BareProducer } from '../producers/bare';
import type { BenchOptions } from './options';
import type { Progress } from './progress';
import type { BrokerName, Services } from './services';

export interface Ctx {
  root: string;
  opts: BenchOptions;
  services: Services;
  progress: Progress;
  /** bench/results/tmp/<stamp>: worker logs of this invocation. */
  tmpDir: string;
  /** A fresh queue name for one run; remembered until `cleanup`. */
  queueName(workload: string, impl: string, broker: BrokerName): string;
  /** Delete the run's queue and FLUSHDB the bench DB. */
  cleanup(broker: BrokerName, queue: string): Promise<void>;
  /** Queues created and not yet cleaned up (for CTRL-C). */
  openQueues: Map<string, BrokerName>;
  logFile(queue: string, impl: string): string;
  producer(b: BrokerName): Promise<BareProducer>;
  close(): Promise<void>;
}

export function createContext(root: string, opts: BenchOptions, services: Services, progress: Progress): Ctx {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const tmpDir = path.join(opts.outDir, 'tmp', stamp);
  fs.mkdirSync(tmpDir, { recursive: true });
  // Keep the logs of the last few invocations only.
  const old = fs.readdirSync(path.dirname(tmpDir)).filter((d) => /^\d{8}T\d{6}$/.test(d)).sort().slice(0, -5);
  for (const d of old) fs.rmSync(path.join(path.dirname(tmpDir), d), { recursive: true, force: true });
  const producers = new Map<BrokerName, Promise<BareProducer>>();
  let seq = 0;
  const openQueues = new Map<string, BrokerName>();
  return {
    openQueues,
    root,
    opts,
    services,
    progress,
    tmpDir,
    queueName(workload, impl, broker) {
      const q = `bench-${workload}-${impl.replace(/[^a-z0-9]+/gi, '').slice(0, 12)}-${stamp}-${process.pid}-${++seq}`;
      openQueues.set(q, broker);
      return q;
    },
    async cleanup(broker, queue) {
      await services.cleanup(broker, queue);
      openQueues.delete(queue);
    },
    logFile: (queue, impl) => path.join(tmpDir, `${queue}.${impl.replace(/[^a-z0-9]+/gi, '_')}.log`),
    producer(b) {
      let p = producers.get(b);
      if (!p) {
        p = bareProducer(services.brokerUrl(b), true);
        producers.set(b, p);
      }
      return p;
    },
    async close() {
      for (const p of producers.values()) await (await p).close().catch(() => undefined);
      producers.clear();
    },
  };
}
