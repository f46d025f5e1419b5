// The broadcast side of a broker, on a connection of its own as Celery's event dispatcher and pidbox have:
// publish to fanout/topic exchanges (events, control requests), to direct reply exchanges (control replies),
// and subscribe to broadcasts — AMQP queues bound to the exchange, or Redis PSUBSCRIBE as kombu's fanout emulation.

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { decodeEnvelope, encodeEnvelope, stringifyJson, type WireMessage } from '../../protocol';
import { createBroker } from '../app';
import { AmqpBroker } from '../brokers/amqp';
import type { Broker, Consumer, QueueSpec } from '../brokers/broker';
import { RedisBroker } from '../brokers/redis';
import type { CelerySettings } from '../config';
import { silentLogger, type Logger } from '../log';
import { splitUrls } from '../url';

const SEP = '\x06\x16';

/** One message received from a broadcast or reply queue. */
export interface Received {
  message: WireMessage;
  exchange: string;
  routingKey: string;
}

/** A queue bound to a broadcast exchange (AMQP) or the matching PUB/SUB pattern (Redis). */
export interface SubscribeSpec {
  /** AMQP queue name (unique per subscriber). */
  queue: string;
  exchange: string;
  exchangeType: 'fanout' | 'topic';
  exchangeDurable: boolean;
  /** Binding key: `''` for fanout, `#` or `worker.#` for topics. */
  routingKey: string;
  /** AMQP queue arguments (x-expires, x-message-ttl). */
  arguments: Record<string, unknown>;
}

export type Unsubscribe = () => Promise<void>;

export interface BroadcastTransport {
  readonly kind: 'amqp' | 'redis';
  readonly displayUrl: string;
  connect(): Promise<void>;
  /** Publish to a fanout or topic exchange (declared on first use, as kombu's `declare=[exchange]`). */
  broadcast(exchange: string, exchangeType: 'fanout' | 'topic', durable: boolean, routingKey: string, message: WireMessage): Promise<void>;
  /** Publish to a direct exchange (control replies): the queues bound with this routing key get it. */
  direct(exchange: string, routingKey: string, message: WireMessage): Promise<void>;
  subscribe(spec: SubscribeSpec, handler: (r: Received) => void): Promise<Unsubscribe>;
  /** A private reply queue bound to a direct exchange (control clients): `<oid>.reply.celery.pidbox`. */
  consumeReplies(queue: string, exchange: string, routingKey: string, handler: (r: Received) => void): Promise<Unsubscribe>;
  /** True while the connection is up (health checks). */
  readonly connected: boolean;
  close(): Promise<void>;
}

/** A JSON message as kombu's producer writes it (content type, utf-8, headers, delivery mode). */
export function jsonMessage(body: unknown, headers: Record<string, unknown>, deliveryMode: 1 | 2): WireMessage {
  return {
    body: Buffer.from(stringifyJson(body), 'utf8'),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers,
    properties: { deliveryMode, priority: 0 },
  };
}

/** The Redis db number of a URL (`redis://host:6379/3` → 3), which kombu puts in fanout channel names. */
export function redisDb(url: string): number {
  const m = /^(?:rediss?|sentinel):\/\/[^/]*\/(\d+)/i.exec(url);
  return m ? Number(m[1]) : 0;
}

/** Broadcasts over a broker that is already connected (a client's task-sent events); never close() it. */
export function broadcastOver(broker: Broker, conf: CelerySettings, logger: Logger = silentLogger): BroadcastTransport | null {
  if (broker instanceof AmqpBroker) return new AmqpBroadcast(broker, logger);
  if (broker instanceof RedisBroker) return new RedisBroadcast(broker, splitUrls(conf.brokerUrl)[0] ?? conf.brokerUrl, conf, logger);
  return null;
}

/** The broadcast transport for the app's broker URL, or null for `memory://` (no events or remote control there). */
export function createBroadcastTransport(conf: CelerySettings, logger: Logger = silentLogger): BroadcastTransport | null {
  // The whole failover list: the broadcast connection fails over as the broker's does.
  const broker = createBroker(conf.brokerUrl, conf, logger);
  if (broker instanceof AmqpBroker) return new AmqpBroadcast(broker, logger);
  if (broker instanceof RedisBroker) return new RedisBroadcast(broker, splitUrls(conf.brokerUrl)[0] ?? conf.brokerUrl, conf, logger);
  return null;
}

class AmqpBroadcast implements BroadcastTransport {
  readonly kind = 'amqp' as const;
  /** One declare per exchange; every publish awaits the same promise, so publishes keep their order. */
  private readonly declared = new Map<string, Promise<void>>();

