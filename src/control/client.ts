// The control client (celery.app.control.Control over kombu's Mailbox): broadcast a command on `celery.pidbox`
// with a ticket and reply_to, and collect `{hostname: reply}` replies from `<oid>.reply.celery.pidbox` until the
// timeout or the expected number of replies.

import { randomUUID } from 'node:crypto';
import { decodeBody } from '../../protocol';
import type { CelerySettings } from '../config';
import { LamportClock } from '../events/clock';
import { silentLogger, type Logger } from '../log';
import { createBroadcastTransport, jsonMessage, type BroadcastTransport } from './transport';

export interface BroadcastOptions {
  arguments?: Record<string, unknown>;
  /** Node names; omitted = every worker. */
  destination?: string[];
  pattern?: string;
  matcher?: string;
  /** Wait for replies (inspect and most control commands). */
  reply?: boolean;
  /** Seconds to wait for replies (default 1). */
  timeout?: number;
  /** Stop after this many replies (default: the number of destinations). */
  limit?: number;
  /** Called with each reply as it arrives. */
  onReply?: (reply: Record<string, unknown>) => void;
}

export class ControlClient {
  readonly oid = randomUUID();
  readonly clock = new LamportClock();
  private transport: BroadcastTransport | undefined;
  private connecting: Promise<BroadcastTransport> | undefined;

  constructor(
    private readonly conf: CelerySettings,
    private readonly logger: Logger = silentLogger,
    private readonly namespace = 'celery',
  ) {}

  private connect(): Promise<BroadcastTransport> {
    this.connecting ??= (async () => {
      const t = createBroadcastTransport(this.conf, this.logger);
      if (!t) throw new Error('remote control needs an amqp:// or redis:// broker (memory:// has no workers to ask)');
      await t.connect();
      this.transport = t;
      return t;
    })();
    return this.connecting;
  }

  /** Send a command; with `reply`, resolve with the list of `{node: reply}` objects received in time. */
  async broadcast(command: string, options: BroadcastOptions = {}): Promise<Array<Record<string, unknown>>> {
    const transport = await this.connect();
    const timeout = options.timeout ?? 1;
    const ticket = options.reply ? randomUUID() : null;
    const replies: Array<Record<string, unknown>> = [];
    const limit = options.limit ?? (options.destination && options.destination.length > 0 ? options.destination.length : undefined);
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    let stopReplies: (() => Promise<void>) | undefined;
    const replyExchange = `reply.${this.namespace}.pidbox`;
    if (ticket) {
      stopReplies = await transport.consumeReplies(`${this.oid}.${replyExchange}`, replyExchange, this.oid, (r) => {
        this.clock.adjust(r.message.headers.clock ?? 0);
        if ((r.message.headers.ticket ?? ticket) !== ticket) return; // a late reply to an earlier call
        let body: unknown;
        try {
          body = decodeBody(r.message);
        } catch (err) {
          this.logger.warning(`cannot decode a control reply: ${(err as Error).message}`);
          return;
        }
        if (!body || typeof body !== 'object') return;
        replies.push(body as Record<string, unknown>);
        options.onReply?.(body as Record<string, unknown>);
        if (limit !== undefined && replies.length >= limit) done();
      });
    }
    const body: Record<string, unknown> = {
      method: command,
      arguments: options.arguments ?? {},
      destination: options.destination && options.destination.length > 0 ? options.destination : null,
      pattern: options.pattern ?? null,
      matcher: options.matcher ?? null,
    };
    if (ticket) {
      body.ticket = ticket;
      body.reply_to = { exchange: replyExchange, routing_key: this.oid };
    }
    const headers = { clock: this.clock.forward(), expires: Date.now() / 1000 + timeout };
    await transport.broadcast(`${this.namespace}.pidbox`, 'fanout', false, '', jsonMessage(body, headers, 2));
    if (!ticket) return [];
    const timer = setTimeout(done, timeout * 1000);
    await finished;
    clearTimeout(timer);
    await stopReplies?.();
    return replies;
  }

  /** Replies merged into `{node: reply}` (Celery's flatten_reply). */
  async call(command: string, options: BroadcastOptions = {}): Promise<Record<string, unknown>> {
    const replies = await this.broadcast(command, { ...options, reply: true });
    return Object.assign({}, ...replies) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    const t = this.transport ?? (this.connecting ? await this.connecting.catch(() => undefined) : undefined);
    this.transport = undefined;
    this.connecting = undefined;
    await t?.close();
  }
}
