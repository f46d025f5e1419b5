// Building canvases in Node with Celery's rules: chain(a, b, c) is a | b | c (a group followed by a task becomes a
// chord, a chord followed by a task extends its body), group(...), chord(header, body), chunks, map and starmap.

import type { SignatureDict } from '../../protocol';
import type { CanvasResult } from './results';
import { maybeSignature, Signature, type AnySignature, type CanvasApp } from './signature';
import { Group, maybeUnrollGroup } from './group';
import { Chain } from './chain';
import { Chord } from './chord';
import { Chunks, XMap, XStarmap } from './maps';


/** Python's `a | b` between canvas types. */
export function pipe(a: AnySignature, b: AnySignature): AnySignature {
  if (a instanceof Chain) {
    if (b instanceof Group) {
      const other = maybeUnrollGroup(b);
      const tasks = a.unchainTasks();
      return tasks.length === 0 ? other : new Chain(a.app, [...tasks, other]);
    }
    if (b instanceof Chain) return new Chain(a.app, [...a.unchainTasks(), ...b.unchainTasks()]);
    const last = a.tasks[a.tasks.length - 1];
    if (last instanceof Group) {
      // chain ending in a group | task → the group and the task become a chord.
      const sig = a.clone();
      sig.tasks[sig.tasks.length - 1] = new Chord(a.app, sig.tasks[sig.tasks.length - 1], b);
      return sig;
    }
    if (last instanceof Chord) {
      // chain ending in a chord | task → the task joins the chord's body.
      const sig = a.clone();
      const ch = sig.tasks[sig.tasks.length - 1] as Chord;
      ch.body = pipe(ch.body, b);
      return sig;
    }
    return new Chain(a.app, [...a.unchainTasks(), b]);
  }
  if (a instanceof Group) return new Chord(a.app, a, b);
  if (a instanceof Chord && !(b instanceof Group) && !(b instanceof Chain)) {
    const sig = a.clone();
    sig.body = pipe(sig.body, b);
    return sig;
  }
  if (b instanceof Chain) return new Chain(a.app, [a, ...b.unchainTasks()]);
  if (b instanceof Group) return new Chain(a.app, [a, maybeUnrollGroup(b)]);
  return new Chain(a.app, [a, b]);
}

function appOf(sigs: Array<AnySignature | SignatureDict>, what: string): CanvasApp {
  const first = sigs.find((s): s is Signature => s instanceof Signature);
  if (!first) throw new TypeError(`${what}: give at least one signature object (from task.s() or app.signature())`);
  return first.app;
}

function flatten<T>(items: Array<T | T[]>): T[] {
  return items.length === 1 && Array.isArray(items[0]) ? (items[0] as T[]) : (items as T[]);
}

/**
 * Steps run one after another, each receiving the previous result: `chain(add.s(1, 2), add.s(3), mul.s(10))`.
 * As in Celery, `chain(..., group(...), task)` makes the group and the task a chord.
 */
export function chain<R = unknown>(...tasks: Array<AnySignature | AnySignature[]>): Signature<R, CanvasResult<R>> {
  const list = flatten(tasks);
  const app = appOf(list, 'chain');
  if (list.length === 1) return new Chain<R>(app, [list[0]]);
  return list.reduce<AnySignature>((acc, t) => pipe(acc, t), new Chain(app, [])) as Signature<R, CanvasResult<R>>;
}

/** Signatures run in parallel; the result is a GroupResult in the same order: `group(add.s(1, 1), add.s(2, 2))`. */
export function group<R = unknown>(...tasks: Array<AnySignature | AnySignature[]>): Group<R> {
  const list = flatten(tasks);
  return new Group<R>(appOf(list, 'group'), list.length === 1 ? [list[0].clone()] : list);
}

/** A header group, then the body with the header's results in order: `chord([add.s(1, 1), add.s(2, 2)], tsum.s())`. */
export function chord<R = unknown>(header: AnySignature[] | Group, body: AnySignature): Chord<R> {
  const app = body instanceof Signature ? body.app : appOf(header instanceof Group ? header.tasks : header, 'chord');
  return new Chord<R>(app, header, body);
}

/** Something that makes a signature of a task: a Signature, or a task handle (`add`, `app.remoteTask(...)`). */
export type TaskSignatureLike = AnySignature | { s(): AnySignature };

function taskSig(t: TaskSignatureLike): AnySignature {
  return t instanceof Signature ? t : t.s();
}

/** `celery.chunks`: the argument tuples split into groups of n, each run by one `celery.starmap` task. */
export function chunks<R = unknown>(task: TaskSignatureLike, it: unknown[][], n: number): Chunks<R> {
  const sig = taskSig(task);
  return new Chunks<R>(sig.app, sig, it, n);
}

/** `celery.map`: `[task(x) for x in it]` in one message. */
export function xmap<R = unknown>(task: TaskSignatureLike, it: unknown[]): XMap<R> {
  const sig = taskSig(task);
  return new XMap<R>(sig.app, sig, it);
}

/** `celery.starmap`: `[task(*x) for x in it]` in one message. */
export function starmap<R = unknown>(task: TaskSignatureLike, it: unknown[][]): XStarmap<R> {
  const sig = taskSig(task);
  return new XStarmap<R>(sig.app, sig, it);
}

/** Rebuild any canvas from its wire dict (chain, group, chord, chunks, map, or a plain signature). */
export function signatureFromDict(app: CanvasApp, d: SignatureDict): AnySignature {
  return maybeSignature(app, d) as AnySignature;
}
