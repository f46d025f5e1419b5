// `memory://`: an in-process broker with AMQP semantics (bindings, prefetch, ack/requeue, priorities) for the
// demo and fast unit tests. Every broker with the same URL in one process shares the same queues, as in kombu.

import type { WireMessage } from '../../protocol';
import type { Broker, ConsumeOptions, Consumer, Delivery, DeliveryHandler, QueueSpec, Route } from './broker';

interface StoredMessage {
  message: WireMessage;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  priority: number;
}

/** A FIFO with O(1) shift (an array with a moving head), ordered by priority on insert. */
class MessageQueue {
  private items: StoredMessage[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  shift(): StoredMessage | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as unknown as StoredMessage;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  unshift(item: StoredMessage): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  /** Higher priority first, FIFO within a priority (AMQP x-max-priority semantics). */
  insert(item: StoredMessage): void {
    let i = this.items.length;
    while (i > this.head && this.items[i - 1].priority < item.priority) i--;
    if (i === this.items.length) this.items.push(item);
    else this.items.splice(i, 0, item);
  }

  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    return n;
  }
}

class MemoryState {
  readonly queues = new Map<string, MessageQueue>();
  readonly bindings = new Map<string, Array<{ routingKey: string; queue: string }>>();
  readonly consumers = new Set<MemoryConsumer>();

  queue(name: string): MessageQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new MessageQueue();
      this.queues.set(name, q);
    }
    return q;
  }

  enqueue(name: string, item: StoredMessage, front = false): void {
    const q = this.queue(name);
    if (front) q.unshift(item);
    else q.insert(item);
    this.kick();
  }

  kick(): void {
    for (const c of this.consumers) c.pump();
  }
}

const STATES = new Map<string, MemoryState>();

class MemoryConsumer implements Consumer {
  private inFlight = 0;
  private cancelled = false;
  private next = 0;
  private scheduled = false;
  constructor(
    private readonly state: MemoryState,
    private readonly queues: string[],
    private readonly handler: DeliveryHandler,
    private prefetch: number,
    private readonly noAck: boolean,
  ) {}

  setPrefetch(count: number): void {
    this.prefetch = count;
    this.pump();
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    this.state.consumers.delete(this);
  }

  /** Deliver asynchronously, never inside the publisher's call stack. */
  pump(): void {
    if (this.scheduled || this.cancelled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (!this.cancelled && (this.prefetch === 0 || this.inFlight < this.prefetch)) {
      const item = this.take();
      if (!item) return;
      this.deliver(item.queue, item.stored);
    }
  }

  private take(): { queue: string; stored: StoredMessage } | undefined {
    for (let i = 0; i < this.queues.length; i++) {
      const name = this.queues[(this.next + i) % this.queues.length];
      const stored = this.state.queue(name).shift();
      if (stored) {
        this.next = (this.next + i + 1) % this.queues.length;
        return { queue: name, stored };
      }
    }
    return undefined;
  }

  private deliver(queue: string, stored: StoredMessage): void {
    let settled = this.noAck;
    if (!this.noAck) this.inFlight++;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.inFlight--;
      this.pump();
      return true;
    };
    const delivery: Delivery = {
      message: stored.message,
      queue,
      exchange: stored.exchange,
      routingKey: stored.routingKey,
      redelivered: stored.redelivered,
      priority: stored.priority,
      ack: () => void settle(),
      reject: (requeue) => {
        if (settle() && requeue) this.state.enqueue(queue, { ...stored, redelivered: true }, true);
      },
    };
    this.handler(delivery);
  }
}

export class MemoryBroker implements Broker {
  readonly transport = 'memory' as const;
  readonly displayUrl: string;
  private readonly state: MemoryState;
  private readonly own = new Set<MemoryConsumer>();

  constructor(url = 'memory://') {
    this.displayUrl = url;
    let state = STATES.get(url);
    if (!state) {
      state = new MemoryState();
      STATES.set(url, state);
    }
    this.state = state;
  }

  async connect(): Promise<void> {}

  async declareQueue(queue: QueueSpec): Promise<void> {
    this.state.queue(queue.name);
    const list = this.state.bindings.get(queue.exchange) ?? [];
    if (!list.some((b) => b.queue === queue.name && b.routingKey === queue.routingKey)) list.push({ routingKey: queue.routingKey, queue: queue.name });
    this.state.bindings.set(queue.exchange, list);
  }

  async consume(queues: QueueSpec[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    for (const q of queues) await this.declareQueue(q);
    const consumer = new MemoryConsumer(this.state, queues.map((q) => q.name), handler, options.prefetch, options.noAck ?? false);
    this.state.consumers.add(consumer);
    this.own.add(consumer);
    consumer.pump();
    return consumer;
  }

  async publish(route: Route, message: WireMessage): Promise<void> {
    const targets = route.exchange === ''
      ? [route.routingKey]
      : (this.state.bindings.get(route.exchange) ?? []).filter((b) => b.routingKey === route.routingKey).map((b) => b.queue);
    for (const queue of targets) {
      this.state.enqueue(queue, { message, exchange: route.exchange, routingKey: route.routingKey, redelivered: false, priority: message.properties.priority ?? 0 });
    }
  }

  async purge(queue: string): Promise<number> {
    return this.state.queue(queue).clear();
  }

  /** Messages waiting in a queue (tests and the demo's progress). */
  size(queue: string): number {
    return this.state.queue(queue).length;
  }

  async close(): Promise<void> {
    for (const c of this.own) await c.cancel();
    this.own.clear();
  }
}