  constructor(
    private readonly broker: AmqpBroker,
    private readonly logger: Logger,
  ) {}

  get displayUrl(): string {
    return this.broker.displayUrl;
  }

  get connected(): boolean {
    return this.broker.model !== undefined;
  }

  connect(): Promise<void> {
    this.broker.onReconnect = () => this.declared.clear();
    return this.broker.connect();
  }

  private declare(exchange: string, type: 'fanout' | 'topic' | 'direct', durable: boolean): Promise<void> {
    let p = this.declared.get(exchange);
    if (!p) {
      p = this.broker.declareExchange(exchange, type, durable);
      p.catch(() => this.declared.delete(exchange));
      this.declared.set(exchange, p);
    }
    return p;
  }

  async broadcast(exchange: string, exchangeType: 'fanout' | 'topic', durable: boolean, routingKey: string, message: WireMessage): Promise<void> {
    await this.declare(exchange, exchangeType, durable);
    await this.broker.publish({ exchange, routingKey }, message);
  }

  async direct(exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    await this.declare(exchange, 'direct', false);
    await this.broker.publish({ exchange, routingKey }, message);
  }

  async subscribe(spec: SubscribeSpec, handler: (r: Received) => void): Promise<Unsubscribe> {
    const queue: QueueSpec = {
      name: spec.queue,
      exchange: spec.exchange,
      exchangeType: spec.exchangeType,
      routingKey: spec.routingKey,
      durable: false,
      autoDelete: true,
      arguments: spec.arguments,
    };
    if (!spec.exchangeDurable) {
      // Same durability for exchange and queue (celery.pidbox): the broker's consumer re-declares and resumes it
      // after a reconnect.
      return this.consumeQueue(queue, handler);
    }
    // A durable exchange (celeryev) with a transient queue: declare each on its own terms, on a channel of ours.
    const model = this.broker.model;
    if (!model) throw new Error('not connected to the broker');
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.logger.warning(`event channel error: ${err.message}`));
    await ch.assertExchange(spec.exchange, spec.exchangeType, { durable: true, autoDelete: false });
    await ch.assertQueue(spec.queue, { durable: false, autoDelete: true, exclusive: false, arguments: int32Arguments(spec.arguments) });
    await ch.bindQueue(spec.queue, spec.exchange, spec.routingKey);
    const { consumerTag } = await ch.consume(spec.queue, (msg) => {
      if (!msg) return;
      const p = msg.properties;
      handler({
        message: { body: msg.content, contentType: p.contentType, contentEncoding: p.contentEncoding, headers: (p.headers ?? {}) as Record<string, unknown>, properties: { deliveryMode: p.deliveryMode, priority: p.priority } },
        exchange: msg.fields.exchange,
        routingKey: msg.fields.routingKey,
      });
    }, { noAck: true });
    return async () => {
      await ch.cancel(consumerTag).catch(() => undefined);
      await ch.close().catch(() => undefined);
    };
  }

  private async consumeQueue(queue: QueueSpec, handler: (r: Received) => void): Promise<Unsubscribe> {
    const consumer: Consumer = await this.broker.consume([queue], (d) => handler({ message: d.message, exchange: d.exchange, routingKey: d.routingKey }), { prefetch: 0, noAck: true });
    return () => consumer.cancel();
  }

  consumeReplies(queue: string, exchange: string, routingKey: string, handler: (r: Received) => void): Promise<Unsubscribe> {
    return this.consumeQueue(
      { name: queue, exchange, exchangeType: 'direct', routingKey, durable: false, autoDelete: true, arguments: { 'x-expires': 10000, 'x-message-ttl': 300000 } },
      handler,
    );
  }

  close(): Promise<void> {
    return this.broker.close();
  }
}

/** py-amqp sends small ints as signed 32-bit; RabbitMQ compares queue argument types on re-declare. */
function int32Arguments(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) out[k] = typeof v === 'number' && Number.isInteger(v) ? { '!': 'int', value: v } : v;
  return out;
}

class RedisBroadcast implements BroadcastTransport {
  readonly kind = 'redis' as const;
  private readonly db: number;
  private readonly prefix: string;
  private sub: Redis | undefined;
  private readonly patterns = new Map<string, (r: Received) => void>();
  private readonly cleanups = new Set<Unsubscribe>();

  constructor(
    private readonly broker: RedisBroker,
    private readonly url: string,
    conf: CelerySettings,
    private readonly logger: Logger,
  ) {
    this.db = redisDb(url);
    const prefix = (conf.brokerTransportOptions as { global_keyprefix?: unknown }).global_keyprefix;
    this.prefix = typeof prefix === 'string' ? prefix : '';
  }

