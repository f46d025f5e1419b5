// One received task: the decoded message, the delivery to settle, and the facts the worker checks (ETA, expiry).

import { parseIsoMs, type TaskRequestData } from '../../protocol';
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

  constructor(
    readonly data: TaskRequestData,
    readonly delivery: Delivery,
  ) {
    this.etaMs = data.eta ? parseIsoOrNull(data.eta) : null;
    this.expiresMs = data.expires ? parseIsoOrNull(data.expires) : null;
  }

  get id(): string {
    return this.data.id;
  }

  get name(): string {
    return this.data.task;
  }

  /** `name[id]`, as Celery's log lines show a task. */
  get label(): string {
    return `${this.data.shadow ?? this.data.task}[${this.data.id}]`;
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
