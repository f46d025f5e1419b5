// map, starmap and chunks: one task applied to many arguments inside a single message (`celery.map`,
// `celery.starmap`), or split into a group of starmaps (`celery.chunks`), with Celery's names and arguments.

import type { SignatureDict, SignatureOptions } from '../../protocol';
import type { ResultNode, GroupResult } from './results';
import { Signature, type AnySignature, type CanvasApp, type WireOptions, sendTaskNode } from './signature';
import { Group } from './group';

/** Celery's _basemap: the task (as a signature dict) and its argument list travel as kwargs `{task, it}`. */
abstract class BaseMap<R> extends Signature<R[]> {
  constructor(app: CanvasApp, name: string, type: string, task: AnySignature | SignatureDict, it: unknown[], options: SignatureOptions = {}) {
    super(app, name, [], { task: task instanceof Signature ? task.toDict() : task, it: [...it] }, options, true, type);
  }

  /**
   * Sent as one `celery.map`/`celery.starmap` message. Celery 5.2 ignores the signature's own options here (so a
   * preassigned task_id or queue is lost); celeriac keeps them under the call's options.
   */
  override async applyNode(_args: readonly unknown[] = [], _kwargs: Record<string, unknown> = {}, options: WireOptions = {}): Promise<ResultNode> {
    return sendTaskNode(this.app, this.task, [], { task: this.kwargs.task, it: [...(this.kwargs.it as unknown[])] }, { ...this.options, ...options });
  }
}

/** `[task(x) for x in it]` in one task (Celery's xmap / `task.map(it)`). */
export class XMap<R = unknown> extends BaseMap<R> {
  constructor(app: CanvasApp, task: AnySignature | SignatureDict, it: unknown[], options: SignatureOptions = {}) {
    super(app, 'celery.map', 'xmap', task, it, options);
  }
}

/** `[task(*x) for x in it]` in one task (Celery's xstarmap / `task.starmap(it)`). */
export class XStarmap<R = unknown> extends BaseMap<R> {
  constructor(app: CanvasApp, task: AnySignature | SignatureDict, it: unknown[], options: SignatureOptions = {}) {
    super(app, 'celery.starmap', 'xstarmap', task, it, options);
  }
}

/** The arguments split into chunks of n, each a starmap, applied as a group (Celery's chunks / `task.chunks(it, n)`). */
export class Chunks<R = unknown> extends Signature<R[][], GroupResult<R[]>> {
  constructor(app: CanvasApp, task: AnySignature | SignatureDict, it: unknown[], n: number, options: SignatureOptions = {}) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`chunks: n must be a positive integer, got ${n}`);
    super(app, 'celery.chunks', [], { task: task instanceof Signature ? task.toDict() : task, it: [...it], n }, options, true, 'chunks');
  }

  /** The group of starmaps this stands for. */
  group(): Group<R[]> {
    const { task, it, n } = this.kwargs as { task: SignatureDict; it: unknown[]; n: number };
    return new Group<R[]>(this.app, splitChunks(it, n).map((part) => new XStarmap(this.app, task, part)));
  }

  override async applyNode(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: WireOptions = {}): Promise<ResultNode> {
    return this.group().applyNode(args, kwargs, { ...this.options, ...options });
  }
}

/** Split a list into lists of n items (the last may be shorter). */
export function splitChunks<T>(it: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < it.length; i += n) out.push(it.slice(i, i + n));
  return out;
}

Signature.TYPES.set('xmap', (app, d) => new XMap(app, (d.kwargs ?? {}).task as SignatureDict, ((d.kwargs ?? {}).it ?? []) as unknown[], { ...(d.options ?? {}) }));
Signature.TYPES.set('xstarmap', (app, d) => new XStarmap(app, (d.kwargs ?? {}).task as SignatureDict, ((d.kwargs ?? {}).it ?? []) as unknown[], { ...(d.options ?? {}) }));
Signature.TYPES.set('chunks', (app, d) => new Chunks(app, (d.kwargs ?? {}).task as SignatureDict, ((d.kwargs ?? {}).it ?? []) as unknown[], Number((d.kwargs ?? {}).n), { ...(d.options ?? {}) }));
