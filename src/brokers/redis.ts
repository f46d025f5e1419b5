// kombu-compatible Redis transport: queue lists with priority sub-lists, `_kombu.binding.*` sets, the
// `unacked` hash + `unacked_index` zset with visibility-timeout restore, and fanout over PUB/SUB.
// Goes past kombu where it is safe: batched atomic fetch (pop + unacked bookkeeping in one script) and batched acks.

import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { DecodeError, decodeEnvelope, decodeEnvelopeValue, encodeEnvelope, markRedelivered, parseJson, type RedisDelivery as DecodedEnvelope, type WireMessage } from '../../protocol';
import type { Logger } from '../log';
import { silentLogger } from '../log';
import { maskUrl } from '../url';
import { connectRedis, type RedisEndpoint } from './redis-connection';
import type { Broker, ConsumeOptions, Consumer, Delivery, DeliveryHandler, QueueSpec, Route } from './broker';

const SEP = '\x06\x16';
/** The tag as the fetch script finds it (same pattern), to settle messages that fail to decode. */
const TAG_PATTERN = /"delivery_tag":\s*"([\w-]+)"/;
const DEFAULT_PRIORITY_STEPS = [0, 3, 6, 9];
const FETCH_BATCH = 200;
/** The idle wait on one of several lists: messages on the others are fetched at most this late (seconds). */
const IDLE_WAIT_SECONDS = 0.2;

export interface RedisTransportOptions {
  visibility_timeout?: number;
  priority_steps?: number[];
  global_keyprefix?: string;
  /** How often (seconds) to look for messages whose visibility timeout passed. */
  unacked_restore_interval?: number;
}

/**
 * Pops up to ARGV[1] messages across the lists in KEYS[3..] (in order) and records each in the unacked
 * hash/zset in the same atomic step, so a crash between pop and bookkeeping cannot lose a message.
 * Returns [list, raw, list, raw, …]. A message whose tag cannot be read is returned without bookkeeping.
 */
const FETCH_SCRIPT = `
local want = tonumber(ARGV[1])
local now = ARGV[2]
local out, z, h = {}, {}, {}
for i = 3, #KEYS do
  if want <= 0 then break end
  local msgs = redis.call('RPOP', KEYS[i], want)
  if msgs then
    for _, raw in ipairs(msgs) do
      -- Fast path: read the tag and route with patterns (kombu writes them plainly); anything unusual is decoded.
      local tag = string.match(raw, '"delivery_tag":%s*"([%w%-]+)"')
      local di = string.match(raw, '"delivery_info":%s*(%b{})')
      local ex = di and string.match(di, '"exchange":%s*"([^"\\\\]*)"')
      local rk = di and string.match(di, '"routing_key":%s*"([^"\\\\]*)"')
      if not (tag and ex and rk) then
        tag, ex, rk = nil, '', ''
        local ok, env = pcall(cjson.decode, raw)
        if ok and type(env) == 'table' and type(env.properties) == 'table' and type(env.properties.delivery_tag) == 'string' then
          tag = env.properties.delivery_tag
          local info = env.properties.delivery_info
          if type(info) == 'table' then
            if type(info.exchange) == 'string' then ex = info.exchange end
            if type(info.routing_key) == 'string' then rk = info.routing_key end
          end
        end
      end
      if tag then
        z[#z + 1] = now
        z[#z + 1] = tag
        h[#h + 1] = tag
        h[#h + 1] = '[' .. raw .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']'
      end
      out[#out + 1] = KEYS[i]
      out[#out + 1] = raw
    end
    want = want - #msgs
  end
end
if #z > 0 then
  redis.call('ZADD', KEYS[1], unpack(z))
  redis.call('HSET', KEYS[2], unpack(h))
end
return out
`;

