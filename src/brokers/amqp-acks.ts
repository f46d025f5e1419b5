// Batched acknowledgements for one AMQP channel: one `multiple` ack for the settled prefix of its deliveries, and
// nothing at all once the channel is closed (a tag is only meaningful on the channel that delivered it).

import type * as amqp from 'amqplib';

/** Tracks deliveries of one channel so acks go out batched: one `multiple` ack for the settled prefix. */
export class AckBatcher {
  private readonly order: number[] = [];
  private head = 0;
  /** 0 = unsettled, 1 = acked but not yet sent, 2 = settled and sent (ack or reject). */
  private readonly state = new Map<number, 0 | 1 | 2>();
  private scheduled = false;
  private closed = false;

  constructor(private readonly channel: amqp.Channel) {
    channel.once('close', () => (this.closed = true));
  }

  track(tag: number): void {
    this.order.push(tag);
    this.state.set(tag, 0);
  }

  ack(tag: number): void {
    if (this.state.get(tag) !== 0) return;
    this.state.set(tag, 1);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  reject(tag: number, requeue: boolean): void {
    if (this.state.get(tag) !== 0) return;
    this.state.set(tag, 2);
    this.send(() => this.channel.reject(fakeMessage(tag), requeue));
  }

  /** A channel closed under us (connection lost): drop the frame; RabbitMQ redelivers unacked messages anyway. */
  private send(frame: () => void): void {
    try {
      frame();
    } catch {
      this.closed = true;
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.closed) {
      this.state.clear();
      this.order.length = 0;
      this.head = 0;
      return;
    }
    let lastAcked = -1;
    while (this.head < this.order.length) {
      const tag = this.order[this.head];
      const s = this.state.get(tag);
      if (s === 0) break;
      if (s === 1) lastAcked = tag;
      this.state.delete(tag);
      this.head++;
    }
    if (lastAcked !== -1) this.send(() => this.channel.ack(fakeMessage(lastAcked), true));
    // Settled out of order (a slow task ahead of them): ack individually now rather than hold them.
    for (const [tag, s] of this.state) {
      if (s === 1) {
        this.send(() => this.channel.ack(fakeMessage(tag), false));
        this.state.set(tag, 2);
      }
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}

function fakeMessage(tag: number): amqp.Message {
  return { fields: { deliveryTag: tag } } as unknown as amqp.Message;
}
