// What `celeriac events` shows: workers (alive by heartbeat, as celery.events.state), tasks per second, and per
// task name the counts by state and the runtime and queue-wait latencies.

import type { ReceivedEvent } from './receiver';

export interface WorkerView {
  hostname: string;
  alive: boolean;
  lastHeartbeat: number;
  freq: number;
  active: number | null;
  processed: number | null;
  loadavg: number[] | null;
  software: string;
}

export interface TaskStats {
  name: string;
  received: number;
  started: number;
  succeeded: number;
  failed: number;
  retried: number;
  revoked: number;
  rejected: number;
  runtimes: number[];
  waits: number[];
}

const WINDOW = 10; // seconds over which tasks/s is averaged
const KEEP = 1000; // latencies kept per task name for the percentiles

export class EventsState {
  readonly workers = new Map<string, WorkerView>();
  readonly tasks = new Map<string, TaskStats>();
  /** task uuid → name and received time, to name later events (task-started etc. carry only the uuid). */
  private readonly byId = new Map<string, { name: string; received: number | null }>();
  private readonly finishedAt: number[] = [];
  eventCount = 0;

  event(e: ReceivedEvent): void {
    this.eventCount++;
    const type = e.type;
    const hostname = String(e.hostname ?? '');
    if (type.startsWith('worker-')) {
      const w = this.workers.get(hostname) ?? { hostname, alive: false, lastHeartbeat: 0, freq: 2, active: null, processed: null, loadavg: null, software: '' };
      w.freq = typeof e.freq === 'number' ? e.freq : w.freq;
      if (typeof e.active === 'number') w.active = e.active;
      if (typeof e.processed === 'number') w.processed = e.processed;
      if (Array.isArray(e.loadavg)) w.loadavg = e.loadavg as number[];
      if (e.sw_ident) w.software = `${String(e.sw_ident)} ${String(e.sw_ver ?? '')}`.trim();
      w.lastHeartbeat = e.local_received;
      w.alive = type !== 'worker-offline';
      this.workers.set(hostname, w);
      return;
    }
    if (!type.startsWith('task-')) return;
    const uuid = String(e.uuid ?? '');
    let known = this.byId.get(uuid);
    if (typeof e.name === 'string') {
      known = { name: e.name, received: known?.received ?? null };
      this.byId.set(uuid, known);
    }
    const name = known?.name ?? '(unknown)';
    const t = this.tasks.get(name) ?? { name, received: 0, started: 0, succeeded: 0, failed: 0, retried: 0, revoked: 0, rejected: 0, runtimes: [], waits: [] };
    this.tasks.set(name, t);
    const ts = typeof e.timestamp === 'number' ? e.timestamp : e.local_received;
    switch (type) {
      case 'task-received':
        t.received++;
        if (known) known.received = ts;
        break;
      case 'task-started':
        t.started++;
        if (known?.received != null) push(t.waits, Math.max(0, ts - known.received));
        break;
      case 'task-succeeded':
        t.succeeded++;
        if (typeof e.runtime === 'number') push(t.runtimes, e.runtime);
        this.finished(e.local_received, uuid);
        break;
      case 'task-failed':
        t.failed++;
        this.finished(e.local_received, uuid);
        break;
      case 'task-retried':
        t.retried++;
        break;
      case 'task-revoked':
        t.revoked++;
        this.finished(e.local_received, uuid);
        break;
      case 'task-rejected':
        t.rejected++;
        this.finished(e.local_received, uuid);
        break;
    }
  }

  private finished(at: number, uuid: string): void {
    this.finishedAt.push(at);
    this.byId.delete(uuid);
    while (this.finishedAt.length > 0 && this.finishedAt[0] < at - WINDOW) this.finishedAt.shift();
  }

  /** Tasks finished per second over the last 10 s. */
  rate(now = Date.now() / 1000): number {
    const recent = this.finishedAt.filter((t) => t >= now - WINDOW).length;
    return recent / WINDOW;
  }

  /** Refresh liveness: offline once `timestamp + freq × 2` passed without a heartbeat (Celery's rule, roughly). */
  tick(now = Date.now() / 1000): void {
    for (const w of this.workers.values()) if (w.alive && now > w.lastHeartbeat + w.freq * 2 + 1) w.alive = false;
  }
}

function push(list: number[], v: number): void {
  list.push(v);
  if (list.length > KEEP) list.shift();
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function ms(v: number | null): string {
  if (v === null) return '-';
  return v < 1 ? `${(v * 1000).toFixed(1)}ms` : `${v.toFixed(2)}s`;
}

/** The live view as text lines. */
export function renderState(state: EventsState, now = Date.now() / 1000): string {
  state.tick(now);
  const lines: string[] = [];
  lines.push(`celeriac events — ${new Date(now * 1000).toISOString().replace('T', ' ').slice(0, 19)} — ${state.rate(now).toFixed(1)} tasks/s — ${state.eventCount} events`);
  lines.push('');
  lines.push('WORKERS');
  if (state.workers.size === 0) lines.push('  (none seen yet)');
  for (const w of [...state.workers.values()].sort((a, b) => a.hostname.localeCompare(b.hostname))) {
    const load = w.loadavg ? w.loadavg.map((x) => x.toFixed(2)).join(' ') : '-';
    lines.push(`  ${w.alive ? 'ONLINE ' : 'OFFLINE'} ${w.hostname}  active=${w.active ?? '-'} processed=${w.processed ?? '-'} load=${load}  ${w.software}`);
  }
  lines.push('');
  lines.push('TASKS');
  const header = `  ${'name'.padEnd(28)} ${'recv'.padStart(6)} ${'start'.padStart(6)} ${'ok'.padStart(6)} ${'fail'.padStart(5)} ${'retry'.padStart(5)} ${'revkd'.padStart(5)}  ${'run p50'.padStart(8)} ${'run p95'.padStart(8)} ${'wait p50'.padStart(8)} ${'wait p95'.padStart(8)}`;
  lines.push(header);
  if (state.tasks.size === 0) lines.push('  (no task events yet: start the worker with -E, or `celeriac control enable_events`)');
  for (const t of [...state.tasks.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push(
      `  ${t.name.slice(0, 28).padEnd(28)} ${String(t.received).padStart(6)} ${String(t.started).padStart(6)} ${String(t.succeeded).padStart(6)} ${String(t.failed).padStart(5)} ${String(t.retried).padStart(5)} ${String(t.revoked).padStart(5)}  ` +
        `${ms(percentile(t.runtimes, 50)).padStart(8)} ${ms(percentile(t.runtimes, 95)).padStart(8)} ${ms(percentile(t.waits, 50)).padStart(8)} ${ms(percentile(t.waits, 95)).padStart(8)}`,
    );
  }
  return lines.join('\n');
}
