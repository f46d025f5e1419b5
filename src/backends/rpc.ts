// RPC result backend (`rpc://`): each state is a message to the client's reply queue (`reply_to`, default
// exchange, correlation_id = task id), as Celery's; the client consumes its own queue, no storage in between.

import { decodeResultMeta, JSON_CONTENT_TYPE, stringifyJson, type ResultMeta } from '../../protocol';
import type { Broker, Consumer, Delivery, QueueSpec } from '../brokers/broker';
import { silentLogger, type Logger } from '../log';
import type { ResultBackend, StoreContext, Unwatch } from './backend';

/**
 * The latest state of at most this many tasks is kept for get(): a long-lived client would otherwise hold every
 * reply it ever received. Celery's RPC consumer keeps a bounded buffer too; the oldest entries go first.
 */
export const RPC_LATEST_MAX = 10000;

export class RpcBackend implements ResultBackend {
  readonly kind = 'rpc' as const;
  private consumer: Consumer | undefined;
  private consuming: Promise<void> | undefined;
  private readonly latest = new Map<string, ResultMeta>();
  private readonly listeners = new Map<string, Set<(meta: ResultMeta) => void>>();

  constructor(
    private readonly broker: Broker,
    /** This client's reply queue (Celery's app.thread_oid), sent as `reply_to` with each task. */
    readonly replyQueue: string,
    private readonly expires: number | null = 86400,
    private readonly persistent = false,
    private readonly logger: Logger = silentLogger,
  ) {}

  async connect(): Promise<void> {}

  /** The reply queue as Celery declares it: non-durable, auto-delete, expiring after result_expires. */
  replyQueueSpec(): QueueSpec {
    const args: Record<string, unknown> = {};
    if (this.expires) args['x-expires'] = Math.round(this.expires * 1000);
    return { name: this.replyQueue, exchange: '', exchangeType: 'direct', routingKey: this.replyQueue, durable: false, autoDelete: true, arguments: args };
  }

  /** Declare and consume the reply queue; called before the first task is sent so no reply is missed. */
  async ensureConsuming(): Promise<void> {
    this.consuming ??= (async () => {
      this.consumer = await this.broker.consume([this.replyQueueSpec()], (d) => this.onReply(d), { prefetch: 0, noAck: true });
    })();
    return this.consuming;
  }

  private onReply(delivery: Delivery): void {
    let meta: ResultMeta;
    try {
      meta = decodeResultMeta(delivery.message.body);
    } catch (err) {
      this.logger.warning(`unreadable RPC reply: ${(err as Error).message}`);
      return;
    }
    const id = meta.task_id || delivery.message.properties.correlationId || '';
    meta.task_id = id;
    this.latest.delete(id); // re-inserted last: the map's order is the eviction order
    this.latest.set(id, meta);
    if (this.latest.size > RPC_LATEST_MAX) {
      for (const old of this.latest.keys()) {
        if (this.latest.size <= RPC_LATEST_MAX) break;
        if (!this.listeners.has(old)) this.latest.delete(old); // a task someone waits on keeps its entry
      }
    }
    const set = this.listeners.get(id);
    if (set) for (const fn of [...set]) fn(meta);
  }

  async store(meta: ResultMeta, context: StoreContext): Promise<void> {
    if (!context.replyTo) return; // Celery also skips a result with nowhere to go
    const body = stringifyJson({ task_id: meta.task_id, status: meta.status, result: meta.result, traceback: meta.traceback, children: meta.children });
    await this.broker.publish(
      { exchange: '', routingKey: context.replyTo },
      {
        body: Buffer.from(body, 'utf8'),
        contentType: JSON_CONTENT_TYPE,
        contentEncoding: 'utf-8',
        headers: {},
        properties: { correlationId: context.correlationId ?? meta.task_id, deliveryMode: this.persistent ? 2 : 1, priority: 0 },
      },
    );
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    await this.ensureConsuming();
    return this.latest.get(taskId) ?? null;
  }

  async watch(taskId: string, onMeta: (meta: ResultMeta) => void): Promise<Unwatch> {
    await this.ensureConsuming();
    let set = this.listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.listeners.set(taskId, set);
    }
    set.add(onMeta);
    const current = this.latest.get(taskId);
    if (current) onMeta(current);
    return () => {
      set.delete(onMeta);
      if (set.size === 0) this.listeners.delete(taskId);
    };
  }

  async forget(taskId: string): Promise<void> {
    this.latest.delete(taskId);
  }

  async close(): Promise<void> {
    await this.consumer?.cancel();
    this.listeners.clear();
  }
}
