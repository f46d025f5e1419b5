// Chord counters per result backend. Redis: Celery's native join with the same keys, commands and member bytes
// (`celery-taskset-meta-<gid>.j` ZADD `[1, "<tid>", "<STATE>", <result>]` scored by group_index, `.t`, `.s`), so a
// Python and a Node worker count the same chord. Memory: the same in-process. RPC and disabled: no chords, as Celery.

import { parseJson, stringifyJson } from '../../protocol';
import type { ResultBackend } from '../backends/backend';
import { MemoryBackend } from '../backends/memory';
import { GROUP_KEY_PREFIX, RedisBackend } from '../backends/redis';
import { NotImplementedError } from '../errors';
import { nodeTuple, type ResultNode } from './results';

/** One header task's entry: its id, final state and (encoded) result. */
export type ChordPart = [taskId: string, state: string, result: unknown];

/** What a header task's completion reports. */
export interface PartCount {
  /** Entries stored so far (ZCOUNT). */
  ready: number;
  /** The header size (`.s`), or null when no chord size was stored. */
  size: number | null;
  /** Extra completions added with add_to_chord (`.t`). */
  extra: number;
}

export interface ChordSupport {
  /** Throw Celery's NotImplementedError when the backend cannot run chords. */
  ensureChordsAllowed(): void;
  /** `celery-taskset-meta-<gid>.s` = header size (SETEX + PUBLISH), written before the header is published. */
  setChordSize(groupId: string, size: number): Promise<void>;
  /** Before the header is sent: save the header's GroupResult when it holds groups (so the join keeps the nesting). */
  applyChord(groupId: string, results: ResultNode[]): Promise<void>;
  /** Record one finished header task and read the counters, in one pipeline. */
  addPart(groupId: string, taskId: string, groupIndex: number | null, state: string, result: unknown): Promise<PartCount>;
  /** Every entry, in group_index order. */
  readParts(groupId: string, total: number): Promise<ChordPart[]>;
  /** The header's saved GroupResult tuple, if one was saved. */
  savedGroup(groupId: string): Promise<unknown | null>;
  /** Remove the counters after the body was sent. */
  cleanup(groupId: string): Promise<void>;
  /** One more completion expected (Celery's add_to_chord). */
  addToChord(groupId: string): Promise<void>;
}

const RPC_NO_CHORDS = `The "rpc" result backend does not support chords!

Note that a group chained with a task is also upgraded to be a chord,
as this pattern requires synchronization.

Result backends that supports chords: Redis, Database, Memcached, and more.`;

const NO_BACKEND_CHORDS = `Starting chords requires a result backend to be configured.

Note that a group chained with a task is also upgraded to be a chord,
as this pattern requires synchronization.

Result backends that supports chords: Redis, Database, Memcached, and more.`;

/** The member Celery ZADDs: `json.dumps([1, tid, state, result])` with Python's separators, byte for byte. */
export function encodePart(taskId: string, state: string, result: unknown): string {
  return stringifyJson([1, taskId, state, result], { pythonStyle: true });
}

export function decodePart(raw: string | Buffer): ChordPart {
  const v = parseJson(raw) as [unknown, unknown, unknown, unknown];
  return [String(v[1]), String(v[2]), v[3]];
}

function hasNestedGroup(results: ResultNode[]): boolean {
  return results.some((r) => r.kind === 'group');
}

class RedisChords implements ChordSupport {
  constructor(
    private readonly backend: RedisBackend,
    /** result_backend_transport_options.result_chord_ordered (default true): a sorted set, else a list. */
    private readonly ordered: boolean,
  ) {}

  private keys(gid: string): { j: string; t: string; s: string } {
    const base = GROUP_KEY_PREFIX + gid;
    return { j: `${base}.j`, t: `${base}.t`, s: `${base}.s` };
  }

  ensureChordsAllowed(): void {}

  async setChordSize(groupId: string, size: number): Promise<void> {
    const key = this.keys(groupId).s;
    const pipe = this.backend.redis.multi();
    if (this.backend.expires) pipe.setex(key, this.backend.expires, String(size));
    else pipe.set(key, String(size));
    pipe.publish(key, String(size));
    await pipe.exec();
  }

  async applyChord(groupId: string, results: ResultNode[]): Promise<void> {
    if (hasNestedGroup(results)) {
      await this.backend.saveGroup(groupId, stringifyJson({ result: nodeTuple({ kind: 'group', id: groupId, results, parent: null }) }, { pythonStyle: true }));
    }
  }

