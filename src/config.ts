// Settings with Celery's names: camelCase in TypeScript, Celery's snake_case in config files and `CELERY_*` env vars.
// One table says each setting's type and default, so code, files and the environment are read the same way.

export interface CelerySettings {
  brokerUrl: string;
  resultBackend: string | null;
  resultExpires: number | null;
  resultExtended: boolean;
  resultPersistent: boolean;
  taskDefaultQueue: string;
  taskDefaultExchange: string | null;
  taskDefaultExchangeType: string;
  taskDefaultRoutingKey: string | null;
  taskDefaultPriority: number | null;
  taskDefaultDeliveryMode: 'persistent' | 'transient' | number;
  taskQueueMaxPriority: number | null;
  taskCreateMissingQueues: boolean;
  taskRoutes: Record<string, string | { queue?: string; priority?: number }>;
  taskAcksLate: boolean;
  taskAcksOnFailureOrTimeout: boolean;
  taskRejectOnWorkerLost: boolean;
  taskTrackStarted: boolean;
  taskIgnoreResult: boolean;
  taskStoreErrorsEvenIfIgnored: boolean;
  taskTimeLimit: number | null;
  taskSoftTimeLimit: number | null;
  taskDefaultRateLimit: string | null;
  taskSerializer: string;
  taskCompression: string | null;
  taskSendSentEvent: boolean;
  taskRemoteTracebacks: boolean;
  acceptContent: string[];
  resultAcceptContent: string[] | null;
  workerConcurrency: number | null;
  workerPrefetchMultiplier: number;
  workerSendTaskEvents: boolean;
  workerDisableRateLimits: boolean;
  workerPool: string;
  workerMaxTasksPerChild: number | null;
  workerMaxMemoryPerChild: number | null;
  brokerTransportOptions: Record<string, unknown>;
  resultBackendTransportOptions: Record<string, unknown>;
  brokerConnectionRetry: boolean;
  brokerConnectionMaxRetries: number | null;
  brokerConnectionTimeout: number;
  brokerHeartbeat: number;
  /** TLS for the broker: true, or Celery's ssl dict (py-amqp's `ca_certs`/`certfile`/`keyfile`/`cert_reqs`, or redis-py's `ssl_*`). */
  brokerUseSsl: boolean | Record<string, unknown> | null;
  /** TLS for the Redis result backend: redis-py's `ssl_cert_reqs`/`ssl_ca_certs`/`ssl_certfile`/`ssl_keyfile`. */
  redisBackendUseSsl: boolean | Record<string, unknown> | null;
  /** Which URL of a `a;b` broker list to try next: 'round-robin' (in order) or 'shuffle' (at random). */
  brokerFailoverStrategy: string;
  /** celeriac: messages larger than this many bytes are logged and rejected unread (0 = no limit). */
  workerMaxMessageSize: number;
  /** celeriac: write kombu >= 5.3 tagged JSON (datetime, decimal, uuid, bytes); Celery 5.2 readers would see dicts. */
  jsonTaggedTypes: boolean;
}

type Kind = 'urls' | 'ssl' | 'string' | 'nstring' | 'number' | 'nnumber' | 'boolean' | 'json' | 'list' | 'nlist' | 'mode';

const SPEC: { [K in keyof CelerySettings]: [Kind, CelerySettings[K]] } = {
  brokerUrl: ['urls', 'amqp://guest:guest@127.0.0.1:5672//'],
  resultBackend: ['nstring', null],
  resultExpires: ['nnumber', 86400],
  resultExtended: ['boolean', false],
  resultPersistent: ['boolean', false],
  taskDefaultQueue: ['string', 'celery'],
  taskDefaultExchange: ['nstring', null],
  taskDefaultExchangeType: ['string', 'direct'],
  taskDefaultRoutingKey: ['nstring', null],
  taskDefaultPriority: ['nnumber', null],
  taskDefaultDeliveryMode: ['mode', 'persistent'],
  taskQueueMaxPriority: ['nnumber', null],
  taskCreateMissingQueues: ['boolean', true],
  taskRoutes: ['json', {}],
  taskAcksLate: ['boolean', false],
  taskAcksOnFailureOrTimeout: ['boolean', true],
  taskRejectOnWorkerLost: ['boolean', false],
  taskTrackStarted: ['boolean', false],
  taskIgnoreResult: ['boolean', false],
  taskStoreErrorsEvenIfIgnored: ['boolean', false],
  taskTimeLimit: ['nnumber', null],
  taskSoftTimeLimit: ['nnumber', null],
  taskDefaultRateLimit: ['nstring', null],
  taskSerializer: ['string', 'json'],
  taskCompression: ['nstring', null],
  taskSendSentEvent: ['boolean', false],
  taskRemoteTracebacks: ['boolean', false],
  acceptContent: ['list', ['json']],
  resultAcceptContent: ['nlist', null],
  workerConcurrency: ['nnumber', null],
  workerPrefetchMultiplier: ['number', 4],
  workerSendTaskEvents: ['boolean', false],
  workerDisableRateLimits: ['boolean', false],
  workerPool: ['string', 'async'],
  workerMaxTasksPerChild: ['nnumber', null],
  workerMaxMemoryPerChild: ['nnumber', null],
  brokerTransportOptions: ['json', {}],
  resultBackendTransportOptions: ['json', {}],
  brokerConnectionRetry: ['boolean', true],
  brokerConnectionMaxRetries: ['nnumber', 100],
  brokerConnectionTimeout: ['number', 4],
  brokerHeartbeat: ['number', 120],
  brokerUseSsl: ['ssl', null],
  redisBackendUseSsl: ['ssl', null],
  brokerFailoverStrategy: ['string', 'round-robin'],
  workerMaxMessageSize: ['number', 64 * 1024 * 1024],
  jsonTaggedTypes: ['boolean', false],
};

