// The Celery app: settings, the task registry, the broker and result backend chosen by URL, and the producer
// (`sendTask`) that writes task messages exactly as Python Celery does.

import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { encodeTaskMessage, isoformatUtc, parseIsoMs, type SignatureDict, type WireMessage } from '../protocol';
import { resolveSettings, type CelerySettings } from './config';
import { silentLogger, type Logger } from './log';
import { urlScheme, maskUrl, splitUrls } from './url';
import { FailoverUrls, tlsFromSetting, type FailoverStrategy } from './connections';
import type { Broker, QueueSpec, Route } from './brokers/broker';
import { taskQueue } from './brokers/broker';
import { AmqpBroker } from './brokers/amqp';
import { RedisBroker, type RedisTransportOptions } from './brokers/redis';
import { MemoryBroker } from './brokers/memory';
import type { ResultBackend } from './backends/backend';
import { RedisBackend } from './backends/redis';
import { RpcBackend } from './backends/rpc';
import { MemoryBackend } from './backends/memory';
import { DisabledBackend } from './backends/disabled';
import { Task, type ApplyOptions, type TaskHandler, type TaskOptions, type TaskProducer } from './task';
import { AsyncResult } from './result';
import { Signature, toSignatureDict, toSignatureDicts, toWireOptions, type SignatureSender } from './canvas';
import { ConfigurationError } from './config';
import { sendTaskSent } from './events/sent';

export interface CeleryOptions {
  /** Broker URL (`broker_url`): amqp://, amqps://, redis://, rediss://, sentinel://, memory://; a failover list as `a;b` or an array. */
  broker?: string | string[];
  /** Result backend URL (`result_backend`): redis://, rpc://, memory://. */
  backend?: string;
  /** Any Celery setting, camelCase or snake_case. */
  config?: Partial<CelerySettings> | Record<string, unknown>;
  logger?: Logger;
  /** Environment to read `CELERY_*` settings from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

function failoverStrategy(settings: CelerySettings): FailoverStrategy {
  const s = settings.brokerFailoverStrategy;
  if (s === 'round-robin' || s === 'shuffle') return s;
  throw new ConfigurationError(`broker_failover_strategy must be 'round-robin' or 'shuffle', got ${JSON.stringify(s)}`);
}

/** Build the broker for a URL or a `;`-separated failover list (all of one transport). */
export function createBroker(url: string, settings: CelerySettings, logger: Logger): Broker {
  const urls = splitUrls(url);
  const first = urls[0] ?? url;
  const scheme = urlScheme(first);
  const transport = (s: string): string => (s === 'pyamqp' || s === 'amqps' ? 'amqp' : s === 'rediss' || s === 'sentinel' ? 'redis' : s);
  const other = urls.find((u) => transport(urlScheme(u)) !== transport(scheme));
  if (other) throw new ConfigurationError(`a failover list must use one transport: ${maskUrl(first)} and ${maskUrl(other)} differ`);
  switch (scheme) {
    case 'amqp':
    case 'amqps':
    case 'pyamqp':
      return new AmqpBroker(new FailoverUrls(urls.map((u) => u.replace(/^pyamqp:/i, 'amqp:')), failoverStrategy(settings)), {
        heartbeat: settings.brokerHeartbeat,
        connectTimeoutMs: settings.brokerConnectionTimeout * 1000,
        tls: tlsFromSetting(settings.brokerUseSsl, 'broker_use_ssl'),
      }, logger);
    case 'redis':
    case 'rediss':
    case 'sentinel':
      return new RedisBroker({
        url: urls.join(';'),
        ssl: settings.brokerUseSsl,
        sslSetting: 'broker_use_ssl',
        transportOptions: settings.brokerTransportOptions,
        failoverStrategy: failoverStrategy(settings),
      }, settings.brokerTransportOptions as RedisTransportOptions, logger);
    case 'memory':
      return new MemoryBroker(first);
    default:
      throw new ConfigurationError(`unsupported broker URL ${maskUrl(first)} (use amqp://, amqps://, redis://, rediss://, sentinel:// or memory://)`);
  }
}

export class Celery implements TaskProducer, SignatureSender {
  readonly conf: CelerySettings;
  readonly tasks = new Map<string, Task<never[], unknown>>();
  /** This client's id (Celery's thread_oid): the `reply_to` of its messages and its RPC reply queue. */
  readonly oid: string = randomUUID();
  /** `gen<pid>@<host>`, the `origin` of messages sent from this process. */
  readonly origin = `gen${process.pid}@${os.hostname()}`;
  logger: Logger;
  private brokerInstance: Broker | undefined;
  private backendInstance: ResultBackend | undefined;
  private connecting: Promise<void> | undefined;
  /** Broker and backend connected (connect() resolved): sendTask skips awaiting it. */
  private connected = false;
  private readonly declaredQueues = new Set<string>();

