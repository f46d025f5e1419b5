// An in-memory BroadcastTransport for unit tests: records what is published and lets a test deliver requests.

import { decodeBody, type WireMessage } from '../../../protocol';
import type { BroadcastTransport, Received, SubscribeSpec, Unsubscribe } from '../../../src/control/transport';
import { jsonMessage } from '../../../src/control/transport';

export interface Sent {
  kind: 'broadcast' | 'direct';
  exchange: string;
  routingKey: string;
  message: WireMessage;
  body: unknown;
}

export class FakeTransport implements BroadcastTransport {
  readonly kind = 'redis' as const;
  readonly displayUrl = 'fake://';
  readonly connected = true;
  readonly sent: Sent[] = [];
  readonly subscriptions: Array<{ spec: SubscribeSpec; handler: (r: Received) => void }> = [];

  async connect(): Promise<void> {}
  async broadcast(exchange: string, _t: 'fanout' | 'topic', _d: boolean, routingKey: string, message: WireMessage): Promise<void> {
    this.sent.push({ kind: 'broadcast', exchange, routingKey, message, body: decodeBody(message) });
  }
  async direct(exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    this.sent.push({ kind: 'direct', exchange, routingKey, message, body: decodeBody(message) });
  }
  async subscribe(spec: SubscribeSpec, handler: (r: Received) => void): Promise<Unsubscribe> {
    const entry = { spec, handler };
    this.subscriptions.push(entry);
    return async () => {
      this.subscriptions.splice(this.subscriptions.indexOf(entry), 1);
    };
  }
  async consumeReplies(): Promise<Unsubscribe> {
    return async () => undefined;
  }
  async close(): Promise<void> {}

  /** Deliver a control request to the subscribers of `exchange`, as a client would publish it. */
  deliver(exchange: string, body: unknown, headers: Record<string, unknown> = { clock: 1, expires: 0 }): void {
    for (const s of this.subscriptions) if (s.spec.exchange === exchange) s.handler({ message: jsonMessage(body, headers, 2), exchange, routingKey: '' });
  }
}
