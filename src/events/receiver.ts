// Receives Celery events (celery.events.EventReceiver): a transient queue `celeryev.<uuid>` bound to `celeryev`
// with `#` (AMQP) or PSUBSCRIBE `/<db>.celeryev/*` (Redis); task.multi lists are split; `local_received` is added.

import { randomUUID } from 'node:crypto';
import { decodeBody } from '../../protocol';
import type { CelerySettings } from '../config';
import { createBroadcastTransport, type BroadcastTransport, type Unsubscribe } from '../control/transport';
import { silentLogger, type Logger } from '../log';
import { LamportClock } from './clock';
import { EVENT_EXCHANGE } from './dispatcher';

export type ReceivedEvent = Record<string, unknown> & { type: string; local_received: number };

export class EventReceiver {
  readonly clock = new LamportClock();
  private transport: BroadcastTransport | null = null;
  private unsubscribe: Unsubscribe | undefined;

  constructor(
    private readonly conf: CelerySettings,
    private readonly handler: (event: ReceivedEvent) => void,
    private readonly logger: Logger = silentLogger,
    /** Binding key: `#` for all events, `task.#` or `worker.#` for one group. */
    private readonly routingKey = '#',
  ) {}

  async start(): Promise<void> {
    this.transport = createBroadcastTransport(this.conf, this.logger);
    if (!this.transport) throw new Error('events need an amqp:// or redis:// broker');
    await this.transport.connect();
    this.unsubscribe = await this.transport.subscribe(
      {
        queue: `celeryev.${randomUUID()}`,
        exchange: EVENT_EXCHANGE,
        exchangeType: 'topic',
        exchangeDurable: true,
        routingKey: this.routingKey,
        // event_queue_ttl 5 s, event_queue_expires 60 s (Celery's defaults)
        arguments: { 'x-message-ttl': 5000, 'x-expires': 60000 },
      },
      (r) => {
        let body: unknown;
        try {
          body = decodeBody(r.message);
        } catch (err) {
          this.logger.warning(`cannot decode an event: ${(err as Error).message}`);
          return;
        }
        const now = Date.now() / 1000;
        for (const e of Array.isArray(body) ? body : [body]) {
          if (!e || typeof e !== 'object' || typeof (e as { type?: unknown }).type !== 'string') continue;
          const event = e as ReceivedEvent;
          this.clock.adjust(event.clock ?? 0);
          event.local_received = now;
          this.handler(event);
        }
      },
    );
  }

  async close(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
    await this.transport?.close().catch(() => undefined);
    this.transport = null;
  }
}
