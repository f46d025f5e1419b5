// What the inspect commands report, shaped as a Python worker reports it: request info, queue dicts, the censored
// settings table, broker and rusage details for `stats`, and the small parsers (signals, rates) the commands share.

import * as os from 'node:os';
import type { Celery } from '../app';
import type { QueueSpec } from '../brokers/broker';
import { resolveSettings, snakeName, type CelerySettings } from '../config';
import { maskSecrets, splitUrls } from '../url';
import type { Request } from '../worker/request';

/** Celery's Request.info(): what inspect active/reserved/scheduled/query_task show for a request. */
export function requestInfo(request: Request, hostname: string, safe = false, running = false): Record<string, unknown> {
  const d = request.data;
  return {
    id: d.id,
    name: d.task,
    // A parked request (held for an ETA, message left to the broker) has only its reprs at hand.
    args: safe || request.isParked ? d.argsrepr : d.args,
    kwargs: safe || request.isParked ? d.kwargsrepr : d.kwargs,
    type: d.task,
    hostname,
    time_start: running && request.startedAt ? request.startedAt / 1000 : null,
    acknowledged: request.acknowledged,
    delivery_info: { exchange: request.delivery.exchange, routing_key: request.delivery.routingKey, priority: request.delivery.priority, redelivered: request.delivery.redelivered || null },
    worker_pid: running ? process.pid : null,
  };
}

const SIGNALS = os.constants.signals as Record<string, number>;

/** billiard's signum(): `TERM`, `SIGTERM`, `15` → 15. */
export function signum(signal: unknown): number {
  if (typeof signal === 'number') return signal;
  if (typeof signal === 'string' && signal !== '') {
    if (/^\d+$/.test(signal)) return Number(signal);
    const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
    if (name in SIGNALS) return SIGNALS[name];
    throw new TypeError(`Unknown signal: ${signal}`);
  }
  return SIGNALS.SIGTERM;
}


/** Celery's rate(): `10`, `10/s`, `100/m`, `1000/h`; throws on anything else. */
export function parseRate(value: unknown): number {
  if (typeof value === 'number') return value;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(?:\/\s*([smh]))?\s*$/.exec(String(value));
  if (!m) throw new Error(`could not convert string to float: '${String(value)}'`);
  const n = Number(m[1]);
  return m[2] === 'm' ? n / 60 : m[2] === 'h' ? n / 3600 : n;
}

/** kombu's Queue.as_dict(recurse=True) for a queue spec, as `inspect active_queues` shows it. */
export function queueAsDict(q: QueueSpec): Record<string, unknown> {
  const args = Object.keys(q.arguments).length > 0 ? q.arguments : null;
  return {
    name: q.name,
    exchange: { name: q.exchange, type: q.exchangeType, arguments: null, durable: q.durable, passive: false, auto_delete: false, delivery_mode: null, no_declare: false },
    routing_key: q.routingKey,
    queue_arguments: args,
    binding_arguments: null,
    consumer_arguments: null,
    durable: q.durable,
    exclusive: false,
    auto_delete: q.autoDelete,
    no_ack: false,
    alias: null,
    bindings: [],
    no_declare: null,
    expires: null,
    message_ttl: null,
    max_length: null,
    max_length_bytes: null,
    max_priority: null,
  };
}

const HIDDEN_SETTINGS = /API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE/i;

/** `inspect conf`: settings in Celery's snake_case names, secrets censored as Celery's filter_hidden_settings. */
export function confTable(conf: CelerySettings, withDefaults: boolean): Record<string, unknown> {
  const defaults = resolveSettings({}, {}) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(conf as unknown as Record<string, unknown>)) {
    if (!withDefaults && JSON.stringify(value) === JSON.stringify(defaults[key])) continue;
    const name = snakeName(key);
    out[name] = censor(name, value);
  }
  return out;
}

/** Celery's maybe_censor: dicts are filtered key by key (sentinel_kwargs' password, broker_use_ssl's keyfile), URLs masked. */
function censor(name: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, censor(k, v)]));
  }
  if (HIDDEN_SETTINGS.test(name)) return '********';
  if (typeof value === 'string') return maskSecrets(value).replace(/:\*\*@/g, ':********@');
  return value;
}

export function brokerInfo(app: Celery): Record<string, unknown> {
  let u: URL | undefined;
  try {
    u = new URL(app.conf.brokerUrl.split(';')[0]);
  } catch {
    u = undefined;
  }
  const transport = app.broker.transport;
  const path = u ? decodeURIComponent(u.pathname.replace(/^\//, '')) : '';
  return {
    hostname: u?.hostname ?? null,
    userid: u?.username ? decodeURIComponent(u.username) : null,
    virtual_host: transport === 'amqp' ? path || '/' : path || '0',
    port: u?.port ? Number(u.port) : transport === 'amqp' ? 5672 : transport === 'redis' ? 6379 : null,
    insist: false,
    ssl: (!!u && /^(amqps|rediss):$/.test(u.protocol)) || !!app.conf.brokerUseSsl,
    transport,
    connect_timeout: app.conf.brokerConnectionTimeout,
    transport_options: censor('transport_options', app.conf.brokerTransportOptions),
    login_method: null,
    uri_prefix: null,
    heartbeat: app.conf.brokerHeartbeat,
    failover_strategy: app.conf.brokerFailoverStrategy,
    alternates: splitUrls(app.conf.brokerUrl).slice(1).map((url) => censor('alternate', url)),
  };
}

export function rusage(): Record<string, number> {
  const r = process.resourceUsage();
  return {
    utime: r.userCPUTime / 1e6,
    stime: r.systemCPUTime / 1e6,
    maxrss: r.maxRSS,
    ixrss: r.sharedMemorySize,
    idrss: r.unsharedDataSize,
    isrss: r.unsharedStackSize,
    minflt: r.minorPageFault,
    majflt: r.majorPageFault,
    nswap: r.swappedOut,
    inblock: r.fsRead,
    oublock: r.fsWrite,
    msgsnd: r.ipcSent,
    msgrcv: r.ipcReceived,
    nsignals: r.signalsCount,
    nvcsw: r.voluntaryContextSwitches,
    nivcsw: r.involuntaryContextSwitches,
  };
}

export interface PoolStatsLike {
  maxConcurrency: number;
  processes: number[];
}

/** The threads/processes pool's own numbers when the executor has them (`stats()`, or the router's primary's). */
export function poolStats(executor: unknown): PoolStatsLike | null {
  const e = executor as { stats?: () => PoolStatsLike; primary?: { stats?: () => PoolStatsLike } } | null;
  try {
    const s = e?.stats?.() ?? e?.primary?.stats?.();
    return s && Array.isArray(s.processes) ? s : null;
  } catch {
    return null;
  }
}
