// A worker's mailbox (kombu.pidbox.Node): consumes `<hostname>.celery.pidbox` (AMQP, bound to the `celery.pidbox`
// fanout) or PSUBSCRIBEs `/<db>.celery.pidbox` (Redis), runs the commands meant for this node and replies to
// `reply.celery.pidbox` with routing key = the client's oid, headers {ticket, clock}.

import { decodeBody } from '../../protocol';
import type { LamportClock } from '../events/clock';
import { silentLogger, type Logger } from '../log';
import { NO_REPLY } from './commands';
import { jsonMessage, type BroadcastTransport, type Received, type Unsubscribe } from './transport';

export interface ControlRequest {
  method: string;
  arguments?: Record<string, unknown> | null;
  destination?: string[] | null;
  pattern?: string | null;
  matcher?: string | null;
  ticket?: string | null;
  reply_to?: { exchange: string; routing_key: string } | null;
}

/** kombu.matcher.match: `glob` (fnmatch) or `pcre` (re.match, anchored at the start). */
export function matchNode(hostname: string, pattern: string, matcher: string | null | undefined): boolean {
  if (!matcher || matcher === 'glob') {
    const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.').replace(/\[!/g, '[^');
    return new RegExp(`^${re}$`).test(hostname);
  }
  if (matcher === 'pcre') return new RegExp(pattern, 'y').test(hostname);
  return false;
}

/** Is this request for this node? (destination list, else pattern+matcher, else a broadcast to all) */
export function isForNode(hostname: string, req: ControlRequest): boolean {
  if (req.destination && req.destination.length > 0) return req.destination.includes(hostname);
  if (req.pattern && req.matcher) return matchNode(hostname, req.pattern, req.matcher);
  return true;
}

export type Dispatch = (method: string, args: Record<string, unknown>) => Promise<unknown>;

export class PidboxNode {
  private unsubscribe: Unsubscribe | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly transport: BroadcastTransport,
    readonly hostname: string,
    private readonly clock: LamportClock,
    private readonly dispatch: Dispatch,
    options: { logger?: Logger; namespace?: string } = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.namespace = options.namespace ?? 'celery';
  }

  private readonly namespace: string;

  get queueName(): string {
    return `${this.hostname}.${this.namespace}.pidbox`;
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.transport.subscribe(
      {
        queue: this.queueName,
        exchange: `${this.namespace}.pidbox`,
        exchangeType: 'fanout',
        exchangeDurable: false,
        routingKey: '',
        // control_queue_expires 10 s, control_queue_ttl 300 s (Celery's defaults)
        arguments: { 'x-expires': 10000, 'x-message-ttl': 300000 },
      },
      (r) => void this.onMessage(r),
    );
  }

  async stop(): Promise<void> {
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    if (u) await u().catch(() => undefined);
  }

  private async onMessage(r: Received): Promise<void> {
    this.clock.forward(); // Celery's Pidbox.on_message: clients rarely carry a useful clock
    let req: ControlRequest;
    try {
      const body = decodeBody(r.message);
      if (!body || typeof body !== 'object' || Array.isArray(body) || typeof (body as ControlRequest).method !== 'string') throw new Error('not a control request');
      req = body as ControlRequest;
    } catch (err) {
      this.logger.error(`Cannot decode control message: ${(err as Error).message}`);
      return;
    }
    this.clock.adjust(r.message.headers.clock ?? 0);
    if (!isForNode(this.hostname, req)) return;
    this.logger.debug(`pidbox received method ${req.method}(${JSON.stringify(req.arguments ?? {})}) [reply_to:${JSON.stringify(req.reply_to ?? null)} ticket:${req.ticket ?? null}]`);
    const result = await this.dispatch(req.method, req.arguments ?? {});
    if (result === NO_REPLY || !req.reply_to) return;
    try {
      await this.transport.direct(
        req.reply_to.exchange,
        req.reply_to.routing_key,
        jsonMessage({ [this.hostname]: result ?? null }, { ticket: req.ticket ?? null, clock: this.clock.forward() }, 1),
      );
    } catch (err) {
      this.logger.warning(`pidbox: cannot reply to ${req.method}: ${(err as Error).message}`);
    }
  }
}
