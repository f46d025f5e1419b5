// One received task: the decoded message, the delivery to settle, and the facts the worker checks (ETA, expiry).

import { ownString, parseIsoMs, type TaskRequestData, type WireMessage } from '../../protocol';
import type { Delivery } from '../brokers/broker';
import type { TaskRequest } from '../task';

export class Request {
  /** Epoch ms of the ETA, or null to run now. */
  readonly etaMs: number | null;
  /** Epoch ms of expiry, or null. */
  readonly expiresMs: number | null;
  readonly receivedAt = Date.now();
  startedAt = 0;
  acknowledged = false;
  private settled = false;
  readonly id: string;
  readonly name: string;
  /** The decoded message; null while parked (held for an ETA with the message left to the broker). */
  private decoded: TaskRequestData | null;
  private readonly shadow: string | null;
  /** Kept while parked, for `inspect scheduled`. */
  private parkedArgsrepr: string | null = null;
  private parkedKwargsrepr: string | null = null;
  /** The eta and expires strings as the sender wrote them (offsets, microseconds), for `inspect scheduled`. */
  private parkedEta: string | null = null;
  private parkedExpires: string | null = null;

  constructor(
    data: TaskRequestData,
    readonly delivery: Delivery,
  ) {
    this.decoded = data;
    this.id = data.id;
    this.name = data.task;
    this.shadow = data.shadow === null ? null : ownString(data.shadow);
    this.etaMs = data.eta ? parseIsoOrNull(data.eta) : null;
    this.expiresMs = data.expires ? parseIsoOrNull(data.expires) : null;
  }

  /** The decoded message; while parked, a summary (id, name, times, argsrepr) without args or headers. */
  get data(): TaskRequestData {
    return this.decoded ?? this.summary();
  }

  /** `name[id]`, as Celery's log lines show a task. */
  get label(): string {
    return `${this.shadow ?? this.name}[${this.id}]`;
  }

  get isParked(): boolean {
    return this.decoded === null;
  }

  /**
   * Held for an ETA: drop the decoded form, and let the delivery drop or compact its message (Delivery.park) until
   * `unpark`. Returns false (and keeps everything) where the delivery cannot park.
   */
  park(): boolean {
    const d = this.delivery;
    if (!d.park || !d.unpark || this.decoded === null || this.settled) return false;
    const own = (text: string | null): string | null => (text === null ? null : ownString(text));
    this.parkedArgsrepr = own(this.decoded.argsrepr);
    this.parkedKwargsrepr = own(this.decoded.kwargsrepr);
    this.parkedEta = own(this.decoded.eta);
    this.parkedExpires = own(this.decoded.expires);
    this.decoded = null;
    d.park();
    return true;
  }

  /**
   * Read a parked message back and decode it; false when the broker no longer has it or `decode` finds it
   * unreadable (null). Rejects only when the broker cannot be asked (try again later).
   */
  async unpark(decode: (message: WireMessage) => TaskRequestData | null): Promise<boolean> {
    if (this.decoded !== null) return true;
    if (!this.delivery.unpark || !(await this.delivery.unpark())) return false;
    const data = decode(this.delivery.message);
    if (data === null) return false;
    this.decoded = data;
    this.parkedArgsrepr = this.parkedKwargsrepr = null;
    this.parkedEta = this.parkedExpires = null;
    return true;
  }

  private summary(): TaskRequestData {
    return {
      protocol: 2,
      id: this.id,
      task: this.name,
      args: [],
      kwargs: {},
      embed: { callbacks: null, errbacks: null, chain: null, chord: null },
      shadow: this.shadow,
      eta: this.parkedEta,
      expires: this.parkedExpires,
      group: null,
      groupIndex: null,
      retries: 0,
      timelimit: [null, null],
      rootId: null,
      parentId: null,
      argsrepr: this.parkedArgsrepr,
      kwargsrepr: this.parkedKwargsrepr,
      origin: null,
      ignoreResult: false,
      replyTo: null,
      correlationId: null,
      headers: {},
    };
  }

  isExpired(now = Date.now()): boolean {
    return this.expiresMs !== null && this.expiresMs <= now;
  }

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    this.acknowledged = true;
    this.delivery.ack();
  }

  reject(requeue: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.delivery.reject(requeue);
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** The `self.request` a task sees. */
  toTaskRequest(hostname: string): TaskRequest {
    const d = this.data;
    return {
      id: d.id,
      task: d.task,
      args: d.args,
      kwargs: d.kwargs,
      retries: d.retries,
      eta: d.eta,
      expires: d.expires,
      group: d.group,
      groupIndex: d.groupIndex,
      rootId: d.rootId,
      parentId: d.parentId,
      correlationId: d.correlationId,
      replyTo: d.replyTo,
      origin: d.origin,
      hostname,
      timelimit: d.timelimit,
      deliveryInfo: { exchange: this.delivery.exchange, routingKey: this.delivery.routingKey, priority: this.delivery.priority, redelivered: this.delivery.redelivered },
      headers: d.headers,
      message: d,
    };
  }
}

function parseIsoOrNull(text: string): number | null {
  const ms = parseIsoMs(text);
  return Number.isNaN(ms) ? null : ms;
}
