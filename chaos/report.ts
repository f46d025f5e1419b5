// The chaos and soak figures as a table for the terminal (and the README) and as JSON under chaos/results/.

import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ChaosReport } from './scenario';
import { ROOT } from './worker';

export const RESULTS_DIR = path.join(ROOT, 'chaos', 'results');

/** A Markdown table, one row per broker. */
export function chaosTable(reports: ChaosReport[]): string {
  const head = ['broker', 'tasks', 'kills', 'broker restarts', 'connection drops', 'lost', 'wrong', 'duplicates', 'left in queue', 'left unacked', 'wall time', 'result'];
  const rows = reports.map((r) => [
    r.broker === 'amqp' ? 'RabbitMQ' : 'Redis',
    String(r.tasks),
    String(r.kills),
    String(r.brokerRestarts),
    String(r.connectionDrops),
    String(r.lost),
    String(r.wrong),
    `${r.duplicates} (≤ ${r.duplicateBound})`,
    String(r.leftInQueue),
    String(r.leftUnacked),
    `${r.wallSeconds} s`,
    r.ok ? 'pass' : 'FAIL',
  ]);
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Write `<name>.json` under chaos/results/ and return its path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
