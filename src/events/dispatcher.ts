// Sends Celery events (celery.events.EventDispatcher): each event carries hostname, utcoffset, pid, clock, timestamp
// and type; it goes to the `celeryev` exchange with routing key `task.succeeded` etc., transient, header hostname.

import * as os from 'node:os';
import { jsonMessage, type BroadcastTransport } from '../control/transport';
import { silentLogger, type Logger } from '../log';
import { LamportClock } from './clock';

export const EVENT_EXCHANGE = 'celeryev';

/** An event as it is on the wire: a plain JSON object. */
export type CeleryEvent = Record<string, unknown> & { type: string; hostname: string; timestamp: number; clock: number | null };

/** `time.timezone // 3600` (or altzone in DST), as Celery's utcoffset(): whole hours, positive west of UTC. */
export function utcoffset(now = new Date()): number {
  return Math.floor(now.getTimezoneOffset() / 60);
}

/** The event's group: `task` for `task-sent`, `worker` for `worker-heartbeat`. */
export function groupOf(type: string): string {
  return type.split('-', 1)[0];
}

export interface DispatcherOptions {
  hostname: string;
  clock?: LamportClock;
  /** Groups to send (`task`, `worker`); empty = all, as Celery's `groups=None`. */
  groups?: Iterable<string>;
  logger?: Logger;
  exchange?: string;
}

export class EventDispatcher {
  readonly hostname: string;
  readonly clock: LamportClock;
  readonly groups: Set<string>;
  readonly pid = process.pid;
  enabled = true;
  private readonly logger: Logger;
  private readonly exchange: string;
  private failures = 0;

  constructor(
    private readonly transport: BroadcastTransport,
    options: DispatcherOptions,
  ) {
    this.hostname = options.hostname;
    this.clock = options.clock ?? new LamportClock();
    this.groups = new Set(options.groups ?? []);
    this.logger = options.logger ?? silentLogger;
    this.exchange = options.exchange ?? EVENT_EXCHANGE;
  }

  /** Build the event dict in Celery's field order (common fields, then the event's, then timestamp and type). */
  event(type: string, fields: Record<string, unknown>): CeleryEvent {
    return {
      hostname: this.hostname,
      utcoffset: utcoffset(),
      pid: this.pid,
      clock: this.clock.forward(),
      ...fields,
      timestamp: Date.now() / 1000,
      type,
    } as CeleryEvent;
  }

  /** True if an event of this type would be sent. */
  wants(type: string): boolean {
    return this.enabled && (this.groups.size === 0 || this.groups.has(groupOf(type)));
  }

  /** Send one event; failures are logged (once per outage) and never reach the caller, as events are best effort. */
  async send(type: string, fields: Record<string, unknown> = {}): Promise<void> {
    if (!this.wants(type)) return;
    await this.publish(this.event(type, fields), type.replace(/-/g, '.'));
  }

  /** Publish a prepared event (or a list of them, with routing key `<group>.multi`). */
  async publish(body: CeleryEvent | CeleryEvent[], routingKey: string): Promise<void> {
    try {
      await this.transport.broadcast(this.exchange, 'topic', true, routingKey, jsonMessage(body, { hostname: this.hostname }, 1));
      if (this.failures > 0) this.logger.info(`events: sending again after ${this.failures} failure(s)`);
      this.failures = 0;
    } catch (err) {
      if (this.failures++ === 0) this.logger.warning(`events: cannot send ${routingKey}: ${(err as Error).message}`);
    }
  }
}

/** The `sw_*` fields of worker events (Celery's SOFTWARE_INFO). */
export function softwareInfo(version: string): { sw_ident: string; sw_ver: string; sw_sys: string } {
  return { sw_ident: 'celeriac', sw_ver: version, sw_sys: os.type() };
}

/** Celery's load_average(): the 1/5/15 minute load, rounded to 2 places. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = os.loadavg();
  return [round2(a), round2(b), round2(c)];
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** celeriac's version (package.json), for sw_ver and `stats`. */
export function celeriacVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'celeriac' && pkg.version) return pkg.version;
    } catch {
      // try the next layout (source vs dist)
    }
  }
  return '0.0.0';
}
