// AMQP 0-9-1 transport (RabbitMQ) with amqplib: Celery's topology, global QoS, acks batched with `multiple`,
// and reconnection with backoff over a failover URL list that resumes every consumer (stale delivery tags are never
// acked on a new channel; a consumer channel the broker closes, e.g. for consumer_timeout, is reopened).

import * as amqp from 'amqplib';
import * as os from 'node:os';
import type { WireMessage } from '../../protocol';
import { connectHint, FailoverUrls, type TlsOptions } from '../connections';
import { AckBatcher } from './amqp-acks';
import { BrokerConnectionError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { maskUrl } from '../url';
import type { Broker, ConsumeOptions, Consumer, Delivery, DeliveryHandler, QueueSpec, Route } from './broker';

export interface AmqpOptions {
  heartbeat?: number;
  connectTimeoutMs?: number;
  /** Wait for broker confirms on publish (durability at a cost in producer speed). */
  confirmPublish?: boolean;
  /** TLS socket options (`broker_use_ssl`); given, an `amqp://` URL is connected with TLS as kombu does. */
  tls?: TlsOptions;
}

/** py-amqp sends Python ints as signed 32-bit ('I'); RabbitMQ compares argument types, so we must too. */
function typedArguments(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    out[k] = typeof v === 'number' && Number.isInteger(v) ? { '!': Math.abs(v) < 2 ** 31 ? 'int' : 'long', value: v } : v;
  }
  return out;
}

interface ConsumerRecord {
  queues: QueueSpec[];
  handler: DeliveryHandler;
  options: ConsumeOptions;
  channel?: amqp.Channel;
  batcher?: AckBatcher;
  tags: string[];
  cancelled: boolean;
  qosApplied?: number;
  qosInFlight?: boolean;
  /** A reopen after the broker closed the channel is under way (one at a time). */
  reopening?: boolean;
}

export class AmqpBroker implements Broker {
  readonly transport = 'amqp' as const;
  onReconnect: (() => void) | undefined;
  private connection: amqp.ChannelModel | undefined;
  private publishChannel: amqp.Channel | amqp.ConfirmChannel | undefined;
  private readonly consumers = new Set<ConsumerRecord>();
  private readonly declared = new Map<string, QueueSpec>();
  private closing = false;
  private reconnecting: Promise<void> | undefined;
  private blocked = false;
  private waiters: Array<() => void> = [];
  private readonly urls: FailoverUrls;

  constructor(
    url: string | FailoverUrls,
    private readonly options: AmqpOptions = {},
    private readonly logger: Logger = silentLogger,
  ) {
    this.urls = typeof url === 'string' ? new FailoverUrls(url) : url;
  }

  /** The URL in use (or to be tried next), password masked. */
  get displayUrl(): string {
    return maskUrl(this.urls.current);
  }

  async connect(): Promise<void> {
    try {
      await this.open();
    } catch (err) {
      throw new BrokerConnectionError(
        `Cannot connect to broker at ${this.urls.size > 1 ? this.urls.display : this.displayUrl}: ${(err as Error).message.replace(/\.$/, '')}. ` +
          connectHint(err, 'Is RabbitMQ running? Start it with `rabbitmq-server -detached` or `docker compose up -d rabbitmq`.'),
      );
    }
  }

  /** Connect to the current URL or, failing that, each next one in turn (one pass over the failover list). */
  private async open(): Promise<void> {
    let lastError: unknown;
    for (let i = 0; i < this.urls.size; i++) {
      if (i > 0) this.urls.advance();
      try {
        await this.openUrl(this.urls.current);
        this.logger.info(`connected to broker ${this.displayUrl}`);
        return;
      } catch (err) {
        lastError = err;
        // Name the URL in the error when there are several, so the operator sees which one failed how.
        if (this.urls.size > 1) this.logger.warning(`cannot connect to broker ${this.displayUrl}: ${(err as Error).message}`);
      }
    }
    throw lastError;
  }

