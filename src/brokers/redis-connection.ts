// Opening ioredis clients for the Redis transport, backend and broadcasts: one URL or a failover list, TLS
// (`rediss://`, `*_use_ssl`, `ssl_*` URL parameters) or Redis Sentinel, with every URL masked in what is logged.

import { Redis, type RedisOptions } from 'ioredis';
import { connectHint, FailoverUrls, parseSentinel, redisTls, splitRedisSslParams, tlsFromSetting, type FailoverStrategy, type SslSetting } from '../connections';
import { ConfigurationError } from '../config';
import { BrokerConnectionError } from '../errors';
import type { Logger } from '../log';
import { maskUrl } from '../url';

/** Where a Redis client connects: a URL (or `a;b` list, or `sentinel://` list) with the settings that qualify it. */
export interface RedisEndpoint {
  url: string;
  /** `broker_use_ssl` or `redis_backend_use_ssl`. */
  ssl?: SslSetting;
  /** The setting's name, for messages. */
  sslSetting?: string;
  /** `broker_transport_options` / `result_backend_transport_options`: `master_name` and `sentinel_kwargs` for Sentinel. */
  transportOptions?: Record<string, unknown>;
  failoverStrategy?: FailoverStrategy;
}

/** The connection options for one redis:// or rediss:// URL. */
export function redisUrlOptions(url: string, ssl: SslSetting | undefined, sslSetting: string): RedisOptions {
  const { url: bare } = splitRedisSslParams(url);
  let u: URL;
  try {
    u = new URL(bare);
  } catch {
    throw new ConfigurationError(`cannot read Redis URL ${maskUrl(url)} (expected redis://[:password@]host:6379/db)`);
  }
  const options: RedisOptions = { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : 6379 };
  if (u.username) options.username = decodeURIComponent(u.username);
  if (u.password) options.password = decodeURIComponent(u.password);
  const db = /^\/(\d+)/.exec(u.pathname);
  options.db = db ? Number(db[1]) : 0;
  const tls = redisTls(url, ssl, sslSetting);
  // ioredis reuses the options object on reconnect: a failover moves a client by swapping these fields, tls included.
  options.tls = tls;
  return options;
}

function isSentinel(url: string): boolean {
  return /^sentinel:/i.test(url.trim());
}

/** Connect an ioredis client: the first failure is one clear error naming the masked URL; later drops reconnect with backoff. */
export async function connectRedis(endpoint: string | RedisEndpoint, what: string, logger: Logger): Promise<Redis> {
  const spec: RedisEndpoint = typeof endpoint === 'string' ? { url: endpoint } : endpoint;
  const sslSetting = spec.sslSetting ?? 'broker_use_ssl';
  let connected = false;
  let client: Redis | undefined;
  const sentinel = isSentinel(spec.url);
  const urls = new FailoverUrls(spec.url, spec.failoverStrategy ?? 'round-robin');
  const base: RedisOptions = {
    lazyConnect: true,
    enableAutoPipelining: true,
    maxRetriesPerRequest: null,
    connectTimeout: 4000,
    // CLIENT LIST shows who is who (and lets an operator, or the chaos suite, drop exactly these connections).
    connectionName: `celeriac:${what.replace(/[^a-z]+/gi, '-').replace(/^-|-$/g, '')}:${process.pid}`,
    retryStrategy(times: number) {
      if (!connected) return null; // the first connect reports its error instead of retrying silently
      if (!sentinel && urls.size > 1 && client) {
        // Celery moves on to the next URL of a failover list after a drop.
        const from = urls.current;
        // Credentials the next URL does not set are cleared, so the old server's are not sent to it.
        Object.assign(client.options, { username: undefined, password: undefined }, redisUrlOptions(urls.advance(), spec.ssl, sslSetting));
        if (times === 1) logger.warning(`${what}: connection to ${maskUrl(from)} lost; reconnecting to ${maskUrl(urls.current)}`);
      } else if (times === 1) logger.warning(`${what}: connection to ${sentinel ? urls.display : maskUrl(urls.current)} lost; reconnecting`);
      return Math.min(100 * 2 ** Math.min(times, 6), 5000);
    },
  };
  if (sentinel) {
    const target = parseSentinel(spec.url, spec.transportOptions ?? {}, what);
    const tls = tlsFromSetting(spec.ssl, sslSetting);
    const options: RedisOptions = {
      ...base,
      sentinels: target.sentinels,
      name: target.name,
      db: target.db,
      username: target.username,
      password: target.password,
      sentinelUsername: target.sentinelUsername,
      sentinelPassword: target.sentinelPassword,
      tls,
      // ioredis uses `tls` for the master only with this flag (the sentinels themselves are asked in plain text).
      enableTLSForSentinelMode: tls !== undefined,
      // Without this, unreachable sentinels are retried forever and the first connect never reports them.
      sentinelRetryStrategy: (times: number) => (connected ? Math.min(100 * 2 ** Math.min(times, 6), 5000) : null),
    };
    return open(options, urls.display, spec.url);
  }
  let lastError: unknown;
  for (let i = 0; i < urls.size; i++) {
    if (i > 0) urls.advance();
    try {
      return await open({ ...base, ...redisUrlOptions(urls.current, spec.ssl, sslSetting) }, maskUrl(urls.current), urls.current);
    } catch (err) {
      lastError = err;
      if (urls.size > 1) logger.warning(`${what}: ${(err as Error).message}`);
    }
  }
  if (urls.size > 1) throw new BrokerConnectionError(`Cannot connect to ${what} at any of ${urls.display}; the last error: ${(lastError as Error).message}`);
  throw lastError;

  async function open(options: RedisOptions, display: string, url: string): Promise<Redis> {
    const c = new Redis(options);
    // ioredis rejects connect() with a bare "Connection is closed." and emits the cause (e.g. a certificate error) here.
    let cause: Error | undefined;
    c.on('error', (err: Error) => {
      cause ??= err;
      logger.debug(`${what}: ${display}: ${err.message}`);
    });
    try {
      await c.connect();
    } catch (thrown) {
      c.disconnect();
      const err = cause ?? thrown;
      throw new BrokerConnectionError(
        `Cannot connect to ${what} at ${display}: ${(err as Error).message.replace(/\.$/, '')}. ` +
          connectHint(err, sentinel ? 'Are the sentinels running, and is master_name right?' : 'Is Redis running? Start one with `redis-server` or `docker compose up -d redis`.'),
      );
    }
    client = c;
    connected = true;
    const log = urls.size > 1 || sentinel ? logger.info.bind(logger) : logger.debug.bind(logger);
    log(`${what}: connected to ${sentinel ? `master ${JSON.stringify(options.name)} through ${display}` : maskUrl(url)}`);
    return c;
  }
}
