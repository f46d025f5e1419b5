// Redis result backend, compatible with Celery's: `celery-task-meta-<id>` written with SETEX + PUBLISH in one
// atomic step that never overwrites a stored SUCCESS, and waiting through SUBSCRIBE (one shared subscriber).

import type { Redis } from 'ioredis';
import { decodeResultMeta, encodeResultMeta, READY_STATES, type ResultMeta } from '../../protocol';
import { silentLogger, type Logger } from '../log';
import { connectRedis, type RedisEndpoint } from '../brokers/redis-connection';
import type { GroupBackend, ResultBackend, StoreContext, Unwatch } from './backend';

export const TASK_KEY_PREFIX = 'celery-task-meta-';
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';

/**
 * Celery reads the current meta first and keeps a SUCCESS (a lost worker's late write must not replace it).
 * Doing the read, write and publish in one script makes that rule atomic; and one call stores every result of an
 * event-loop tick (KEYS = result keys, ARGV = [expires, value…]), so a busy worker pays one round trip per batch.
 */
const STORE_SCRIPT = `
local expires = tonumber(ARGV[1])
local stored = {}
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if cur and string.find(cur, '^{"status":%s*"SUCCESS"') then
    stored[i] = 0
  else
    if expires > 0 then redis.call('SETEX', KEYS[i], expires, ARGV[i + 1]) else redis.call('SET', KEYS[i], ARGV[i + 1]) end
    redis.call('PUBLISH', KEYS[i], ARGV[i + 1])
    stored[i] = 1
  end
end
return stored
`;

/** Most tasks subscribed to at send time and still pending; beyond this, get() subscribes on demand. */
const MAX_EARLY = 10000;

interface PendingStore {
  key: string;
  value: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

type StoreClient = Redis & { celeriacStore(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]> };

export class RedisBackend implements ResultBackend, GroupBackend {
  readonly kind = 'redis' as const;
  private client!: StoreClient;
  private subscriber: Redis | undefined;
  private subscribing: Promise<Redis> | undefined;
  private readonly listeners = new Map<string, Set<(meta: ResultMeta) => void>>();
  private batch: PendingStore[] = [];
  /**
   * Tasks subscribed to at send time (prepare) whose ready state has not arrived yet, with the GET sent right after
   * the SUBSCRIBE on the same connection (undefined when that connection could not answer it: RESP2).
   */
  private readonly early = new Map<string, Promise<ResultMeta | null | undefined>>();
  /** prepare() calls of this tick, subscribed together. */
  private preparing: Array<{ taskId: string; resolve: (meta: ResultMeta | null | undefined) => void }> = [];
  private flushScheduled = false;

  private readonly endpoint: RedisEndpoint;

  constructor(
    url: string | RedisEndpoint,
    /** Seconds a result is kept (result_expires); 0 or null keeps it forever. */
    readonly expires: number | null = 86400,
    private readonly logger: Logger = silentLogger,
  ) {
    this.endpoint = typeof url === 'string' ? { url, sslSetting: 'redis_backend_use_ssl' } : url;
  }

  async connect(): Promise<void> {
    const client = (await connectRedis(this.endpoint, 'result backend', this.logger)) as StoreClient;
    client.defineCommand('celeriacStore', { lua: STORE_SCRIPT });
    this.client = client;
  }

  get redis(): Redis {
    return this.client;
  }

  store(meta: ResultMeta, _context: StoreContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ key: TASK_KEY_PREFIX + meta.task_id, value: encodeResultMeta(meta), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Send this tick's results in one script call. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    const args: Array<string | number> = batch.map((b) => b.key);
    args.push(this.expires ?? 0);
    for (const b of batch) args.push(b.value);
    this.client.celeriacStore(batch.length, ...args).then(
      () => {
        for (const b of batch) b.resolve();
      },
      (err: unknown) => {
        for (const b of batch) b.reject(err);
      },
    );
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    const raw = await this.client.get(TASK_KEY_PREFIX + taskId);
    return raw === null ? null : decodeResultMeta(raw);
  }

  private async sub(): Promise<Redis> {
    if (this.subscriber) return this.subscriber;
    this.subscribing ??= (async () => {
      const s = await connectRedis(this.endpoint, 'result backend (subscriber)', this.logger);
      s.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
      // After a reconnect (ioredis re-subscribes by itself), results published while the connection was down are
      // lost as messages: read them instead.
      s.on('ready', () => this.afterReconnect());
      this.subscriber = s;
      return s;
    })();
    return this.subscribing;
  }

  /**
   * Subscribe to a task's result channel as its message is sent, as Celery's client does, so that a later get()
   * needs no round trip of its own. Only the subscriber connection is awaited; the SUBSCRIBE goes out with the
   * others of this tick. The subscription ends when the task is ready. Bounded: past MAX_EARLY pending tasks, get()
   * subscribes lazily.
   */
  async prepare(taskId: string): Promise<void> {
    if (this.early.size >= MAX_EARLY || this.listeners.has(taskId)) return;
    const s = this.subscriber ?? (await this.sub());
    if (s.condition?.protocol !== 3) {
      // RESP2: nothing but (UN)SUBSCRIBE is allowed once subscribed; get() reads from the main connection.
      this.early.set(taskId, Promise.resolve(undefined));
      s.subscribe(TASK_KEY_PREFIX + taskId).catch((err: Error) => {
        this.early.delete(taskId);
        this.logger.debug(`subscribe for ${taskId} failed: ${err.message}`);
      });
      return;
    }
    let resolve!: (meta: ResultMeta | null | undefined) => void;
    this.early.set(taskId, new Promise((r) => (resolve = r)));
    this.preparing.push({ taskId, resolve });
    if (this.preparing.length === 1) setImmediate(() => this.flushPrepares(s));
  }

