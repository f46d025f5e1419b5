// The one interface every result backend implements (Redis, RPC, memory, disabled): store a state, read it,
// and wait for it by push (pub/sub or reply queue), never by polling.

import type { ResultMeta } from '../../protocol';

/** Where a result goes besides its id: the RPC backend replies to the task message's `reply_to`. */
export interface StoreContext {
  replyTo?: string | null;
  correlationId?: string | null;
  priority?: number;
}

/** Stop listening for a task's updates. */
export type Unwatch = () => void;

export interface ResultBackend {
  readonly kind: 'redis' | 'rpc' | 'memory' | 'disabled';
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Store one state of a task. Redis never overwrites a stored SUCCESS (Celery's dedup rule). */
  store(meta: ResultMeta, context: StoreContext): Promise<void>;
  /** The latest stored meta, or null (PENDING). */
  get(taskId: string): Promise<ResultMeta | null>;
  /**
   * Call `onMeta` with every state of the task from now on, starting with the current one if any.
   * Subscribes before reading, so no update falls between the two.
   */
  watch(taskId: string, onMeta: (meta: ResultMeta) => void): Promise<Unwatch>;
  forget(taskId: string): Promise<void>;
  /** Called as a task that expects a result is sent (before it is published): e.g. subscribe early. Optional. */
  prepare?(taskId: string): Promise<void>;
}

/** Chord and group support (the Redis backend's native join). */
export interface GroupBackend {
  saveGroup(groupId: string, value: string): Promise<void>;
  getGroup(groupId: string): Promise<string | null>;
  deleteGroup(groupId: string): Promise<void>;
}
