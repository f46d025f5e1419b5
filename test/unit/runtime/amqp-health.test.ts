// AMQP connection health against a fake amqplib: publishes wait while RabbitMQ blocks the connection (also across a
// reconnect), and a consumer channel the broker closes (consumer_timeout) is reopened without acking stale tags on it.

import { EventEmitter } from 'node:events';
import type { WireMessage } from '../../../protocol';
import { taskQueue, type Delivery } from '../../../src/brokers/broker';

class FakeChannel extends EventEmitter {
  readonly published: string[] = [];
  readonly acked: Array<[number, boolean]> = [];
  readonly rejected: number[] = [];
  onMessage: ((msg: unknown) => void) | undefined;
  consumed: string[] = [];
  closed = false;
  async prefetch(): Promise<void> {}
  async assertExchange(): Promise<void> {}
  async assertQueue(): Promise<void> {}
  async bindQueue(): Promise<void> {}
  async checkQueue(): Promise<{ messageCount: number }> {
    return { messageCount: 0 };
  }
  async consume(queue: string, fn: (msg: unknown) => void): Promise<{ consumerTag: string }> {
    this.consumed.push(queue);
    this.onMessage = fn;
    return { consumerTag: `ctag-${queue}` };
  }
  async cancel(): Promise<void> {}
  publish(_exchange: string, routingKey: string): boolean {
    if (this.closed) throw new Error('Channel closed');
    this.published.push(routingKey);
    return true;
  }
  ack(msg: { fields: { deliveryTag: number } }, multiple: boolean): void {
    if (this.closed) throw new Error('Channel closed');
    this.acked.push([msg.fields.deliveryTag, multiple]);
  }
  reject(msg: { fields: { deliveryTag: number } }): void {
    if (this.closed) throw new Error('Channel closed');
    this.rejected.push(msg.fields.deliveryTag);
  }
  async close(): Promise<void> {
    this.serverClose();
  }
  /** What amqplib does when the server closes the channel: 'error' (for a server close) then 'close'. */
  serverClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (error) this.emit('error', error);
    this.emit('close');
  }
  deliver(tag: number): void {
    this.onMessage?.({ content: Buffer.from('{}'), fields: { deliveryTag: tag, exchange: '', routingKey: 'q', redelivered: false }, properties: { headers: {} } });
  }
}

class FakeConnection extends EventEmitter {
  readonly channels: FakeChannel[] = [];
  async createChannel(): Promise<FakeChannel> {
    const ch = new FakeChannel();
    this.channels.push(ch);
    return ch;
  }
  createConfirmChannel(): Promise<FakeChannel> {
    return this.createChannel();
  }
  async close(): Promise<void> {
    this.drop();
  }
  /** Channels see 'close' before the connection does, as in amqplib. */
  drop(): void {
    for (const ch of this.channels) ch.serverClose();
    this.emit('close');
  }
  get consumerChannels(): FakeChannel[] {
    return this.channels.filter((c) => c.consumed.length > 0);
  }
}

const connections: FakeConnection[] = [];
jest.mock('amqplib', () => ({
  connect: jest.fn(async () => {
    const c = new FakeConnection();
    connections.push(c);
    return c;
  }),
}));

// Imported after the mock so the transport gets the fake.
import { AmqpBroker } from '../../../src/brokers/amqp';
import { until } from '../../helpers/env';

const message: WireMessage = { body: Buffer.from('{}'), contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, properties: {} };
const route = { exchange: '', routingKey: 'q' };

function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

beforeEach(() => {
  connections.length = 0;
});