  get displayUrl(): string {
    return this.broker.displayUrl;
  }

  get connected(): boolean {
    return this.broker.redis?.status === 'ready';
  }

  connect(): Promise<void> {
    return this.broker.connect();
  }

  async broadcast(exchange: string, _type: 'fanout' | 'topic', _durable: boolean, routingKey: string, message: WireMessage): Promise<void> {
    // kombu turns celeryev into a fanout exchange on Redis; both become PUBLISH /<db>.<exchange>[/<routing key>].
    await this.broker.publishFanout(exchange, routingKey, message, this.db);
  }

  /** Route through `_kombu.binding.<exchange>` as kombu's virtual exchange does; no match drops the message. */
  async direct(exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    // Read the bindings every time: a control client binds its reply queue just before it asks.
    const members = await this.broker.redis.smembers(this.broker.key(`_kombu.binding.${exchange}`));
    const queues = members.map((m) => m.split(SEP)).filter(([rk]) => rk === routingKey).map(([, , q]) => q);
    if (queues.length === 0) return;
    const raw = encodeEnvelope(message, { exchange, routing_key: routingKey }, randomUUID());
    await Promise.all(queues.map((q) => this.broker.redis.lpush(this.broker.listFor(q, 0), raw)));
  }

  private async subscriber(): Promise<Redis> {
    if (this.sub) return this.sub;
    const sub = await this.broker.openConnection('broadcast subscriber');
    sub.on('pmessageBuffer', (pattern: Buffer, _channel: Buffer, data: Buffer) => {
      const handler = this.patterns.get(pattern.toString('utf8'));
      if (!handler) return;
      let decoded;
      try {
        decoded = decodeEnvelope(data.toString('utf8'));
      } catch (err) {
        this.logger.error(`Cannot decode broadcast message on ${pattern.toString('utf8')}: ${(err as Error).message}`);
        return;
      }
      handler({ message: decoded.message, exchange: decoded.deliveryInfo.exchange, routingKey: decoded.deliveryInfo.routing_key });
    });
    this.sub = sub;
    return sub;
  }

  async subscribe(spec: SubscribeSpec, handler: (r: Received) => void): Promise<Unsubscribe> {
    const rk = spec.routingKey.replace(/#/g, '*');
    const pattern = `${this.prefix}/${this.db}.${spec.exchange}${rk ? `/${rk}` : ''}`;
    const sub = await this.subscriber();
    this.patterns.set(pattern, handler);
    await sub.psubscribe(pattern);
    // kombu also records the binding (`_kombu.binding.<exchange>`), which `celery inspect`-style tools may list.
    const binding = this.broker.key(`_kombu.binding.${spec.exchange}`);
    const member = `${spec.routingKey}${SEP}${SEP}${spec.queue}`;
    await this.broker.redis.sadd(binding, member);
    const undo = async (): Promise<void> => {
      this.cleanups.delete(undo);
      this.patterns.delete(pattern);
      await sub.punsubscribe(pattern).catch(() => undefined);
      await this.broker.redis.srem(binding, member).catch(() => undefined);
    };
    this.cleanups.add(undo);
    return undo;
  }

  async consumeReplies(queue: string, exchange: string, routingKey: string, handler: (r: Received) => void): Promise<Unsubscribe> {
    const spec: QueueSpec = { name: queue, exchange, exchangeType: 'direct', routingKey, durable: false, autoDelete: true, arguments: {} };
    const consumer = await this.broker.consume([spec], (d) => handler({ message: d.message, exchange: d.exchange, routingKey: d.routingKey }), { prefetch: 0, noAck: true });
    const undo = async (): Promise<void> => {
      this.cleanups.delete(undo);
      await consumer.cancel();
      // An auto-delete queue goes away with its consumer, as kombu deletes it: binding and lists.
      await this.broker.redis.srem(this.broker.key(`_kombu.binding.${exchange}`), `${routingKey}${SEP}${SEP}${queue}`).catch(() => undefined);
      await this.broker.redis.del(...this.broker.listKeys([queue])).catch(() => undefined);
    };
    this.cleanups.add(undo);
    return undo;
  }

  async close(): Promise<void> {
    for (const undo of [...this.cleanups]) await undo().catch(() => undefined);
    if (this.sub) await this.sub.quit().catch(() => this.sub?.disconnect());
    this.sub = undefined;
    await this.broker.close();
  }
}
