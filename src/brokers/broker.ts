// The one small interface every transport implements (AMQP, Redis, memory), so the worker sees them alike,
// as kombu's virtual transport makes Redis look like AMQP.

import type { WireMessage } from '../../protocol';

/** A queue with its exchange and binding, declared the way Celery declares it. */
export interface QueueSpec {
  name: string;
  exchange: string;
  exchangeType: 'direct' | 'topic' | 'fanout';
  routingKey: string;
  durable: boolean;
  autoDelete: boolean;
  /** Queue arguments (x-max-priority, x-expires, x-message-ttl…). */
  arguments: Record<string, unknown>;
}

/** A Celery task queue (`Queue(name)` with its direct exchange of the same name). */
export function taskQueue(name: string, options: { maxPriority?: number | null; exchange?: string; routingKey?: string; exchangeType?: string } = {}): QueueSpec {
  const args: Record<string, unknown> = {};
  if (options.maxPriority !== undefined && options.maxPriority !== null) args['x-max-priority'] = options.maxPriority;
  return {
    name,
    exchange: options.exchange ?? name,
    exchangeType: (options.exchangeType as QueueSpec['exchangeType']) ?? 'direct',
    routingKey: options.routingKey ?? name,
    durable: true,
    autoDelete: false,
    arguments: args,
  };
}

/** One received message, and what the worker needs to settle it. */
export interface Delivery {
  message: WireMessage;
  queue: string;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  priority: number;
  /** Settle the message. Each may be called once; later calls are ignored. */
  ack(): void;
  reject(requeue: boolean): void;
  /**
   * A message held for a later ETA need not stay in memory whole. Redis keeps its own copy of an unacked message
   * (kombu's `unacked` hash): `park()` drops `message` and `unpark()` reads it back (false if it is gone). AMQP
   * cannot give a delivered message back, so it only compacts it. Absent on memory deliveries. Settling works while
   * parked.
   */
  park?(): void;
  unpark?(): Promise<boolean>;
  /**
   * False once the delivery can no longer be settled because its AMQP channel closed: the broker has put the
   * message back and delivers it again, so this copy must not run. Absent where deliveries outlive connections.
   */
  isLive?(): boolean;
}

export interface ConsumeOptions {
  /** Unacknowledged deliveries allowed at once (0 = no limit). */
  prefetch: number;
  /** Auto-ack on delivery (RPC replies, control). */
  noAck?: boolean;
}

/** A running consumer: its prefetch can change (ETA holds raise it) and it can be stopped. */
export interface Consumer {
  setPrefetch(count: number): void;
  /** Stop receiving; deliveries already handed over stay valid for ack/reject. */
  cancel(): Promise<void>;
}

export type DeliveryHandler = (delivery: Delivery) => void;

/** Where a message goes: the exchange (`''` = the default exchange, routing key = queue) and routing key. */
export interface Route {
  exchange: string;
  routingKey: string;
}

export interface Broker {
  /** The URL with its password masked, for logs. */
  readonly displayUrl: string;
  readonly transport: 'amqp' | 'redis' | 'memory';
  connect(): Promise<void>;
  /** Declare a queue, its exchange and binding (idempotent; never fails on a queue declared differently by Python). */
  declareQueue(queue: QueueSpec): Promise<void>;
  consume(queues: QueueSpec[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer>;
  publish(route: Route, message: WireMessage): Promise<void>;
  /** Remove every message from a queue; returns how many. */
  purge(queue: string): Promise<number>;
  close(): Promise<void>;
  /** Called after the connection was lost and re-established (consumers are resumed by the broker itself). */
  onReconnect?: (() => void) | undefined;
}
