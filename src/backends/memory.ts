// In-process result backend (`memory://`, also `cache+memory://`) for the demo and unit tests; shared per URL
// within one process, like the memory broker.

import type { ResultMeta } from '../../protocol';
import type { GroupBackend, ResultBackend, StoreContext, Unwatch } from './backend';

/** One chord's counters, as the Redis backend keeps them in `.j` (parts by score), `.t` and `.s`. */
export interface MemoryChord {
  parts: Map<string, number>;
  extra: number;
  size: number | null;
}

interface MemoryStore {
  results: Map<string, ResultMeta>;
  groups: Map<string, string>;
  chords: Map<string, MemoryChord>;
  listeners: Map<string, Set<(meta: ResultMeta) => void>>;
}

const STORES = new Map<string, MemoryStore>();

export class MemoryBackend implements ResultBackend, GroupBackend {
  readonly kind = 'memory' as const;
  private readonly s: MemoryStore;

  constructor(url = 'memory://') {
    let s = STORES.get(url);
    if (!s) {
      s = { results: new Map(), groups: new Map(), chords: new Map(), listeners: new Map() };
      STORES.set(url, s);
    }
    this.s = s;
  }

  /** In-process chord counters (the canvas join uses them as the Redis backend's native join). */
  get chords(): Map<string, MemoryChord> {
    return this.s.chords;
  }

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  async store(meta: ResultMeta, _context: StoreContext): Promise<void> {
    if (this.s.results.get(meta.task_id)?.status === 'SUCCESS') return;
    this.s.results.set(meta.task_id, meta);
    const set = this.s.listeners.get(meta.task_id);
    if (set) for (const fn of [...set]) fn(meta);
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    return this.s.results.get(taskId) ?? null;
  }

  async watch(taskId: string, onMeta: (meta: ResultMeta) => void): Promise<Unwatch> {
    let set = this.s.listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.s.listeners.set(taskId, set);
    }
    set.add(onMeta);
    const current = this.s.results.get(taskId);
    if (current) onMeta(current);
    return () => {
      set.delete(onMeta);
      if (set.size === 0) this.s.listeners.delete(taskId);
    };
  }

  async forget(taskId: string): Promise<void> {
    this.s.results.delete(taskId);
  }

  async saveGroup(groupId: string, value: string): Promise<void> {
    this.s.groups.set(groupId, value);
  }
  async getGroup(groupId: string): Promise<string | null> {
    return this.s.groups.get(groupId) ?? null;
  }
  async deleteGroup(groupId: string): Promise<void> {
    this.s.groups.delete(groupId);
  }
}
