// How transports reach their servers, with Celery's settings: TLS (`broker_use_ssl`, `redis_backend_use_ssl`, the
// `ssl_*` URL parameters), failover URL lists (`a;b`, `broker_failover_strategy`) and Redis Sentinel addresses.

import * as fs from 'node:fs';
import { ConfigurationError } from './config';
import { maskUrl } from './url';

/** The TLS socket options both amqplib and ioredis pass to `tls.connect`. */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** False only for Python's CERT_NONE: the server's certificate is then not checked at all. */
  rejectUnauthorized: boolean;
  servername?: string;
}

/** A `*_use_ssl` setting as Celery takes it: off, on with the system CAs, or a dict of ssl options. */
export type SslSetting = boolean | Record<string, unknown> | null;

export type FailoverStrategy = 'round-robin' | 'shuffle';

/** Python's ssl.CERT_* in any of the spellings Celery, kombu and redis-py accept. */
function certRequired(value: unknown, source: string): boolean {
  const s = String(value).trim().toLowerCase().replace(/^(ssl\.)?cert_/, '');
  if (s === 'none' || s === '0') return false;
  // CERT_OPTIONAL checks a certificate when one is presented, and a TLS server always presents one.
  if (s === 'optional' || s === '1' || s === 'required' || s === '2') return true;
  throw new ConfigurationError(`${source}: cert_reqs must be CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED, got ${JSON.stringify(value)}`);
}