/** Restores one unacked message if it is still the one we read: compare, remove from unacked, push back. */
const RESTORE_SCRIPT = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  if ARGV[3] == 'head' then redis.call('RPUSH', KEYS[i], ARGV[4]) else redis.call('LPUSH', KEYS[i], ARGV[4]) end
end
return 1
`;

/** Releases the restore mutex only if we still hold it (kombu's compare-and-delete). */
const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type ScriptClient = Redis & {
  celeriacFetch(numKeys: number, ...args: (string | number)[]): Promise<string[]>;
  celeriacRestore(numKeys: number, ...args: (string | number)[]): Promise<number>;
  celeriacUnlock(numKeys: number, ...args: string[]): Promise<number>;
};

export { connectRedis } from './redis-connection';

export class RedisBroker implements Broker {
  readonly transport = 'redis' as const;
  readonly displayUrl: string;
  onReconnect: (() => void) | undefined;
  private client!: ScriptClient;
  private readonly consumers = new Set<RedisConsumer>();
  private readonly bindingCache = new Map<string, { at: number; queues: string[] }>();
  private readonly prefix: string;
  readonly visibilityTimeout: number;
  readonly prioritySteps: number[];
  private restoreTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly restoreInterval: number;
  private readonly ackBatch: string[] = [];
  private closing = false;
  /** Requeues under way; close() waits for them so no message is left stranded in "unacked". */
  private readonly pendingRestores = new Set<Promise<unknown>>();
  private ackScheduled = false;

  private readonly endpoint: RedisEndpoint;

  constructor(
    url: string | RedisEndpoint,
    private readonly options: RedisTransportOptions = {},
    private readonly logger: Logger = silentLogger,
  ) {
    this.endpoint = typeof url === 'string' ? { url } : url;
    this.displayUrl = maskUrl(this.endpoint.url);
    this.prefix = options.global_keyprefix ?? '';
    this.visibilityTimeout = options.visibility_timeout ?? 3600;
    this.prioritySteps = [...(options.priority_steps ?? DEFAULT_PRIORITY_STEPS)].sort((a, b) => a - b);
    this.restoreInterval = (options.unacked_restore_interval ?? 10) * 1000;
  }

  key(name: string): string {
    return this.prefix + name;
  }

  get unackedKey(): string {
    return this.key('unacked');
  }
  get unackedIndexKey(): string {
    return this.key('unacked_index');
  }

  async connect(): Promise<void> {
    const client = (await connectRedis(this.endpoint, 'broker', this.logger)) as ScriptClient;
    client.defineCommand('celeriacFetch', { lua: FETCH_SCRIPT });
    client.defineCommand('celeriacRestore', { lua: RESTORE_SCRIPT });
    client.defineCommand('celeriacUnlock', { lua: UNLOCK_SCRIPT });
    client.on('ready', () => this.onReconnect?.());
    this.client = client;
  }

  /** A second connection for blocking commands (BLMOVE, BRPOP), which would stall everything else on a shared one. */
  async blockingClient(): Promise<Redis> {
    return connectRedis(this.endpoint, 'broker (consumer)', this.logger);
  }

  /** Another connection to the same server (TLS, failover and Sentinel included), e.g. for a broadcast subscriber. */
  openConnection(what: string): Promise<Redis> {
    return connectRedis(this.endpoint, what, this.logger);
  }

  async declareQueue(queue: QueueSpec): Promise<void> {
    if (queue.exchange === '') return; // the default exchange routes by queue name; nothing to bind
    // kombu: SADD _kombu.binding.<exchange> "<routing_key>\x06\x16<pattern>\x06\x16<queue>"
    await this.client.sadd(this.key(`_kombu.binding.${queue.exchange}`), `${queue.routingKey}${SEP}${SEP}${queue.name}`);
    this.bindingCache.delete(queue.exchange);
  }

  /** The list key for a queue at a message priority (largest step <= priority, 0-9 clamp, as kombu). */
  listFor(queue: string, priority: number | undefined): string {
    const p = Math.max(0, Math.min(9, Math.trunc(priority ?? 0) || 0));
    let step = this.prioritySteps[0];
    for (const s of this.prioritySteps) if (s <= p) step = s;
    return step ? this.key(`${queue}${SEP}${step}`) : this.key(queue);
  }

  /** All list keys for some queues, step-major (as kombu's BRPOP order): priority 0 of every queue first. */
  listKeys(queues: string[]): string[] {
    const keys: string[] = [];
    for (const step of this.prioritySteps) for (const q of queues) keys.push(step ? this.key(`${q}${SEP}${step}`) : this.key(q));
    return keys;
  }

  /** The queue a list key belongs to. */
  queueOfList(list: string): string {
    const bare = list.startsWith(this.prefix) ? list.slice(this.prefix.length) : list;
    const i = bare.indexOf(SEP);
    return i === -1 ? bare : bare.slice(0, i);
  }

  private async lookup(exchange: string, routingKey: string): Promise<string[]> {
    if (exchange === '') return [routingKey];
    const cached = this.bindingCache.get(exchange);
    let bindings: string[];
    if (cached && Date.now() - cached.at < 1000) bindings = cached.queues;
    else {
      bindings = await this.client.smembers(this.key(`_kombu.binding.${exchange}`));
      this.bindingCache.set(exchange, { at: Date.now(), queues: bindings });
    }
    const out: string[] = [];
    for (const member of bindings) {
      const [rk, pattern, queue] = member.split(SEP);
      if (rk === routingKey || pattern === '#' || (pattern && topicMatch(pattern, routingKey))) out.push(queue);
    }
    return out;
  }

  async publish(route: Route, message: WireMessage): Promise<void> {
    if (route.exchange === '') {
      // The default exchange routes to the queue named by the routing key: no binding lookup (the common case).
      const raw = encodeEnvelope(message, { exchange: '', routing_key: route.routingKey }, randomUUID());
      await this.client.lpush(this.listFor(route.routingKey, message.properties.priority), raw);
      return;
    }
    const queues = await this.lookup(route.exchange, route.routingKey);
    if (queues.length === 0) {
      this.logger.warning(`message to exchange ${JSON.stringify(route.exchange)} with routing key ${JSON.stringify(route.routingKey)} matched no queue and was dropped (as kombu does)`);
      return;
    }
    const raw = encodeEnvelope(message, { exchange: route.exchange, routing_key: route.routingKey }, randomUUID());
    await Promise.all(queues.map((q) => this.client.lpush(this.listFor(q, message.properties.priority), raw)));
  }

  /** Publish on a fanout exchange (PUB/SUB channel `/<db>.<exchange>[/<routing key>]`). */
  async publishFanout(exchange: string, routingKey: string, message: WireMessage, db = 0): Promise<void> {
    const raw = encodeEnvelope(message, { exchange, routing_key: routingKey }, randomUUID());
    await this.client.publish(this.key(`/${db}.${exchange}${routingKey ? `/${routingKey}` : ''}`), raw);
  }

  async consume(queues: QueueSpec[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    for (const q of queues) await this.declareQueue(q);
    if (!options.noAck) await this.restoreVisible();
    const consumer = new RedisConsumer(this, this.client, await this.blockingClient(), queues.map((q) => q.name), handler, options, this.logger);
    this.consumers.add(consumer);
    if (!options.noAck && !this.restoreTimer) {
      this.restoreTimer = setInterval(() => {
        this.restoreVisible().catch((err: Error) => this.closing || this.logger.warning(`restoring unacked messages failed: ${err.message}`));
      }, this.restoreInterval);
      this.restoreTimer.unref();
      // Go past kombu: keep messages this process still holds (long tasks, ETA holds) visible as ours, so the
      // visibility timeout only restores messages of workers that are gone (kombu #337, celery #7009).
      const every = Math.min(300, Math.max(0.25, this.visibilityTimeout / 4)) * 1000;
      this.renewTimer = setInterval(() => {
        const tags: string[] = [];
        for (const c of this.consumers) tags.push(...c.heldTags());
        this.renew(tags).catch((err: Error) => this.closing || this.logger.warning(`renewing unacked messages failed: ${err.message}`));
      }, every);
      this.renewTimer.unref();
    }
    consumer.start();
    return consumer;
  }

  /** Remove the delivery tag from the unacked structures; batched per tick into one ZREM and one HDEL. */
  ack(tag: string): void {
    this.ackBatch.push(tag);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackScheduled = false;
    const tags = this.ackBatch.splice(0);
    if (tags.length === 0) return;
    const pipe = this.client.pipeline();
    pipe.zrem(this.unackedIndexKey, ...tags);
    pipe.hdel(this.unackedKey, ...tags);
    pipe.exec().catch((err: Error) => this.logger.error(`ack of ${tags.length} message(s) failed: ${err.message}`));
  }

  /** Reject with requeue (kombu: back to the tail of its queue), tracked until done. */
  requeue(tag: string): void {
    const p = this.restore(tag, 'tail')
      .catch((err: Error) => this.logger.error(`requeue of ${tag} failed: ${err.message}`))
      .finally(() => this.pendingRestores.delete(p));
    this.pendingRestores.add(p);
  }

  /** Put an unacked message back on its queue: `tail` (LPUSH, like kombu's reject-requeue) or `head` (RPUSH, restore). */
  async restore(tag: string, end: 'head' | 'tail'): Promise<boolean> {
    const stored = await this.client.hget(this.unackedKey, tag);
    if (stored === null) return false;
    let payload: string;
    let queues: string[];
    let priority: number;
    try {
      const [envelope, exchange, routingKey] = parseJson(stored) as [Record<string, unknown>, string, string];
      const properties = envelope.properties as Record<string, unknown>;
      priority = typeof properties.priority === 'number' ? properties.priority : 0;
      payload = markRedelivered(envelope);
      queues = await this.lookup(exchange ?? '', routingKey ?? '');
    } catch (err) {
      // Unreadable (kombu would fail on it at every restore too): it can never run, so drop it rather than retry forever.
      this.logger.error(`cannot restore unacked message ${tag}: ${(err as Error).message}; removing it from "unacked": ${stored.slice(0, 200)}`);
      const pipe = this.client.multi();
      pipe.zrem(this.unackedIndexKey, tag);
      pipe.hdel(this.unackedKey, tag);
      await pipe.exec();
      return false;
    }
    const keys = [this.unackedIndexKey, this.unackedKey, ...queues.map((q) => this.listFor(q, priority))];
    return (await this.client.celeriacRestore(keys.length, ...keys, tag, stored, end, payload)) === 1;
  }

  /** The message recorded under `tag` in "unacked", decoded; null when it is not there (acked, restored, purged). */
  async readUnacked(tag: string): Promise<WireMessage | null> {
    const stored = await this.client.hget(this.unackedKey, tag);
    if (stored === null) return null;
    try {
      const entry = parseJson(stored);
      if (!Array.isArray(entry)) throw new DecodeError('not a list');
      return decodeEnvelopeValue(entry[0]).message;
    } catch (err) {
      this.logger.error(`unacked entry ${tag} is unreadable (${(err as Error).message}): ${stored.slice(0, 200)}`);
      return null;
    }
  }

  /** kombu's restore_visible: under the shared mutex, put back messages unacked for longer than the visibility timeout. */
  async restoreVisible(): Promise<number> {
    const token = randomUUID();
    const mutex = this.key('unacked_mutex');
    // kombu holds this lock up to 300 s; a worker killed while holding it would block every restore that long, so
    // ours expires sooner (it is released at once in the normal case).
    const lockMs = Math.round(Math.min(300, Math.max(10, this.visibilityTimeout)) * 1000);
    const got = await this.client.set(mutex, token, 'PX', lockMs, 'NX');
    if (got === null) return 0;
    let restored = 0;
    try {
      const ceiling = Date.now() / 1000 - this.visibilityTimeout;
      const tags = await this.client.zrevrangebyscore(this.unackedIndexKey, ceiling, 0);
      for (const tag of tags) {
        if (this.isHeldHere(tag)) continue;
        if (await this.restore(tag, 'head')) restored++;
      }
    } finally {
      await this.client.celeriacUnlock(1, mutex, token);
    }
    if (restored > 0) this.logger.warning(`Restored ${restored} message(s) unacknowledged for more than the visibility timeout (${this.visibilityTimeout}s)`);
    return restored;
  }

  /** A message this process still holds is renewed, not restored (it is not lost, only slow or held for an ETA). */
  private isHeldHere(tag: string): boolean {
    for (const c of this.consumers) if (c.holds(tag)) return true;
    return false;
  }

  /** Push the unacked_index score of held messages to now, so the visibility timeout does not redeliver them. */
  async renew(tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    const now = Date.now() / 1000;
    const args: (string | number)[] = [];
    for (const t of tags) args.push(now, t);
    await this.client.zadd(this.unackedIndexKey, 'XX', ...args);
  }

  fetch(keys: string[], count: number): Promise<string[]> {
    return this.client.celeriacFetch(keys.length + 2, this.unackedIndexKey, this.unackedKey, ...keys, count, Date.now() / 1000);
  }

  async purge(queue: string): Promise<number> {
    const keys = this.listKeys([queue]);
    const pipe = this.client.pipeline();
    for (const k of keys) pipe.llen(k);
    pipe.del(...keys);
    const res = (await pipe.exec()) ?? [];
    return res.slice(0, keys.length).reduce((n, [, v]) => n + Number(v ?? 0), 0);
  }

  /** Messages waiting in a queue, across its priority lists. */
  async size(queue: string): Promise<number> {
    const counts = await Promise.all(this.listKeys([queue]).map((k) => this.client.llen(k)));
    return counts.reduce((a, b) => a + b, 0);
  }

  get redis(): Redis {
    return this.client;
  }

  forget(consumer: RedisConsumer): void {
    this.consumers.delete(consumer);
  }

  async close(): Promise<void> {
    // A restore or renewal already under way when closing fails on the closed connection: not worth a warning.
    this.closing = true;
    if (this.restoreTimer) clearInterval(this.restoreTimer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.restoreTimer = undefined;
    this.renewTimer = undefined;
    await Promise.all([...this.consumers].map((c) => c.cancel()));
    this.flushAcks();
    while (this.pendingRestores.size > 0) await Promise.allSettled([...this.pendingRestores]);
    if (this.client) await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** The placeholder a parked delivery carries instead of its message. */
const PARKED_MESSAGE: WireMessage = Object.freeze({ body: Buffer.alloc(0), headers: {}, properties: {} });

function topicMatch(pattern: string, key: string): boolean {
  const re = new RegExp(`^${pattern.split('.').map((w) => (w === '#' ? '.*' : w === '*' ? '[^.]+' : w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('\\.')}$`);
  return re.test(key);
}

/** One consumer: batched atomic fetch while messages wait, a non-removing blocking wait when the queues are empty. */
class RedisConsumer implements Consumer {
  private inFlight = new Set<string>();
  private cancelled = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private order: string[];
  private failures = 0;
  /** Which list the idle wait watches next (round robin over the queue lists). */
  private watchIndex = 0;
  private readonly basePrefetch: number;

  constructor(
    private readonly broker: RedisBroker,
    private readonly client: ScriptClient,
    private readonly blocking: Redis,
    queues: string[],
    private readonly handler: DeliveryHandler,
    private readonly options: ConsumeOptions,
    private readonly logger: Logger,
  ) {
    this.order = [...queues];
    this.basePrefetch = options.prefetch;
  }

  holds(tag: string): boolean {
    return this.inFlight.has(tag);
  }

  heldTags(): IterableIterator<string> {
    return this.inFlight.keys();
  }

  start(): void {
    this.loop = this.run();
  }

  setPrefetch(count: number): void {
    this.options.prefetch = count;
    this.wake?.();
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    this.wake?.();
    await this.loop;
    this.broker.forget(this);
    this.blocking.disconnect();
  }

  private capacity(): number {
    if (this.options.noAck || this.options.prefetch === 0) return FETCH_BATCH;
    return Math.min(FETCH_BATCH, this.options.prefetch - this.inFlight.size);
  }

  private async run(): Promise<void> {
    while (!this.cancelled) {
      const room = this.capacity();
      // Fetch in batches: with messages still in hand, wait until a quarter of the prefetch window is free rather
      // than paying a round trip per settled message (but never wait while holding nothing); a quarter, not half,
      // so the next slice is fetched while the previous ones still run.
      // The window is the prefetch the consumer started with: raises for held ETA messages must not widen it.
      const lowWater = this.options.noAck || this.basePrefetch === 0 ? 1 : Math.max(1, Math.floor(Math.min(FETCH_BATCH, this.basePrefetch) / 4));
      if (room <= 0 || (room < lowWater && this.inFlight.size > 0)) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      try {
        if (this.options.noAck) await this.blockingPop();
        else if ((await this.fetchBatch(room)) === 0 && !this.cancelled) await this.waitForMessage();
        this.failures = 0;
      } catch (err) {
        if (this.cancelled) break;
        this.failures++;
        const delay = Math.min(100 * 2 ** Math.min(this.failures, 6), 5000);
        if (this.failures === 1) this.logger.warning(`consumer: ${(err as Error).message}; retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async fetchBatch(room: number): Promise<number> {
    const flat = await this.broker.fetch(this.broker.listKeys(this.order), room);
    for (let i = 0; i < flat.length; i += 2) this.dispatch(flat[i], flat[i + 1]);
    if (flat.length) this.rotate(this.broker.queueOfList(flat[flat.length - 2]));
    return flat.length / 2;
  }

  /**
   * Wait for a message without taking it. In ack mode the wait is `BLMOVE key key RIGHT RIGHT` (an atomic rotate of a
   * list onto itself: it wakes when a message arrives and removes nothing); the next loop turn takes the message
   * through the fetch script, which pops and records it in "unacked" in one step. A wait that popped (BRPOP, as
   * kombu does) would lose the message if the worker were killed between the pop and the bookkeeping.
   * BLMOVE watches one key: the priority-0 list of each queue in turn (where messages without a priority go), so
   * the common case wakes at once; a message on another list is seen by the next fetch, at most IDLE_WAIT_SECONDS later.
   */
  private async waitForMessage(): Promise<void> {
    const keys = this.broker.listKeys(this.order);
    // listKeys is step-major: the first `order.length` keys are the queues' priority-0 lists.
    const key = keys[this.watchIndex++ % this.order.length];
    await this.blocking.blmove(key, key, 'RIGHT', 'RIGHT', keys.length === 1 ? 1 : IDLE_WAIT_SECONDS);
  }

  /** noAck mode: nothing to record, so the blocking pop itself delivers (kombu's path). */
  private async blockingPop(): Promise<void> {
    const res = await this.blocking.brpop(...this.broker.listKeys(this.order), 1);
    if (!res) return;
    const [list, raw] = res;
    this.dispatch(list, raw);
    this.rotate(this.broker.queueOfList(list));
  }

  private rotate(queue: string): void {
    // kombu's round robin: the queue just served goes to the back.
    const i = this.order.indexOf(queue);
    if (i !== -1 && this.order.length > 1) this.order.push(...this.order.splice(i, 1));
  }

  private dispatch(list: string, raw: string): void {
    const queue = this.broker.queueOfList(list);
    let decoded;
    try {
      decoded = decodeEnvelope(raw);
    } catch (err) {
      const reason = err instanceof DecodeError ? err.message : String(err);
      this.logger.error(`Discarding unreadable message from queue ${queue}: ${reason}: ${raw.slice(0, 200)}`);
      // The fetch script may still have found a tag and recorded the message in "unacked": settle that record, or
      // the visibility timeout would bring the same broken message back forever.
      const tag = TAG_PATTERN.exec(raw)?.[1];
      if (tag && !this.options.noAck) this.broker.ack(tag);
      return;
    }
    const tag = decoded.deliveryTag;
    if (!this.options.noAck) this.inFlight.add(tag);
    this.handler(new RedisDelivery(this, tag, queue, decoded, !!this.options.noAck));
  }

  /** A delivery was acked or rejected: its prefetch slot is free. */
  settled(tag: string): void {
    this.inFlight.delete(tag);
    this.wake?.();
  }

  ack(tag: string): void {
    this.broker.ack(tag);
  }

  requeue(tag: string): void {
    this.broker.requeue(tag);
  }

  readUnacked(tag: string): Promise<WireMessage | null> {
    return this.broker.readUnacked(tag);
  }
}

/**
 * One message from a Redis list. A class rather than closures: thousands may be held at once for ETAs, and each
 * closure costs a context. Parking (ETA holds) is offered only where the fetch recorded the message in "unacked",
 * from where `unpark` reads it back.
 */
class RedisDelivery implements Delivery {
  message: WireMessage;
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  readonly priority: number;
  private settled: boolean;

  constructor(
    private readonly consumer: RedisConsumer,
    private readonly tag: string,
    readonly queue: string,
    decoded: DecodedEnvelope,
    noAck: boolean,
  ) {
    this.message = decoded.message;
    this.exchange = decoded.deliveryInfo.exchange;
    this.routingKey = decoded.deliveryInfo.routing_key;
    this.redelivered = decoded.redelivered;
    this.priority = decoded.message.properties.priority ?? 0;
    this.settled = noAck;
    if (noAck) {
      this.park = undefined;
      this.unpark = undefined;
    }
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.consumer.settled(this.tag);
    return true;
  }

  ack(): void {
    if (this.settle()) this.consumer.ack(this.tag);
  }

  reject(requeue: boolean): void {
    if (!this.settle()) return;
    if (requeue) this.consumer.requeue(this.tag);
    else this.consumer.ack(this.tag);
  }

  park?(): void {
    this.message = PARKED_MESSAGE;
  }

  async unpark?(): Promise<boolean> {
    if (this.message !== PARKED_MESSAGE) return true;
    const message = await this.consumer.readUnacked(this.tag);
    if (message) this.message = message;
    return message !== null;
  }
}
