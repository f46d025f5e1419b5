// The services a run uses: broker URLs, the bench Redis DB (results, and the queue on Redis runs), queue lengths,
// and clean-up (queues and exchanges deleted on RabbitMQ, FLUSHDB of the bench DB).

import * as amqp from 'amqplib';
import { Redis } from 'ioredis';

export type BrokerName = 'amqp' | 'redis';

export interface Services {
  redisDb: number;
  amqpUrl: string;
  redisBase: string;
  /** Client on the bench DB. */
  redis: Redis;
  brokerUrl(b: BrokerName): string;
  backendUrl(): string;
  queueLength(b: BrokerName, queue: string): Promise<number>;
  /** Declare a queue the way Celery does, so a length can be asked before anyone else declared it. */
  ensureQueue(b: BrokerName, queue: string): Promise<void>;
  /** Delete the queue (and its exchange) on RabbitMQ, FLUSHDB on the bench DB. */
  cleanup(b: BrokerName, queue: string): Promise<void>;
  close(): Promise<void>;
}

export async function openServices(o: { amqpUrl: string; redisBase: string; redisDb: number }): Promise<Services> {
  const backend = `${o.redisBase}/${o.redisDb}`;
  const redis = new Redis(backend);
  await redis.ping();
  let conn: amqp.ChannelModel | undefined;
  let ch: amqp.Channel | undefined;
  const channel = async (): Promise<amqp.Channel> => {
    if (ch) return ch;
    conn ??= await amqp.connect(o.amqpUrl);
    const c = await conn.createChannel();
    c.on('error', () => undefined); // a 404 closes the channel; we open a new one next time
    c.on('close', () => {
      if (ch === c) ch = undefined;
    });
    ch = c;
    return c;
  };
  return {
    redisDb: o.redisDb,
    amqpUrl: o.amqpUrl,
    redisBase: o.redisBase,
    redis,
    brokerUrl: (b) => (b === 'amqp' ? o.amqpUrl : backend),
    backendUrl: () => backend,
    async queueLength(b, queue) {
      if (b === 'redis') return redis.llen(queue);
      return (await (await channel()).checkQueue(queue)).messageCount;
    },
    async ensureQueue(b, queue) {
      if (b === 'redis') return;
      const c = await channel();
      await c.assertExchange(queue, 'direct', { durable: true, autoDelete: false });
      await c.assertQueue(queue, { durable: true, autoDelete: false });
      await c.bindQueue(queue, queue, queue);
    },
    async cleanup(b, queue) {
      if (b === 'amqp') {
        try {
          const c = await channel();
          await c.deleteQueue(queue);
          await c.deleteExchange(queue);
        } catch {
          /* already gone */
        }
      }
      await redis.flushdb();
    },
    async close() {
      await redis.quit();
      if (ch) await ch.close().catch(() => undefined);
      if (conn) await conn.close().catch(() => undefined);
    },
  };
}