  /**
   * One SUBSCRIBE for this tick's tasks, then one MGET of their results, in one write on one connection (RESP3
   * allows commands while subscribed). Redis runs the MGET after the subscriptions took effect: a result stored
   * before them is in the MGET, one stored after arrives as a message — whenever the task messages were sent.
   */
  private flushPrepares(s: Redis): void {
    const batch = this.preparing;
    this.preparing = [];
    const channels = batch.map((b) => TASK_KEY_PREFIX + b.taskId);
    const failed = (why: string): void => {
      this.logger.debug(`subscribing to ${batch.length} result channel(s) failed: ${why}`);
      for (const b of batch) {
        this.early.delete(b.taskId);
        b.resolve(undefined);
      }
    };
    s.pipeline()
      .subscribe(...channels)
      .mget(...channels)
      .exec()
      .then((res) => {
        const [subErr] = res?.[0] ?? [null];
        if (subErr) return failed(subErr.message);
        const [getErr, values] = res?.[1] ?? [null, null];
        batch.forEach((b, i) => {
          // RESP2 refuses the MGET on a subscribed connection: undefined makes get() ask the main connection.
          const raw = !getErr && Array.isArray(values) ? (values[i] as unknown) : undefined;
          if (raw === undefined || raw === null) return b.resolve(getErr ? undefined : null);
          let meta: ResultMeta;
          try {
            meta = decodeResultMeta(String(raw));
          } catch {
            return b.resolve(undefined); // get() reads it again and reports the error
          }
          b.resolve(meta);
          // Already ready: no message will follow to end the early subscription, so end it here (a watch() that
          // holds the promise still gets the meta).
          if (READY_STATES.has(meta.status)) this.endEarly(b.taskId);
        });
      }, (err: Error) => failed(err.message));
  }

  private onMessage(channel: string, message: Buffer): void {
    if (!channel.startsWith(TASK_KEY_PREFIX)) return;
    const id = channel.slice(TASK_KEY_PREFIX.length);
    const set = this.listeners.get(id);
    if (!set && !this.early.has(id)) return;
    let meta: ResultMeta;
    try {
      meta = decodeResultMeta(message);
    } catch (err) {
      this.logger.warning(`unreadable result on ${channel}: ${(err as Error).message}`);
      return;
    }
    if (set) for (const fn of set) fn(meta);
    // Nobody watching yet: remember the latest state for the watch() to come (it does not GET again).
    else if (!READY_STATES.has(meta.status)) this.early.set(id, Promise.resolve(meta));
    if (READY_STATES.has(meta.status)) this.endEarly(id);
  }

  /** The task is ready: forget its early subscription, and unsubscribe unless a watch() still listens. */
  private endEarly(taskId: string): void {
    if (this.early.delete(taskId) && !this.listeners.has(taskId)) {
      this.subscriber?.unsubscribe(TASK_KEY_PREFIX + taskId).catch(() => undefined);
    }
  }

  /**
   * The subscriber connection is back (ready fires once at first too, with nothing pending then): what the early
   * GETs saw is stale, so later watch() calls must GET again, and the tasks being watched now are read at once.
   */
  private afterReconnect(): void {
    for (const id of this.early.keys()) this.early.set(id, Promise.resolve(undefined));
    for (const [id, set] of this.listeners) {
      this.get(id).then(
        (meta) => {
          if (meta) for (const fn of [...set]) fn(meta);
        },
        (err: Error) => this.logger.debug(`reading ${id} after the subscriber reconnected failed: ${err.message}`),
      );
    }
  }

  async watch(taskId: string, onMeta: (meta: ResultMeta) => void): Promise<Unwatch> {
    const s = await this.sub();
    let set = this.listeners.get(taskId);
    const first = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(taskId, set);
    }
    set.add(onMeta);
    // Subscribed at send time already: the GET sent with that SUBSCRIBE covers a result published before the
    // subscription took effect. Otherwise subscribe now, then GET.
    const early = this.early.get(taskId);
    if (first && !early) await s.subscribe(TASK_KEY_PREFIX + taskId);
    let current = early ? await early : undefined;
    if (current === undefined) {
      // The early SUBSCRIBE failed, or its GET could not run on that connection: subscribe (again; harmless), GET.
      if (early) await s.subscribe(TASK_KEY_PREFIX + taskId);
      current = await this.get(taskId);
    }
    if (current && set.has(onMeta)) onMeta(current);
    return () => {
      const live = this.listeners.get(taskId);
      if (!live) return;
      live.delete(onMeta);
      if (live.size === 0) {
        this.listeners.delete(taskId);
        if (!this.early.has(taskId)) s.unsubscribe(TASK_KEY_PREFIX + taskId).catch(() => undefined);
      }
    };
  }

  async forget(taskId: string): Promise<void> {
    await this.client.del(TASK_KEY_PREFIX + taskId);
  }

  async saveGroup(groupId: string, value: string): Promise<void> {
    const key = GROUP_KEY_PREFIX + groupId;
    const pipe = this.client.multi();
    if (this.expires) pipe.setex(key, this.expires, value);
    else pipe.set(key, value);
    pipe.publish(key, value);
    await pipe.exec();
  }

  async getGroup(groupId: string): Promise<string | null> {
    return this.client.get(GROUP_KEY_PREFIX + groupId);
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.client.del(GROUP_KEY_PREFIX + groupId);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.early.clear();
    this.preparing = [];
    const subscriber = this.subscriber;
    // A connect() after close() starts a fresh subscriber rather than reuse the disconnected one.
    this.subscriber = undefined;
    this.subscribing = undefined;
    if (subscriber) subscriber.disconnect();
    if (this.client) await this.client.quit().catch(() => this.client.disconnect());
  }
}