  async addPart(groupId: string, taskId: string, groupIndex: number | null, state: string, result: unknown): Promise<PartCount> {
    const k = this.keys(groupId);
    const member = encodePart(taskId, state, result);
    const pipe = this.backend.redis.multi();
    if (this.ordered) pipe.zadd(k.j, groupIndex === null ? '+inf' : String(groupIndex), member).zcount(k.j, '-inf', '+inf');
    else pipe.rpush(k.j, member).llen(k.j);
    pipe.get(k.t).get(k.s);
    const expires = this.backend.expires;
    if (expires) pipe.expire(k.j, expires).expire(k.t, expires).expire(k.s, expires);
    const replies = (await pipe.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const value = (i: number): unknown => replies[i]?.[1];
    const size = value(3);
    return { ready: Number(value(1)), extra: Number(value(2) ?? 0) || 0, size: size === null || size === undefined ? null : Number(size) };
  }

  async readParts(groupId: string, total: number): Promise<ChordPart[]> {
    const k = this.keys(groupId);
    const pipe = this.backend.redis.multi();
    if (this.ordered) pipe.zrangeBuffer(k.j, '0', '-1');
    else pipe.lrangeBuffer(k.j, 0, total);
    const replies = (await pipe.exec()) ?? [];
    const [err, list] = replies[0] ?? [null, []];
    if (err) throw err;
    return (list as Buffer[]).map(decodePart);
  }

  async savedGroup(groupId: string): Promise<unknown | null> {
    const raw = await this.backend.getGroup(groupId);
    return raw === null ? null : (parseJson(raw) as { result?: unknown }).result ?? null;
  }

  async cleanup(groupId: string): Promise<void> {
    const k = this.keys(groupId);
    await this.backend.redis.multi().del(k.j).del(k.t).del(k.s).exec();
  }

  async addToChord(groupId: string): Promise<void> {
    await this.backend.redis.incr(this.keys(groupId).t);
  }
}

class MemoryChords implements ChordSupport {
  constructor(private readonly backend: MemoryBackend) {}

  private chord(gid: string): NonNullable<ReturnType<MemoryBackend['chords']['get']>> {
    let c = this.backend.chords.get(gid);
    if (!c) {
      c = { parts: new Map(), extra: 0, size: null };
      this.backend.chords.set(gid, c);
    }
    return c;
  }

  ensureChordsAllowed(): void {}

  async setChordSize(groupId: string, size: number): Promise<void> {
    this.chord(groupId).size = size;
  }

  async applyChord(groupId: string, results: ResultNode[]): Promise<void> {
    if (hasNestedGroup(results)) await this.backend.saveGroup(groupId, stringifyJson({ result: nodeTuple({ kind: 'group', id: groupId, results, parent: null }) }, { pythonStyle: true }));
  }

  async addPart(groupId: string, taskId: string, groupIndex: number | null, state: string, result: unknown): Promise<PartCount> {
    const c = this.chord(groupId);
    c.parts.set(encodePart(taskId, state, result), groupIndex ?? Infinity);
    return { ready: c.parts.size, size: c.size, extra: c.extra };
  }

  async readParts(groupId: string): Promise<ChordPart[]> {
    const entries = [...this.chord(groupId).parts.entries()];
    // ZRANGE order: by score, then by member bytes.
    entries.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return entries.map(([member]) => decodePart(member));
  }

  async savedGroup(groupId: string): Promise<unknown | null> {
    const raw = await this.backend.getGroup(groupId);
    return raw === null ? null : (parseJson(raw) as { result?: unknown }).result ?? null;
  }

  async cleanup(groupId: string): Promise<void> {
    this.backend.chords.delete(groupId);
  }

  async addToChord(groupId: string): Promise<void> {
    this.chord(groupId).extra++;
  }
}

class NoChords implements ChordSupport {
  constructor(private readonly message: string) {}
  ensureChordsAllowed(): never {
    throw new NotImplementedError(this.message);
  }
  setChordSize(): Promise<void> {
    return this.ensureChordsAllowed();
  }
  applyChord(): Promise<void> {
    return this.ensureChordsAllowed();
  }
  addPart(): Promise<PartCount> {
    return this.ensureChordsAllowed();
  }
  readParts(): Promise<ChordPart[]> {
    return this.ensureChordsAllowed();
  }
  savedGroup(): Promise<unknown> {
    return this.ensureChordsAllowed();
  }
  cleanup(): Promise<void> {
    return this.ensureChordsAllowed();
  }
  addToChord(): Promise<void> {
    return this.ensureChordsAllowed();
  }
}

const cache = new WeakMap<ResultBackend, ChordSupport>();

/** What the chord support needs from the app. */
export interface ChordApp {
  readonly backend: ResultBackend;
  readonly conf: { resultBackendTransportOptions: Record<string, unknown> };
}

/** The chord support of an app's result backend. */
export function chordSupport(app: ChordApp): ChordSupport {
  const backend = app.backend;
  let s = cache.get(backend);
  if (!s) {
    if (backend instanceof RedisBackend) s = new RedisChords(backend, app.conf.resultBackendTransportOptions.result_chord_ordered !== false);
    else if (backend instanceof MemoryBackend) s = new MemoryChords(backend);
    else s = new NoChords(backend.kind === 'rpc' ? RPC_NO_CHORDS : NO_BACKEND_CHORDS);
    cache.set(backend, s);
  }
  return s;
}
