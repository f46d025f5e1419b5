// The bare Node producer: writes Celery-format task messages straight to RabbitMQ (amqplib) or Redis (LPUSH in
// pipelines). Used to pre-fill queues for the worker workloads and as the producer-rate ceiling.

import * as amqp from 'amqplib';
import { Redis } from 'ioredis';
import { amqpProps, redisBindingMember, redisEnvelope, taskBody, type TaskSpec } from '../lib/celery-format';

export interface BareProducer {
  /** Publish these tasks to `queue`; resolves when the client has handed all of them over. */
  publish(queue: string, tasks: readonly TaskSpec[]): Promise<void>;
  /** Resolves once the broker has everything published so far (AMQP: publisher confirms). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Declare the queue as Celery does (direct exchange of the same name, durable queue, binding). */
export async function declareAmqpQueue(ch: amqp.Channel, queue: string): Promise<void> {
  await ch.assertExchange(queue, 'direct', { durable: true, autoDelete: false });
  await ch.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false });
  await ch.bindQueue(queue, queue, queue);
}

export async function amqpProducer(url: string, confirm: boolean): Promise<BareProducer> {
  const conn = await amqp.connect(url);
  const ch: amqp.Channel | amqp.ConfirmChannel = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
  const declared = new Set<string>();
  return {
    async publish(queue, tasks) {
      if (!declared.has(queue)) {
        await declareAmqpQueue(ch, queue);
        declared.add(queue);
      }
      for (const t of tasks) {
        const ok = ch.publish('', queue, Buffer.from(taskBody(t.args), 'utf8'), amqpProps(t));
        if (!ok) await new Promise<void>((r) => ch.once('drain', r));
      }
    },
    async settle() {
      if ('waitForConfirms' in ch) await ch.waitForConfirms();
    },
    async close() {
      await ch.close();
      await conn.close();
    },
  };
}

export async function redisProducer(url: string, batch = 500): Promise<BareProducer> {
  const client = new Redis(url);
  const declared = new Set<string>();
  let last: Promise<unknown> = Promise.resolve();
  return {
    async publish(queue, tasks) {
      if (!declared.has(queue)) {
        await client.sadd(`_kombu.binding.${queue}`, redisBindingMember(queue));
        declared.add(queue);
      }
      for (let i = 0; i < tasks.length; i += batch) {
        const envelopes = tasks.slice(i, i + batch).map((t) => redisEnvelope(t, queue));
        // kombu sends one LPUSH per message; a multi-value LPUSH leaves the list in the same order, for less work.
        const previous = last; // keep two batches in flight: build the next while Redis takes this one
        last = client.lpush(queue, ...envelopes);
        await previous;
      }
    },
    async settle() {
      await last;
    },
    async close() {
      await client.quit();
    },
  };
}

export function bareProducer(brokerUrl: string, confirm = true): Promise<BareProducer> {
  return /^rediss?:/.test(brokerUrl) ? redisProducer(brokerUrl) : amqpProducer(brokerUrl, confirm);
}