  private readonly codeConfig: Record<string, unknown>;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: CeleryOptions = {}) {
    const config: Record<string, unknown> = { ...(options.config ?? {}) };
    if (options.broker !== undefined) config.brokerUrl = options.broker;
    if (options.backend !== undefined) config.resultBackend = options.backend;
    this.codeConfig = config;
    this.env = options.env ?? process.env;
    this.conf = resolveSettings(config, this.env);
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Apply settings from an object (Celery's `config_from_object`), e.g. a parsed config file: they override the
   * app's code settings; `CELERY_*` env vars still win. Call before the app connects.
   */
  configFromObject(settings: Record<string, unknown>): void {
    Object.assign(this.codeConfig, settings);
    Object.assign(this.conf, resolveSettings(this.codeConfig, this.env));
  }

  // ---- task registry ----------------------------------------------------------------------------

  /** Define a task: `app.task('tasks.add', { params: ['x', 'y'] }, (x, y) => x + y)`. */
  task<A extends unknown[], R>(name: string, options: TaskOptions, handler: TaskHandler<A, R>): Task<A, Awaited<R>>;
  task<A extends unknown[], R>(name: string, handler: TaskHandler<A, R>): Task<A, Awaited<R>>;
  task<A extends unknown[], R>(name: string, a: TaskOptions | TaskHandler<A, R>, b?: TaskHandler<A, R>): Task<A, Awaited<R>> {
    const [options, handler] = typeof a === 'function' ? [{}, a] : [a, b];
    if (typeof handler !== 'function') throw new TypeError(`task ${name}: a handler function is required`);
    if (this.tasks.has(name)) throw new Error(`task ${name} is already registered`);
    const task = new Task<A, Awaited<R>>(name, options, handler as TaskHandler<A, Awaited<R>>, this);
    this.tasks.set(name, task as unknown as Task<never[], unknown>);
    return task;
  }

  /** A typed handle for a task that runs elsewhere (e.g. on a Python worker): `app.remoteTask<[number, number], number>('tasks.mul')`. */
  remoteTask<A extends unknown[] = unknown[], R = unknown>(name: string, options: TaskOptions = {}): Task<A, R> {
    return new Task<A, R>(name, options, null, this);
  }

  // ---- connections ------------------------------------------------------------------------------

  get broker(): Broker {
    this.brokerInstance ??= createBroker(this.conf.brokerUrl, this.conf, this.logger);
    return this.brokerInstance;
  }

  get backend(): ResultBackend {
    if (!this.backendInstance) {
      const url = this.conf.resultBackend;
      if (!url || /^(disabled|none)(:|$)/i.test(url)) this.backendInstance = new DisabledBackend();
      else {
        const scheme = urlScheme(url);
        if (scheme === 'redis' || scheme === 'rediss' || scheme === 'sentinel') {
          const endpoint = { url, ssl: this.conf.redisBackendUseSsl, sslSetting: 'redis_backend_use_ssl', transportOptions: this.conf.resultBackendTransportOptions };
          this.backendInstance = new RedisBackend(endpoint, this.conf.resultExpires, this.logger);
        }
        else if (scheme === 'rpc') this.backendInstance = new RpcBackend(this.broker, this.oid, this.conf.resultExpires, this.conf.resultPersistent, this.logger);
        else if (scheme === 'memory' || url.startsWith('cache+memory')) this.backendInstance = new MemoryBackend(url.replace(/^cache\+/, ''));
        else throw new ConfigurationError(`unsupported result backend ${maskUrl(url)} (use redis://, rediss://, sentinel://, rpc:// or memory://)`);
      }
    }
    return this.backendInstance;
  }

  /** Connect the broker and the result backend (idempotent; called on first use). */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      await this.broker.connect();
      await this.backend.connect();
      this.connected = true;
    })().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    this.connected = false;
    if (connecting) await connecting.catch(() => undefined);
    await this.backendInstance?.close();
    await this.brokerInstance?.close();
    this.backendInstance = undefined;
    this.brokerInstance = undefined;
    this.declaredQueues.clear();
  }

  /** The queue spec Celery would use for a queue name (direct exchange of the same name, optional max priority). */
  queueSpec(name: string): QueueSpec {
    return taskQueue(name, { maxPriority: this.conf.taskQueueMaxPriority });
  }

  // ---- producing --------------------------------------------------------------------------------

  AsyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, this.backend, () => this.connect());
  }

  signature(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions & { immutable?: boolean } = {}): Signature {
    return new Signature(this, name, args, kwargs, toWireOptions(options as ApplyOptions & Record<string, unknown>), !!options.immutable);
  }

  /** Rebuild a signature received as a dict. */
  signatureFromDict(d: SignatureDict): Signature {
    return Signature.fromDict(this, d);
  }

  /** Apply a signature (a chain, group or chord is applied as such, as `sig.applyAsync()`). */
  applySignature<R>(sig: Signature<R>, args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    return sig.applyAsync(args, kwargs, options as ApplyOptions & Record<string, unknown>);
  }

  /** Send a task by name, as Celery's `send_task`: returns its AsyncResult once the message is handed to the broker. */
  async sendTask<R = unknown>(name: string, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    // The awaits are skipped once connected and declared: a producer sends thousands per second through here.
    if (!this.connected) await this.connect();
    const { route, queue, message } = this.buildMessage(name, args, kwargs, options);
    if (queue && !this.declaredQueues.has(queue)) await this.ensureQueue(queue);
    if (!options.ignoreResult && !this.conf.taskIgnoreResult) {
      if (this.backend instanceof RpcBackend) await this.backend.ensureConsuming();
      else await this.backend.prepare?.(String(message.headers.id));
    }
    await this.broker.publish(route, message);
    if (this.conf.taskSendSentEvent) await sendTaskSent(this, route, queue, message);
    return new AsyncResult<R>(String(message.headers.id), this.backend, () => this.connect());
  }

  /** Declare a task queue once per connection, as Celery's producer does on first publish. */
  async ensureQueue(queue: string): Promise<void> {
    if (this.declaredQueues.has(queue)) return;
    await this.broker.declareQueue(this.queueSpec(queue));
    this.declaredQueues.add(queue);
  }

  /** The route, target queue and message for a call (pure apart from the clock and ids). */
  buildMessage(name: string, args: readonly unknown[], kwargs: Record<string, unknown>, options: ApplyOptions): { route: Route; queue: string | null; message: WireMessage } {
    const id = options.taskId ?? randomUUID();
    const routed = this.conf.taskRoutes[name];
    const routeQueue = typeof routed === 'string' ? routed : routed?.queue;
    const queue = options.queue ?? routeQueue ?? this.conf.taskDefaultQueue;
    const route: Route = options.exchange !== undefined
      ? { exchange: options.exchange, routingKey: options.routingKey ?? queue }
      : { exchange: '', routingKey: options.routingKey ?? queue };
    const now = Date.now();
    let eta: string | null = null;
    if (options.countdown !== undefined) eta = isoformatUtc(now + options.countdown * 1000);
    else if (options.eta !== undefined) eta = options.eta instanceof Date ? isoformatUtc(options.eta.getTime()) : options.eta;
    let expires: string | null = null;
    let expirationMs: number | null = null;
    if (options.expires !== undefined) {
      const at = typeof options.expires === 'number' ? now + options.expires * 1000 : options.expires instanceof Date ? options.expires.getTime() : parseIsoMs(options.expires);
      if (Number.isNaN(at)) throw new TypeError(`expires: cannot read ${JSON.stringify(options.expires)} as a time`);
      expires = isoformatUtc(at);
      expirationMs = at - now;
    }
    const priority = options.priority ?? (typeof routed === 'object' ? routed.priority : undefined) ?? this.conf.taskDefaultPriority ?? 0;
    const link = options.link === undefined ? null : toSignatureDicts(options.link);
    const linkError = options.linkError === undefined ? null : toSignatureDicts(options.linkError);
    const message = encodeTaskMessage({
      id,
      task: name,
      args,
      kwargs,
      embed: { callbacks: link, errbacks: linkError, chain: options.chain ? options.chain.map(toSignatureDict) : null, chord: options.chord ? toSignatureDict(options.chord) : null },
      shadow: options.shadow ?? null,
      eta,
      expires,
      expirationMs,
      group: options.groupId ?? null,
      groupIndex: options.groupIndex ?? null,
      retries: options.retries ?? 0,
      timelimit: [options.timeLimit ?? null, options.softTimeLimit ?? null],
      rootId: options.rootId ?? id,
      parentId: options.parentId ?? null,
      argsrepr: options.argsrepr,
      kwargsrepr: options.kwargsrepr,
      origin: this.origin,
      ignoreResult: options.ignoreResult ?? this.conf.taskIgnoreResult,
      replyTo: options.replyTo ?? this.oid,
      priority,
      deliveryMode: this.conf.taskDefaultDeliveryMode === 'transient' || this.conf.taskDefaultDeliveryMode === 1 ? 1 : 2,
      headers: options.headers,
      taggedJson: this.conf.jsonTaggedTypes,
    });
    return { route, queue: route.exchange === '' ? route.routingKey : null, message };
  }
}