  private async openUrl(target: string): Promise<void> {
    const heartbeat = this.options.heartbeat ?? 60;
    const tls = this.options.tls;
    // kombu connects with TLS whenever broker_use_ssl is set, whatever the scheme says.
    const base = tls ? target.replace(/^amqp:/i, 'amqps:') : target;
    const url = /[?&]heartbeat=/.test(base) ? base : `${base}${base.includes('?') ? '&' : '?'}heartbeat=${heartbeat}`;
    // Nagle's algorithm holds small frames (acks, publishes) for tens of ms; a publish-heavy peer ran 20x slower with it.
    const connection = await amqp.connect(url, {
      noDelay: true,
      timeout: this.options.connectTimeoutMs ?? 4000,
      // Shown by `rabbitmqctl list_connections client_properties` and the management UI.
      clientProperties: { connection_name: `celeriac ${process.pid}@${os.hostname()}`, product: 'celeriac' },
      ...(tls ?? {}),
    });
    // A new connection starts unblocked: RabbitMQ sends connection.blocked again if its alarm still holds.
    this.blocked = false;
    connection.on('error', (err: Error) => this.logger.debug(`broker connection error: ${err.message}`));
    connection.on('close', () => this.onConnectionClosed(connection));
    connection.on('blocked', (reason: string) => {
      this.blocked = true;
      this.logger.warning(`broker blocked publishing (${reason}); publishes wait until it unblocks`);
    });
    connection.on('unblocked', () => {
      this.blocked = false;
      this.logger.info('broker unblocked publishing');
      this.release();
    });
    this.connection = connection;
    await this.openPublishChannel(connection);
  }

  /** Reopen the publish channel with backoff while the connection lives: publishes wait for it meanwhile. */
  private reopenPublishChannel(connection: amqp.ChannelModel, attempt: number): void {
    this.openPublishChannel(connection).then(
      () => this.release(),
      (err: Error) => {
        if (this.connection !== connection || this.closing) return; // the reconnect opens a new one
        this.logger.warning(`reopening the publish channel failed (${err.message}); trying again`);
        setTimeout(() => this.reopenPublishChannel(connection, attempt + 1), Math.min(100 * 2 ** attempt, 10000)).unref();
      },
    );
  }