function readPem(path: unknown, what: string, source: string): Buffer {
  if (typeof path !== 'string' || path === '') throw new ConfigurationError(`${source}: ${what} must be a file path`);
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw new ConfigurationError(`${source}: cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * TLS options from a Celery ssl dict. Both spellings are read: py-amqp's (`ca_certs`, `certfile`, `keyfile`,
 * `cert_reqs`, `server_hostname`) and redis-py's (`ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs`).
 */
export function tlsFromSsl(ssl: Record<string, unknown>, source: string): TlsOptions {
  const get = (name: string): unknown => ssl[`ssl_${name}`] ?? ssl[name];
  const out: TlsOptions = { rejectUnauthorized: true };
  const reqs = get('cert_reqs');
  if (reqs !== undefined && reqs !== null) out.rejectUnauthorized = certRequired(reqs, source);
  const ca = get('ca_certs');
  if (ca) out.ca = readPem(ca, 'ca_certs', source);
  const cert = get('certfile');
  if (cert) out.cert = readPem(cert, 'certfile', source);
  const key = get('keyfile');
  if (key) out.key = readPem(key, 'keyfile', source);
  const servername = get('server_hostname');
  if (typeof servername === 'string' && servername) out.servername = servername;
  return out;
}

/** TLS options for a setting, or undefined when the setting asks for none. */
export function tlsFromSetting(ssl: SslSetting | undefined, source: string): TlsOptions | undefined {
  if (ssl === null || ssl === undefined || ssl === false) return undefined;
  if (ssl === true) return { rejectUnauthorized: true };
  return tlsFromSsl(ssl, source);
}

const REDIS_SSL_PARAMS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_check_hostname'];

/** A Redis URL without redis-py's `ssl_*` query parameters, and those parameters as a dict. */
export function splitRedisSslParams(url: string): { url: string; params: Record<string, string> } {
  const q = url.indexOf('?');
  if (q === -1) return { url, params: {} };
  const search = new URLSearchParams(url.slice(q + 1));
  const params: Record<string, string> = {};
  for (const name of REDIS_SSL_PARAMS) {
    const v = search.get(name);
    if (v !== null) params[name] = v;
    search.delete(name);
  }
  const rest = search.toString();
  return { url: url.slice(0, q) + (rest ? `?${rest}` : ''), params };
}

/**
 * The TLS options for a Redis URL: `rediss://`, or any URL with a `*_use_ssl` setting, uses TLS; the URL's `ssl_*`
 * parameters override the setting's, as in Celery's Redis backend.
 */
export function redisTls(url: string, setting: SslSetting | undefined, source: string): TlsOptions | undefined {
  const { params } = splitRedisSslParams(url);
  const secure = /^rediss:/i.test(url) || (setting !== null && setting !== undefined && setting !== false) || Object.keys(params).length > 0;
  if (!secure) return undefined;
  const fromSetting = typeof setting === 'object' && setting !== null ? setting : {};
  return tlsFromSsl({ ...fromSetting, ...params }, `${source} (${maskUrl(url)})`);
}

/** Shuffle-free pick of a random index other than `current` (kombu's 'shuffle' picks at random each time). */
function otherIndex(current: number, size: number, random: () => number): number {
  if (size < 2) return 0;
  const step = 1 + Math.floor(random() * (size - 1));
  return (current + step) % size;
}

/** The failover URL list of a connection: which URL to use now, and which next after a failure or a drop. */
export class FailoverUrls {
  readonly urls: readonly string[];
  private index = 0;

  constructor(
    urls: string | readonly string[],
    readonly strategy: FailoverStrategy = 'round-robin',
    private readonly random: () => number = Math.random,
  ) {
    this.urls = (typeof urls === 'string' ? splitUrlList(urls) : urls.flatMap(splitUrlList));
    if (this.urls.length === 0) throw new ConfigurationError('the broker URL list is empty');
    if (strategy !== 'round-robin' && strategy !== 'shuffle') {
      throw new ConfigurationError(`broker_failover_strategy must be 'round-robin' or 'shuffle', got ${JSON.stringify(strategy)}`);
    }
  }

  get current(): string {
    return this.urls[this.index];
  }

  get size(): number {
    return this.urls.length;
  }

  /** Move on to the next URL (after a failed connect or a dropped connection) and return it. */
  advance(): string {
    this.index = this.strategy === 'shuffle' ? otherIndex(this.index, this.urls.length, this.random) : (this.index + 1) % this.urls.length;
    return this.current;
  }

  /** Every URL, masked, for messages. */
  get display(): string {
    return this.urls.map(maskUrl).join(';');
  }
}

/** `a;b` (Celery's failover list) as its URLs. */
export function splitUrlList(urls: string): string[] {
  return urls.split(';').map((u) => u.trim()).filter(Boolean);
}

/** A broker URL setting that may be a JS array (as Celery accepts a list) as one `;`-separated string. */
export function joinUrlList(urls: string | readonly string[]): string {
  return typeof urls === 'string' ? urls : urls.join(';');
}

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface SentinelTarget {
  sentinels: SentinelAddress[];
  /** The monitored master's name (transport option `master_name`). */
  name: string;
  db: number;
  username?: string;
  password?: string;
  /** `sentinel_kwargs`: how to authenticate to the sentinels themselves. */
  sentinelUsername?: string;
  sentinelPassword?: string;
}

/**
 * kombu's Sentinel URL list, `sentinel://[:password@]host:26379[/db];sentinel://host2:26379`, with transport options
 * `master_name` (required) and `sentinel_kwargs`. The password and db of the first URL that has them apply to the master.
 */
export function parseSentinel(urls: string, transportOptions: Record<string, unknown>, source: string): SentinelTarget {
  const name = transportOptions.master_name;
  if (typeof name !== 'string' || name === '') {
    throw new ConfigurationError(`${source}: a sentinel:// URL needs transport option master_name (e.g. {"master_name": "mymaster"})`);
  }
  const target: SentinelTarget = { sentinels: [], name, db: 0 };
  for (const raw of splitUrlList(urls)) {
    let u: URL;
    try {
      u = new URL(raw.replace(/^sentinel:/i, 'redis:'));
    } catch {
      throw new ConfigurationError(`${source}: cannot read sentinel URL ${maskUrl(raw)}`);
    }
    target.sentinels.push({ host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : 26379 });
    if (u.password && target.password === undefined) {
      target.password = decodeURIComponent(u.password);
      if (u.username) target.username = decodeURIComponent(u.username);
    }
    const db = /^\/(\d+)/.exec(u.pathname);
    if (db && target.db === 0) target.db = Number(db[1]);
  }
  const kwargs = transportOptions.sentinel_kwargs;
  if (kwargs && typeof kwargs === 'object') {
    const k = kwargs as Record<string, unknown>;
    if (typeof k.password === 'string') target.sentinelPassword = k.password;
    if (typeof k.username === 'string') target.sentinelUsername = k.username;
  }
  return target;
}

/** True for an error from the TLS handshake or certificate check (as opposed to a refused or timed-out socket). */
export function isTlsError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  return /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL|HOSTNAME|EPROTO/.test(code) ||
    /certificate|self[- ]signed|SSL routines|wrong version number/i.test(typeof e?.message === 'string' ? e.message : '');
}

/** What to check when a connection fails: the certificates for a TLS error, the server otherwise. */
export function connectHint(err: unknown, server: string): string {
  if (isTlsError(err)) return 'The TLS handshake failed: check the CA the server certificate is signed by (ca_certs / ssl_ca_certs), the client certificate and key, and cert_reqs.';
  return server;
}
