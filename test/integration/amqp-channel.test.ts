// A consumer channel that RabbitMQ itself closes (406 PRECONDITION_FAILED, the path of consumer_timeout, which this
// RabbitMQ cannot set per queue) is reopened: consuming resumes, redeliveries are acked on the new channel, and
// settling a delivery of the dead channel never closes the new one.

import type * as amqp from 'amqplib';
import { Celery, Worker } from '../../src';
import { AmqpBroker } from '../../src/brokers/amqp';
import { taskQueue, type Delivery } from '../../src/brokers/broker';
import { createLogger } from '../../src/log';
import type { WireMessage } from '../../protocol';
import { AMQP_URL, describeWith, REDIS_URL, uniqueName, until } from '../helpers/env';

function message(n: number): WireMessage {
  return { body: Buffer.from(JSON.stringify(n)), contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, properties: {} };
}

/** The live consumer channel of the broker's only consumer (internal state, read for the test only). */
function consumerChannel(broker: AmqpBroker): amqp.Channel | undefined {
  const records = (broker as unknown as { consumers: Set<{ channel?: amqp.Channel }> }).consumers;
  return [...records][0]?.channel;
}

describeWith(['amqp'], 'AMQP consumer channel closed by the broker', () => {
  test('406 on the consumer channel: a new channel consumes again, stale deliveries are not settled on it, nothing is lost', async () => {
    const queue = uniqueName('amqp-channel');
    const lines: string[] = [];
    const broker = new AmqpBroker(AMQP_URL, {}, createLogger({ level: 'info', write: (l) => lines.push(l) }));
    const admin = new AmqpBroker(AMQP_URL);
    await broker.connect();
    await admin.connect();
    let closed = false;
    try {
      const deliveries: Delivery[] = [];
      await broker.consume([taskQueue(queue)], (d) => deliveries.push(d), { prefetch: 10 });
      for (let i = 0; i < 3; i++) await broker.publish({ exchange: '', routingKey: queue }, message(i));
      await until(() => deliveries.length === 3, 'three deliveries');
      deliveries[0].ack();
      // Acks go out batched on the next turn: let this one reach RabbitMQ before the channel dies.
      await new Promise((r) => setImmediate(r));
      const first = consumerChannel(broker);
      expect(first).toBeDefined();
      // An ack of a tag the server never sent: RabbitMQ closes the channel with 406 PRECONDITION_FAILED.
      first?.ack({ fields: { deliveryTag: 999999 } } as unknown as amqp.Message);
      await until(() => lines.some((l) => /consuming again from/.test(l)), 'the channel to reopen');
      expect(lines.join('\n')).toMatch(/PRECONDITION_FAILED/);
      const second = consumerChannel(broker);
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      // The two unacked messages come back on the new channel, marked redelivered (tags 1 and 2 again).
      await until(() => deliveries.length === 5, 'the redeliveries');
      expect(deliveries.map((d) => d.isLive?.())).toEqual([false, false, false, true, true]);
      expect(deliveries.slice(3).map((d) => [JSON.parse(d.message.body.toString()), d.redelivered])).toEqual([[1, true], [2, true]]);
      // Settling the dead channel's deliveries must send nothing (their tags 2 and 3 mean other things now).
      deliveries[1].ack();
      deliveries[2].reject(true);
      deliveries[3].ack();
      deliveries[4].ack();
      await broker.publish({ exchange: '', routingKey: queue }, message(3));
      await until(() => deliveries.length === 6, 'a new message on the new channel');
      deliveries[5].ack();
      expect(consumerChannel(broker)).toBe(second);
      await broker.close();
      closed = true;
      // Everything was acked: nothing went back to the queue when the consumer closed.
      expect(await admin.size(queue)).toBe(0);
      expect(lines.filter((l) => /consumer channel error/.test(l))).toHaveLength(1);
    } finally {
      if (!closed) await broker.close();
      await admin.purge(queue).catch(() => 0);
      const ch = await admin.model?.createChannel();
      await ch?.deleteQueue(queue);
      await admin.close();
    }
  }, 60000);

  test('a worker does not run the reserved requests of a channel the broker closed: each task runs once', async () => {
    const queue = uniqueName('amqp-channel-worker');
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const app = new Celery({ broker: AMQP_URL, backend: REDIS_URL, logger });
    const runs = new Map<number, number>();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    app.task('t.block', () => gate.then(() => 'released'));
    app.task('t.count', { params: ['n'] }, (n: number) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      return n;
    });
    const worker = new Worker(app, { queues: [queue], concurrency: 1, logger });
    try {
      await worker.start();
      const blocked = await app.sendTask('t.block', [], {}, { queue });
      await until(() => lines.some((l) => l.includes(`t.block[${blocked.id}] received`)), 'the blocking task to start');
      const counted = await Promise.all([1, 2, 3].map((n) => app.sendTask<number>('t.count', [n], {}, { queue })));
      await until(() => counted.every((r) => lines.some((l) => l.includes(`t.count[${r.id}] received`))), 'the reserved tasks');
      consumerChannel(app.broker as AmqpBroker)?.ack({ fields: { deliveryTag: 999999 } } as unknown as amqp.Message);
      await until(() => lines.some((l) => /consuming again from/.test(l)), 'the channel to reopen');
      await until(() => counted.every((r) => lines.filter((l) => l.includes(`t.count[${r.id}] received`)).length === 2), 'the redeliveries');
      release();
      expect(await Promise.all(counted.map((r) => r.get({ timeout: 20 })))).toEqual([1, 2, 3]);
      expect(await blocked.get({ timeout: 20 })).toBe('released');
      expect([...runs.entries()].sort()).toEqual([[1, 1], [2, 1], [3, 1]]);
      expect(lines.filter((l) => /not started: its channel closed/.test(l))).toHaveLength(3);
    } finally {
      release();
      await worker.stop();
      await app.broker.purge(queue).catch(() => 0);
      await app.close();
    }
  }, 60000);
});