  private async openPublishChannel(connection: amqp.ChannelModel): Promise<void> {
    const ch = this.options.confirmPublish ? await connection.createConfirmChannel() : await connection.createChannel();
    ch.on('error', (err: Error) => this.logger.warning(`publish channel error: ${err.message}`));
    ch.on('drain', () => this.release());
    ch.on('close', () => {
      // Channel close events come before the connection's: wait a turn to tell a channel error from a lost connection.
      setImmediate(() => {
        if (this.publishChannel !== ch || this.connection !== connection || this.closing) return;
        this.publishChannel = undefined;
        this.reopenPublishChannel(connection, 1);
      });
    });
    ch.setMaxListeners(0);
    this.publishChannel = ch;
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private onConnectionClosed(connection: amqp.ChannelModel): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.publishChannel = undefined;
    for (const c of this.consumers) {
      c.channel = undefined;
      c.batcher = undefined;
      c.reopening = false;
    }
    if (this.closing) return;
    this.logger.warning(`connection to broker ${this.displayUrl} lost; reconnecting`);
    // Celery moves on to the next URL of a failover list after a drop.
    this.urls.advance();
    this.reconnecting ??= this.reconnectLoop().finally(() => (this.reconnecting = undefined));
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 1; !this.closing; attempt++) {
      const delay = Math.min(100 * 2 ** Math.min(attempt, 7), 10000);
      await new Promise((r) => setTimeout(r, delay));
      if (this.closing) return;
      try {
        await this.open();
        for (const spec of this.declared.values()) await this.declareOn(spec);
        for (const c of this.consumers) if (!c.cancelled) await this.startConsumer(c);
        this.logger.info(`reconnected to broker ${this.displayUrl}`);
        this.release();
        this.onReconnect?.();
        return;
      } catch (err) {
        this.logger.warning(`reconnect to ${this.displayUrl} failed (attempt ${attempt}): ${(err as Error).message}`);
        this.connection?.close().catch(() => undefined);
      }
    }
  }

  private async ready(): Promise<amqp.Channel> {
    for (;;) {
      if (this.closing) throw new Error('broker connection is closed');
      if (this.publishChannel && this.connection && !this.blocked) return this.publishChannel;
      if (!this.reconnecting && !this.connection) throw new Error('not connected to the broker');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async declareQueue(queue: QueueSpec): Promise<void> {
    this.declared.set(queue.name, queue);
    await this.declareOn(queue);
  }

  /** Declare on a throwaway channel: a mismatch (406) closes only that channel; then fall back to a passive check. */
  private async declareOn(queue: QueueSpec): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new Error('not connected to the broker');
    const ch = await connection.createChannel();
    ch.on('error', () => undefined);
    try {
      if (queue.exchange !== '') {
        await ch.assertExchange(queue.exchange, queue.exchangeType, { durable: queue.durable, autoDelete: false });
      }
      await ch.assertQueue(queue.name, { durable: queue.durable, autoDelete: queue.autoDelete, exclusive: false, arguments: typedArguments(queue.arguments) });
      if (queue.exchange !== '') await ch.bindQueue(queue.name, queue.exchange, queue.routingKey);
      await ch.close();
    } catch (err) {
      const message = (err as Error).message;
      if (!/PRECONDITION_FAILED|inequivalent/.test(message)) throw err;
      // The queue exists with other arguments (e.g. x-max-priority set by a Python app): use it as it is.
      this.logger.warning(`queue ${queue.name} exists with different settings (${message.replace(/^.*?inequivalent/, 'inequivalent')}); using it as declared`);
      const check = await connection.createChannel();
      check.on('error', () => undefined);
      await check.checkQueue(queue.name);
      if (queue.exchange !== '') {
        await check.bindQueue(queue.name, queue.exchange, queue.routingKey).catch(() => undefined);
      }
      await check.close().catch(() => undefined);
    }
  }

  async consume(queues: QueueSpec[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    for (const q of queues) await this.declareQueue(q);
    const record: ConsumerRecord = { queues, handler, options: { ...options }, tags: [], cancelled: false };
    this.consumers.add(record);
    await this.startConsumer(record);
    return {
      setPrefetch: (count: number) => {
        record.options.prefetch = count;
        this.applyPrefetch(record);
      },
      cancel: async () => {
        record.cancelled = true;
        const ch = record.channel;
        if (ch) for (const tag of record.tags) await ch.cancel(tag).catch(() => undefined);
        record.batcher?.flush();
      },
    };
  }

  /**
   * basic.qos is a round trip; holding thousands of ETA messages would queue thousands of them. Coalesce: at most
   * one in flight, then apply the latest wanted value (Celery's increment_eventually does the same).
   */
  private applyPrefetch(record: ConsumerRecord): void {
    const ch = record.channel;
    if (!ch || record.qosInFlight) return;
    const wanted = record.options.prefetch;
    if (wanted === record.qosApplied) return;
    record.qosInFlight = true;
    // global=true: RabbitMQ applies it to the channel, shared by all its consumers, as Celery relies on.
    ch.prefetch(wanted, true)
      .then(() => (record.qosApplied = wanted))
      .catch((err: Error) => this.logger.warning(`prefetch change failed: ${err.message}`))
      .finally(() => {
        record.qosInFlight = false;
        if (record.channel === ch) this.applyPrefetch(record);
      });
  }

  private async startConsumer(record: ConsumerRecord): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new Error('not connected to the broker');
    const ch = await connection.createChannel();
    ch.on('error', (err: Error) => this.logger.warning(`consumer channel error: ${err.message}`));
    ch.on('close', () => setImmediate(() => this.onConsumerChannelClosed(record, ch, connection)));
    if (!record.options.noAck) await ch.prefetch(record.options.prefetch, true);
    record.qosApplied = record.options.prefetch;
    record.qosInFlight = false;
    const batcher = new AckBatcher(ch);
    record.channel = ch;
    record.batcher = batcher;
    record.tags = [];
    for (const q of record.queues) {
      const { consumerTag } = await ch.consume(q.name, (msg) => {
        if (msg) this.dispatch(record, ch, batcher, q.name, msg);
      }, { noAck: !!record.options.noAck });
      record.tags.push(consumerTag);
    }
  }

  /**
   * The broker closed a consumer channel while the connection lives (e.g. 406 PRECONDITION_FAILED for
   * consumer_timeout): its unacked messages go back to the queue, so open a new channel and consume again. Deliveries
   * of the old channel are settled as no-ops (their tags mean nothing on the new one).
   */
  private onConsumerChannelClosed(record: ConsumerRecord, ch: amqp.Channel, connection: amqp.ChannelModel): void {
    if (record.channel !== ch || record.reopening || this.connection !== connection || this.closing || record.cancelled) return;
    record.reopening = true;
    record.channel = undefined;
    record.batcher = undefined;
    this.logger.warning(`consumer channel on ${record.queues.map((q) => q.name).join(', ')} was closed by the broker; reopening it`);
    const retry = (attempt: number): void => {
      if (this.connection !== connection || this.closing || record.cancelled) {
        record.reopening = false;
        return;
      }
      this.startConsumer(record).then(
        () => {
          record.reopening = false;
          this.logger.info(`consuming again from ${record.queues.map((q) => q.name).join(', ')}`);
        },
        (err: Error) => {
          this.logger.warning(`reopening the consumer channel failed (attempt ${attempt}): ${err.message}`);
          record.channel = undefined;
          setTimeout(() => retry(attempt + 1), Math.min(100 * 2 ** attempt, 10000)).unref();
        },
      );
    };
    retry(1);
  }

  private dispatch(record: ConsumerRecord, ch: amqp.Channel, batcher: AckBatcher, queue: string, msg: amqp.ConsumeMessage): void {
    const tag = msg.fields.deliveryTag;
    const noAck = !!record.options.noAck;
    if (!noAck) batcher.track(tag);
    record.handler(new AmqpDelivery(record, ch, batcher, queue, msg, noAck));
  }

  async publish(route: Route, message: WireMessage): Promise<void> {
    const ch = await this.ready();
    const p = message.properties;
    const options: amqp.Options.Publish = {
      headers: message.headers,
      contentType: message.contentType,
      contentEncoding: message.contentEncoding,
      correlationId: p.correlationId,
      replyTo: p.replyTo,
      deliveryMode: p.deliveryMode ?? 2,
      priority: p.priority ?? 0,
    };
    if (p.expiration !== undefined) options.expiration = p.expiration;
    if (this.options.confirmPublish) {
      await new Promise<void>((resolve, reject) => {
        (ch as amqp.ConfirmChannel).publish(route.exchange, route.routingKey, message.body, options, (err) => (err ? reject(err) : resolve()));
      });
      return;
    }
    if (!ch.publish(route.exchange, route.routingKey, message.body, options)) {
      // The socket buffer is full: wait for drain so a fast producer cannot grow memory without bound.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Declare an exchange (events, pidbox); idempotent. */
  async declareExchange(name: string, type: 'direct' | 'topic' | 'fanout', durable: boolean): Promise<void> {
    const ch = await this.ready();
    await ch.assertExchange(name, type, { durable, autoDelete: false });
  }

  async purge(queue: string): Promise<number> {
    const connection = this.connection;
    if (!connection) throw new Error('not connected to the broker');
    const ch = await connection.createChannel();
    ch.on('error', () => undefined);
    try {
      return (await ch.purgeQueue(queue)).messageCount;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Messages ready in a queue (passive declare). */
  async size(queue: string): Promise<number> {
    const connection = this.connection;
    if (!connection) throw new Error('not connected to the broker');
    const ch = await connection.createChannel();
    ch.on('error', () => undefined);
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** The underlying connection, for the RPC backend and tests. */
  get model(): amqp.ChannelModel | undefined {
    return this.connection;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.consumers) c.batcher?.flush();
    this.release();
    // Closing the channel first makes amqplib write out what it still buffers (a burst of publishes just before
    // close() would otherwise be dropped with the socket).
    const publishChannel = this.publishChannel;
    this.publishChannel = undefined;
    if (publishChannel) await publishChannel.close().catch(() => undefined);
    // Same for consumer channels: their last acks must reach RabbitMQ, or a warm shutdown would cause redeliveries.
    for (const c of this.consumers) {
      const ch = c.channel;
      c.channel = undefined;
      if (ch) await ch.close().catch(() => undefined);
    }
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await connection.close().catch(() => undefined);
  }
}

/**
 * One message from a channel. A class rather than closures: thousands may be held at once for ETAs. A tag belongs
 * to its channel: after a reconnect, settling an old delivery is a no-op (the broker redelivers it).
 */
class AmqpDelivery implements Delivery {
  readonly message: WireMessage;
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  readonly priority: number;
  private readonly tag: number;

  constructor(
    private readonly record: ConsumerRecord,
    private readonly ch: amqp.Channel,
    private readonly batcher: AckBatcher,
    readonly queue: string,
    msg: amqp.ConsumeMessage,
    private readonly noAck: boolean,
  ) {
    const p = msg.properties;
    this.tag = msg.fields.deliveryTag;
    this.message = {
      body: msg.content,
      contentType: p.contentType,
      contentEncoding: p.contentEncoding,
      headers: (p.headers ?? {}) as Record<string, unknown>,
      properties: {
        correlationId: p.correlationId,
        replyTo: p.replyTo,
        deliveryMode: p.deliveryMode,
        priority: p.priority,
        expiration: p.expiration,
      },
    };
    this.exchange = msg.fields.exchange;
    this.routingKey = msg.fields.routingKey;
    this.redelivered = msg.fields.redelivered;
    this.priority = p.priority ?? 0;
  }

  isLive(): boolean {
    return this.noAck || this.record.channel === this.ch;
  }

  ack(): void {
    if (!this.noAck && this.isLive()) this.batcher.ack(this.tag);
  }

  reject(requeue: boolean): void {
    if (!this.noAck && this.isLive()) this.batcher.reject(this.tag, requeue);
  }

  /**
   * Held for an ETA: the broker cannot give the message back, so it stays here, but its body is copied out of the
   * socket chunk amqplib sliced it from (else each held message pins a share of 64 KB read buffers); the worker
   * drops the decoded form meanwhile.
   */
  park(): void {
    this.message.body = Buffer.from(this.message.body);
  }

  unpark(): Promise<boolean> {
    return Promise.resolve(true);
  }
}
