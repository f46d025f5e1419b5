// Results of canvases: the result tree a canvas produces (a task's result with its parent, a group's results), its
// tuple form as Celery stores it in `children` and group keys, and GroupResult (get, counts, save/restore).

import { parseJson, stringifyJson, type ResultTuple } from '../../protocol';
import type { ResultBackend } from '../backends/backend';
import { AsyncResult } from '../result';
import { ResultTimeoutError } from '../errors';

/** What a result needs from the app. */
export interface ResultApp {
  readonly backend: ResultBackend;
  connect(): Promise<void>;
}

/** A node of a canvas's result tree, before it is handed out as AsyncResult/GroupResult. */
export type ResultNode = TaskNode | GroupNode;

export class TaskNode {
  readonly kind = 'task' as const;
  constructor(
    readonly id: string,
    public parent: ResultNode | null = null,
  ) {}
}

export class GroupNode {
  readonly kind = 'group' as const;
  constructor(
    readonly id: string,
    readonly results: ResultNode[],
    public parent: ResultNode | null = null,
  ) {}
}

/** Celery's `as_tuple()`: `[[id, parent], null]` for a task, `[[gid, parent], [children]]` for a group. */
export function nodeTuple(node: ResultNode): ResultTuple {
  const head: [string, ResultTuple | null] = [node.id, node.parent ? nodeTuple(node.parent) : null];
  return node.kind === 'group' ? [head, node.results.map(nodeTuple)] : [head, null];
}

/** Celery's `result_from_tuple()`. */
export function nodeFromTuple(tuple: unknown): ResultNode {
  if (!Array.isArray(tuple) || tuple.length !== 2) throw new TypeError(`not a result tuple: ${stringifyJson(tuple)}`);
  const [head, nodes] = tuple as [unknown, unknown];
  const [id, parentTuple] = Array.isArray(head) ? (head as [unknown, unknown]) : [head, null];
  const parent = parentTuple ? nodeFromTuple(parentTuple) : null;
  if (Array.isArray(nodes)) return new GroupNode(String(id), nodes.map(nodeFromTuple), parent);
  return new TaskNode(String(id), parent);
}

/** A task's AsyncResult that also knows the result it follows in a chain or chord (Celery's `result.parent`). */
export class CanvasResult<R = unknown> extends AsyncResult<R> {
  constructor(
    id: string,
    backend: ResultBackend,
    connect: () => Promise<void>,
    readonly parent: AsyncResult | GroupResult | null,
  ) {
    super(id, backend, connect);
  }
}

/** Celery's `as_tuple()` of a public result. */
export function resultTuple(r: AsyncResult | GroupResult): ResultTuple {
  if (r instanceof GroupResult) return r.asTuple();
  const parent = r instanceof CanvasResult && r.parent ? resultTuple(r.parent) : null;
  return [[r.id, parent], null];
}

/** The public result for a node. */
export function resultFor(app: ResultApp, node: ResultNode): CanvasResult | GroupResult {
  const parent = node.parent ? resultFor(app, node.parent) : null;
  if (node.kind === 'group') return new GroupResult(app, node.id, node.results.map((n) => resultFor(app, n)), parent);
  return new CanvasResult(node.id, app.backend, () => app.connect(), parent);
}

export interface GroupGetOptions {
  /** Seconds to wait for the whole group (default: forever). */
  timeout?: number;
  /** Throw the first failure in order (default true), else return its exception info in place. */
  propagate?: boolean;
}

/** The results of a group, in the order of its tasks (Celery's GroupResult). */
export class GroupResult<R = unknown> {
  constructor(
    private readonly app: ResultApp,
    readonly id: string,
    readonly results: Array<AsyncResult | GroupResult>,
    readonly parent: AsyncResult | GroupResult | null = null,
  ) {}

  get length(): number {
    return this.results.length;
  }

  /** The members' values in order (a nested group gives a list). A failure throws its TaskError unless propagate is false. */
  async get(options: GroupGetOptions = {}): Promise<R[]> {
    const deadline = options.timeout === undefined ? null : Date.now() + options.timeout * 1000;
    const values: unknown[] = [];
    for (const r of this.results) {
      const timeout = deadline === null ? undefined : Math.max(0, (deadline - Date.now()) / 1000);
      if (timeout === 0) throw new ResultTimeoutError(`The operation timed out waiting for group ${this.id}`);
      values.push(await r.get({ timeout, propagate: options.propagate }));
    }
    return values as R[];
  }

  /** Alias of get(), as Celery's join(). */
  join(options: GroupGetOptions = {}): Promise<R[]> {
    return this.get(options);
  }

  private async leaves(): Promise<AsyncResult[]> {
    const out: AsyncResult[] = [];
    for (const r of this.results) {
      if (r instanceof GroupResult) out.push(...(await r.leaves()));
      else out.push(r);
    }
    return out;
  }

  /** How many members succeeded (Celery's completed_count()). */
  async completedCount(): Promise<number> {
    let n = 0;
    for (const r of this.results) if (await r.successful()) n++;
    return n;
  }

  /** True when every member is ready (SUCCESS, FAILURE or REVOKED). */
  async ready(): Promise<boolean> {
    for (const r of this.results) if (!(await r.ready())) return false;
    return true;
  }

  /** True when every member succeeded. */
  async successful(): Promise<boolean> {
    for (const r of this.results) if (!(await r.successful())) return false;
    return true;
  }

  /** True when any member failed. */
  async failed(): Promise<boolean> {
    for (const r of this.results) if (await r.failed()) return true;
    return false;
  }

  /** True when any member is not ready yet. */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }

  /** Remove the members' stored results. */
  async forget(): Promise<void> {
    for (const r of await this.leaves()) await r.forget();
  }

  /** Celery's `as_tuple()`. */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? resultTuple(this.parent) : null], this.results.map(resultTuple)];
  }

  toJSON(): ResultTuple {
    return this.asTuple();
  }

  /** Save it (`celery-taskset-meta-<id>`) so Python's `GroupResult.restore(id)` or `GroupResult.restore(app, id)` finds it. */
  async save(): Promise<void> {
    await this.app.connect();
    const backend = groupBackend(this.app.backend);
    await backend.saveGroup(this.id, stringifyJson({ result: this.asTuple() }, { pythonStyle: true }));
  }

  /** Remove the saved group. */
  async delete(): Promise<void> {
    await this.app.connect();
    await groupBackend(this.app.backend).deleteGroup(this.id);
  }

  /** A group saved by Node or Python (`GroupResult.save()`), or null. */
  static async restore(app: ResultApp, id: string): Promise<GroupResult | null> {
    await app.connect();
    const raw = await groupBackend(app.backend).getGroup(id);
    if (raw === null) return null;
    const meta = parseJson(raw) as { result?: unknown };
    const restored = resultFor(app, nodeFromTuple(meta.result));
    return restored instanceof GroupResult ? restored : null;
  }
}

interface GroupStore {
  saveGroup(groupId: string, value: string): Promise<void>;
  getGroup(groupId: string): Promise<string | null>;
  deleteGroup(groupId: string): Promise<void>;
}

function groupBackend(backend: ResultBackend): GroupStore {
  const b = backend as ResultBackend & Partial<GroupStore>;
  if (typeof b.saveGroup !== 'function' || typeof b.getGroup !== 'function' || typeof b.deleteGroup !== 'function') {
    throw new Error(`the ${backend.kind} result backend cannot save groups (use the Redis result backend)`);
  }
  return b as GroupStore;
}