describe('AMQP: publishing while the connection is blocked', () => {
  test('a publish waits until connection.unblocked, then goes out; it is not failed', async () => {
    const broker = new AmqpBroker('amqp://guest:guest@fake//');
    await broker.connect();
    const conn = connections[0];
    const publishChannel = conn.channels[0];
    conn.emit('blocked', 'low on memory');
    let done = false;
    const p = broker.publish(route, message).then(() => (done = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(done).toBe(false);
    expect(publishChannel.published).toEqual([]);
    conn.emit('unblocked');
    await p;
    expect(publishChannel.published).toEqual(['q']);
    await broker.close();
  });

  test('blocked, then the connection drops: the publish goes out on the new connection, which starts unblocked', async () => {
    const broker = new AmqpBroker('amqp://guest:guest@fake//');
    await broker.connect();
    connections[0].emit('blocked', 'low on disk');
    const p = broker.publish(route, message);
    connections[0].drop();
    await p;
    expect(connections).toHaveLength(2);
    expect(connections[1].channels[0].published).toEqual(['q']);
    // Later publishes are not held by the old connection's blocked state.
    await broker.publish(route, message);
    expect(connections[1].channels[0].published).toEqual(['q', 'q']);
    await broker.close();
  });
});

describe('AMQP: a consumer channel closed by the broker (consumer_timeout)', () => {
  test('a new channel consumes again; settling a delivery of the dead channel sends nothing on the new one', async () => {
    const broker = new AmqpBroker('amqp://guest:guest@fake//');
    await broker.connect();
    const deliveries: Delivery[] = [];
    await broker.consume([taskQueue('q')], (d) => deliveries.push(d), { prefetch: 4 });
    const conn = connections[0];
    const first = conn.consumerChannels[0];
    first.deliver(1);
    first.deliver(2);
    expect(deliveries).toHaveLength(2);
    deliveries[0].ack();
    await tick();
    expect(first.acked).toEqual([[1, true]]);

    first.serverClose(new Error('Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - delivery acknowledgement on channel 2 timed out"'));
    await until(() => conn.consumerChannels.length === 2, 'the consumer channel to reopen');
    const second = conn.consumerChannels[1];
    expect(second.consumed).toEqual(['q']);

    // RabbitMQ redelivers message 2 on the new channel, where tags start again at 1.
    second.deliver(1);
    deliveries[1].ack(); // the stale delivery (tag 2 of the dead channel)
    deliveries[1].reject(true);
    await tick();
    expect(second.acked).toEqual([]);
    expect(second.rejected).toEqual([]);
    deliveries[2].ack();
    await tick();
    expect(second.acked).toEqual([[1, true]]);
    // The connection itself was never dropped.
    expect(connections).toHaveLength(1);
    await broker.close();
  });

  test('the publish channel closed by the broker (e.g. 404 on an unknown exchange) is reopened for the next publish', async () => {
    const broker = new AmqpBroker('amqp://guest:guest@fake//');
    await broker.connect();
    const conn = connections[0];
    conn.channels[0].serverClose(new Error('Channel closed by server: 404 (NOT-FOUND)'));
    await until(() => conn.channels.length === 2, 'the publish channel to reopen');
    await broker.publish(route, message);
    expect(conn.channels[1].published).toEqual(['q']);
    await broker.close();
  });
});

describe('AMQP: failover URL list', () => {
  test('after a drop the broker reconnects to the next URL', async () => {
    const amqplib = jest.requireMock('amqplib') as { connect: jest.Mock };
    amqplib.connect.mockClear();
    const broker = new AmqpBroker('amqp://guest:guest@a//;amqp://guest:guest@b//');
    await broker.connect();
    expect(broker.displayUrl).toBe('amqp://guest:**@a//');
    connections[0].drop();
    await until(() => connections.length === 2 && connections[1].channels.length > 0, 'the reconnect');
    await until(() => broker.displayUrl === 'amqp://guest:**@b//', 'the second URL');
    expect(amqplib.connect.mock.calls.map((c: unknown[]) => String(c[0]).replace(/\?.*/, ''))).toEqual(['amqp://guest:guest@a//', 'amqp://guest:guest@b//']);
    await broker.close();
  });
});
