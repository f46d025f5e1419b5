// Ceiling consumer for RabbitMQ: amqplib straight, prefetch N, decode JSON, run the task, write the result, and ack the
// settled prefix of delivery tags with one `multiple=true` ack per tick.

import * as amqp from 'amqplib';
import type { Redis } from 'ioredis';
import type { JsonValue } from '../lib/celery-format';
import { execute, ResultWriter } from './results';

export interface CeilingOptions {
  brokerUrl: string;
  queue: string;
  /** Messages held at once (prefetch); also the number of sleep tasks running at once. */
  prefetch: number;
  results: Redis;
}

export interface RunningConsumer {
  /** Stop consuming, finish what is in hand, flush results and acks, close. */
  stop(): Promise<void>;
}

export async function consumeAmqp(o: CeilingOptions): Promise<RunningConsumer> {
  const conn = await amqp.connect(o.brokerUrl);
  const ch = await conn.createChannel();
  await ch.assertQueue(o.queue, { durable: true, autoDelete: false });
  await ch.prefetch(o.prefetch, false);
  const writer = new ResultWriter(o.results);

  // Delivery tags on a channel are 1, 2, 3…; ack the longest settled prefix with multiple=true.
  const held = new Map<number, amqp.ConsumeMessage>();
  const settled = new Set<number>();
  let ackedUpTo = 0;
  let ackScheduled = false;
  let running = 0;
  let idle: (() => void) | undefined;

  const flushAcks = (): void => {
    ackScheduled = false;
    let last: amqp.ConsumeMessage | undefined;
    while (settled.has(ackedUpTo + 1)) {
      ackedUpTo++;
      settled.delete(ackedUpTo);
      last = held.get(ackedUpTo);
      held.delete(ackedUpTo);
    }
    if (last) ch.ack(last, true);
  };

  const onMessage = (msg: amqp.ConsumeMessage | null): void => {
    if (!msg) return;
    const tag = msg.fields.deliveryTag;
    held.set(tag, msg);
    running++;
    const headers = msg.properties.headers ?? {};
    const body = JSON.parse(msg.content.toString('utf8')) as [JsonValue[], Record<string, JsonValue>, unknown];
    execute(String(headers.task), body[0], String(headers.id), writer, () => {
      running--;
      settled.add(tag);
      if (!ackScheduled) {
        ackScheduled = true;
        setImmediate(flushAcks);
      }
      if (running === 0) idle?.();
    });
  };

  const { consumerTag } = await ch.consume(o.queue, onMessage, { noAck: false });
  return {
    async stop() {
      await ch.cancel(consumerTag);
      if (running > 0) await new Promise<void>((r) => (idle = r));
      flushAcks();
      await writer.flush();
      await ch.close();
      await conn.close();
    },
  };
}