/** Celery's spelling of a setting: `taskAcksLate` → `task_acks_late`. */
export function snakeName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Our spelling of a Celery setting: `task_acks_late` → `taskAcksLate`. */
export function camelName(key: string): string {
  return key.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Thrown for a setting that does not exist or a value of the wrong type. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

function coerce(key: string, kind: Kind, value: unknown, source: string): unknown {
  const bad = (want: string): never => {
    throw new ConfigurationError(`${source}: ${snakeName(key)} must be ${want}, got ${JSON.stringify(value)}`);
  };
  const nullable = kind === 'nstring' || kind === 'nnumber' || kind === 'nlist' || kind === 'ssl';
  if (value === null || value === undefined || (nullable && typeof value === 'string' && /^(none|null|)$/i.test(value))) {
    return nullable ? null : bad('set');
  }
  switch (kind) {
    case 'urls':
      // Celery takes a failover list as `a;b` or as a list of URLs.
      if (Array.isArray(value) && value.length > 0 && value.every((u) => typeof u === 'string')) return value.join(';');
      return typeof value === 'string' ? value : bad('a URL, `a;b`, or a list of URLs');
    case 'ssl':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        if (/^(true|1|yes|on)$/i.test(value)) return true;
        if (/^(false|0|no|off)$/i.test(value)) return false;
        try {
          return coerce(key, kind, JSON.parse(value), source);
        } catch (err) {
          if (err instanceof ConfigurationError) throw err;
          return bad('true, false or a JSON object of ssl options');
        }
      }
      return typeof value === 'object' && !Array.isArray(value) ? value : bad('true, false or an object of ssl options');
    case 'string':
    case 'nstring':
      return typeof value === 'string' ? value : bad('a string');
    case 'number':
    case 'nnumber': {
      const n = typeof value === 'string' ? Number(value) : value;
      return typeof n === 'number' && Number.isFinite(n) ? n : bad('a number');
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|1|yes|on)$/i.test(value)) return true;
      if (typeof value === 'string' && /^(false|0|no|off)$/i.test(value)) return false;
      return bad('true or false');
    case 'list':
    case 'nlist':
      if (Array.isArray(value)) return value.map(String);
      if (typeof value === 'string') {
        if (value.trim().startsWith('[')) return coerce(key, kind, JSON.parse(value), source);
        return value.split(',').map((s) => s.trim()).filter(Boolean);
      }
      return bad('a list');
    case 'json':
      if (typeof value === 'string') {
        try {
          return JSON.parse(value);
        } catch {
          return bad('JSON');
        }
      }
      return typeof value === 'object' ? value : bad('an object');
    case 'mode':
      if (value === 'persistent' || value === 'transient') return value;
      if (value === 1 || value === 2 || value === '1' || value === '2') return Number(value);
      return bad('persistent or transient');
  }
}

/** Celery's defaults, overridden by settings from code (camelCase or snake_case keys), overridden by `CELERY_*` env vars. */
export function resolveSettings(fromCode: Partial<CelerySettings> | Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): CelerySettings {
  const out: Record<string, unknown> = {};
  for (const [key, [, def]] of Object.entries(SPEC)) out[key] = structuredClone(def);
  for (const [rawKey, value] of Object.entries(fromCode)) {
    const key = rawKey.includes('_') ? camelName(rawKey) : rawKey;
    const spec = SPEC[key as keyof CelerySettings];
    if (!spec) throw new ConfigurationError(`unknown setting ${JSON.stringify(rawKey)}`);
    if (value !== undefined) out[key] = coerce(key, spec[0], value, 'configuration');
  }
  for (const [key, [kind]] of Object.entries(SPEC)) {
    const envName = `CELERY_${snakeName(key).toUpperCase()}`;
    const value = env[envName];
    // The environment wins over code, as Celery's CELERY_BROKER_URL does: operators set guarantees without code.
    if (value !== undefined && value !== '') out[key] = coerce(key, kind, value, envName);
  }
  return out as unknown as CelerySettings;
}

/** True for a known setting name in either spelling. */
export function isSetting(name: string): boolean {
  return (name.includes('_') ? camelName(name) : name) in SPEC;
}
