// The worker's canvas handling on the memory broker and backend: chain steps, callbacks, errbacks (both styles),
// chords (success, failing header, nested), chain failure propagation, with Celery's ids, parents and children.

import { decodeTaskMessage, type ResultMeta, type TaskRequestData, type WireMessage } from '../../protocol';
import { Celery, Worker, ValueError, chain, chord, group, GroupResult, MemoryBackend, TaskError, type Route, type TaskRequest } from '../../src';
import { currentParent } from '../../src/canvas';
import { uniqueName } from '../helpers/env';

interface ErrbackCall {
  request: TaskRequest;
  exc: unknown;
  traceback: string | null;
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const url = `memory://${uniqueName('canvas-worker')}`;
const app = new Celery({ broker: url, backend: url });
const add = app.task('tasks.add', { params: ['x', 'y'] }, (x: number, y: number) => x + y);
const mul = app.task('tasks.mul', { params: ['x', 'y'] }, (x: number, y: number) => x * y);
const tsum = app.task('tasks.tsum', { params: ['numbers'] }, (numbers: number[]) => numbers.reduce((a, b) => a + b, 0));
const fail = app.task('tasks.fail', { params: ['message'] }, (message: string): never => {
  throw new ValueError(message);
});
const logFailed = app.task('tasks.log_failed', { params: ['task_id'] }, (taskId: string) => taskId);
let errbackCalls = deferred<ErrbackCall>();
app.task('tasks.on_error', { params: ['request', 'exc', 'traceback'] }, (request: TaskRequest, exc: unknown, traceback: string | null) => {
  errbackCalls.resolve({ request, exc, traceback });
});
// No declared params: the handler's own arity decides, as Celery's arity check does.
let undeclared = deferred<unknown[]>();
app.task('tasks.on_error_undeclared', (request: TaskRequest, exc: unknown, traceback: string | null) => {
  undeclared.resolve([request.id, exc, traceback]);
});

// What a running task sees as the canvas parent: nothing, since only the worker's own canvas code sets one.
app.task('tasks.parent_seen', { params: ['value'] }, () => currentParent()?.id ?? null);
app.task('tasks.add_late', { params: ['x', 'y'], acksLate: true }, (x: number, y: number) => x + y);

const sent: TaskRequestData[] = [];
let watchers: Array<{ match: (m: TaskRequestData) => boolean; resolve: (m: TaskRequestData) => void }> = [];
const realPublish = app.broker.publish.bind(app.broker);
jest.spyOn(app.broker, 'publish').mockImplementation(async (route: Route, wire: WireMessage) => {
  const m = decodeTaskMessage(wire, new Set(['json']));
  sent.push(m);
  watchers = watchers.filter((w) => (w.match(m) ? (w.resolve(m), false) : true));
  return realPublish(route, wire);
});

/** The first message published (already or later) that matches. */
function published(match: (m: TaskRequestData) => boolean): Promise<TaskRequestData> {
  const found = sent.find(match);
  return found ? Promise.resolve(found) : new Promise((resolve) => watchers.push({ match, resolve }));
}
const worker = new Worker(app, { concurrency: 4 });
const backend = app.backend as MemoryBackend;
const meta = async (id: string): Promise<ResultMeta> => (await backend.get(id)) as ResultMeta;
const message = (id: string): TaskRequestData => sent.filter((m) => m.id === id).pop() as TaskRequestData;
const T = { timeout: 10 };

beforeAll(() => worker.start());
afterAll(() => worker.stop());
beforeEach(() => {
  errbackCalls = deferred();
  undeclared = deferred();
});

describe('chain', () => {
  test('each step gets the previous result; parent_id, root_id and children link the steps', async () => {
    const r = await chain(add.s(1, 2), add.s(3), mul.s(10)).applyAsync();
    expect(await r.get(T)).toBe(60);
    const second = r.parent as { id: string };
    const first = message(sent.find((m) => m.embed.chain?.[0]?.options?.task_id === r.id && m.task === 'tasks.add' && m.args[0] === 1)!.id);
    expect(message(second.id).args).toEqual([3, 3]);
    expect(message(second.id).parentId).toBe(first.id);
    expect(message(r.id).args).toEqual([6, 10]);
    expect(message(r.id).parentId).toBe(second.id);
    expect(message(r.id).rootId).toBe(first.id);
    expect(message(r.id).embed.chain).toEqual([]);
    expect((await meta(first.id)).children).toEqual([[[second.id, null], null]]);
    expect((await meta(r.id)).parent_id).toBe(second.id);
  });

  test('an immutable step keeps its own arguments', async () => {
    const r = await chain(add.s(1, 2), add.si(5, 5)).applyAsync();
    expect(await r.get(T)).toBe(10);
  });

  test('a failing step fails the steps after it with the same error', async () => {
    const r = await chain(add.s(1, 1), fail.si('mid'), add.s(1), mul.s(2)).applyAsync();
    await expect(r.get(T)).rejects.toMatchObject({ excType: 'ValueError', message: 'mid' });
    // Celery stores the failure for every later step (the last one first), each with the failing task's traceback.
    const third = r.parent as { id: string };
    await expect(app.AsyncResult(third.id).get(T)).rejects.toMatchObject({ excType: 'ValueError', message: 'mid' });
    expect((await meta(third.id)).traceback).toMatch(/ValueError: mid/);
    expect((await meta(r.id)).status).toBe('FAILURE');
  });
});

describe('callbacks and errbacks', () => {
  test('link: the callback gets the result first; it is listed in children', async () => {
    const r = await add.s(1, 2).link(mul.s(10)).applyAsync();
    expect(await r.get(T)).toBe(3);
    const [[[cbId]]] = (await meta(r.id)).children as [[[string, null], null]];
    expect(await app.AsyncResult(cbId).get(T)).toBe(30);
    expect(message(cbId)).toMatchObject({ args: [3, 10], parentId: r.id, rootId: r.id, group: null });
  });

  test('a callback runs as its own task: the parent context used to send it does not leak into it', async () => {
    // acksLate: the broker is idle when the callback is published, so its delivery is scheduled right then.
    const r = await app.signature('tasks.add_late', [1, 1]).link(app.signature('tasks.parent_seen')).applyAsync();
    await r.get(T);
    const [[[cbId]]] = (await meta(r.id)).children as [[[string, null], null]];
    expect(await app.AsyncResult(cbId).get(T)).toBeNull();
  });

  test('several callbacks are applied as one group', async () => {
    const r = await add.s(2, 2).link(mul.s(10)).link(add.s(1)).applyAsync();
    await r.get(T);
    const [child] = (await meta(r.id)).children;
    const [[gid], members] = child as [[string, null], Array<[[string, null], null]>];
    const values = await Promise.all(members.map(([[id]]) => app.AsyncResult(id).get(T)));
    expect(values).toEqual([40, 5]);
    expect(members.map(([[id]]) => message(id).group)).toEqual([gid, gid]);
  });

  test('a new-style errback (request, exc, traceback) is called inline with the failed request', async () => {
    const r = await fail.s('boom').linkError(app.signature('tasks.on_error')).applyAsync();
    await expect(r.get(T)).rejects.toBeInstanceOf(TaskError);
    const call = await errbackCalls.promise;
    expect(call.request.id).toBe(r.id);
    expect(call.request.task).toBe('tasks.fail');
    expect(call.request.args).toEqual(['boom']);
    expect(call.exc).toBeInstanceOf(ValueError);
    expect(call.traceback).toMatch(/ValueError: boom\n$/);
    expect(sent.some((m) => m.task === 'tasks.on_error')).toBe(false); // no message: inline
  });

  test('a handler taking three arguments without declared params is new-style too', async () => {
    const r = await fail.s('arity').linkError(app.signature('tasks.on_error_undeclared')).applyAsync();
    await expect(r.get(T)).rejects.toBeInstanceOf(TaskError);
    const [id, exc] = await undeclared.promise;
    expect(id).toBe(r.id);
    expect(exc).toBeInstanceOf(ValueError);
  });

  test('an old-style errback (task_id) is sent as a group with the failed id, parent and root', async () => {
    const logId = uniqueName('log');
    const r = await fail.s('old').linkError(logFailed.s().set({ taskId: logId })).applyAsync();
    await expect(r.get(T)).rejects.toBeInstanceOf(TaskError);
    expect(await app.AsyncResult(logId).get(T)).toBe(r.id);
    expect(message(logId)).toMatchObject({ args: [r.id], parentId: r.id, rootId: r.id });
    expect(message(logId).group).toEqual(expect.any(String));
  });

  test('an errback this worker does not know is sent old-style for another worker', async () => {
    const r = await fail.s('elsewhere').linkError(app.signature('tasks.python_only_errback', [], {}, { queue: 'nobody-consumes' })).applyAsync();
    await expect(r.get(T)).rejects.toBeInstanceOf(TaskError);
    // The failure is stored before errbacks run, so wait for the message itself.
    expect(await published((m) => m.task === 'tasks.python_only_errback')).toMatchObject({ args: [r.id], parentId: r.id });
    expect(await app.broker.purge('nobody-consumes')).toBe(1);
  });
});

describe('chord', () => {
  test('the last header task applies the body with the results in header order; counters are removed', async () => {
    const r = await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], tsum.s()).applyAsync();
    expect(await r.get(T)).toBe(12);
    const gid = (r.parent as { id: string }).id;
    expect(backend.chords.has(gid)).toBe(false);
    const body = message(r.id);
    expect(body.args).toEqual([[2, 4, 6]]);
    const headerIds = sent.filter((m) => m.group === gid).map((m) => m.id);
    expect(headerIds).toContain(body.parentId);
  });

  test('a failing header task fails the body with ChordError and runs the body\'s errbacks', async () => {
    const logId = uniqueName('log');
    const body = tsum.s().linkError(app.signature('tasks.on_error')).linkError(logFailed.s().set({ taskId: logId }));
    const r = await chord([add.s(1, 1), fail.s('bad value')], body).applyAsync();
    const err = (await r.get(T).catch((e: unknown) => e)) as TaskError;
    const failing = sent.find((m) => m.task === 'tasks.fail' && m.group === (r.parent as { id: string }).id) as TaskRequestData;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.excType).toBe('ChordError');
    expect(err.excModule).toBe('celery.exceptions');
    expect(err.message).toBe(`Dependency ${failing.id} raised ValueError('bad value')`);
    expect((await errbackCalls.promise).request.id).toBe(r.id);
    expect(await app.AsyncResult(logId).get(T)).toBe(r.id);
    // As Celery: the counters stay when the chord fails.
    expect(backend.chords.has(failing.group as string)).toBe(true);
  });

  test('a chain inside a chord header counts when it ends, also when one of its steps fails', async () => {
    const ok = await chord([chain(add.s(1, 1), mul.s(2)), chain(add.s(2, 2), mul.s(3))], tsum.s()).applyAsync();
    expect(await ok.get(T)).toBe(16);
    const bad = await chord([chain(add.s(1, 1), fail.si('in chain'), mul.s(2)), add.s(2, 2)], tsum.s()).applyAsync();
    await expect(bad.get(T)).rejects.toMatchObject({ excType: 'ChordError', message: expect.stringMatching(/raised ValueError\('in chain'\)$/) });
  });

  test('nested: a group in a chain becomes a chord; a chord in a chain passes its result on; a group of chains', async () => {
    expect(await (await chain(add.s(1, 1), group(add.s(10), add.s(20)), tsum.s()).applyAsync()).get(T)).toBe(34);
    expect(await (await chain(add.s(1, 1), chord([add.s(10), add.s(20)], tsum.s()), mul.s(2)).applyAsync()).get(T)).toBe(68);
    expect(await (await group(chain(add.s(1, 1), mul.s(2)), chain(add.s(2, 2), mul.s(3))).applyAsync()).get(T)).toEqual([4, 12]);
    expect(await (await chain(add.s(1, 1), group(add.s(1), add.s(2))).applyAsync()).get(T)).toEqual([3, 4]);
    expect(await (await chord([group(add.s(1, 1), add.s(2, 2)), add.s(3, 3)], tsum.s()).applyAsync()).get(T)).toBe(12);
  });

  test('a revoked header task counts too: the body fails with ChordError instead of waiting forever', async () => {
    const revokedId = uniqueName('revoked');
    worker.revoked.add(revokedId);
    const r = await chord([add.s(1, 1), add.s(2, 2).set({ taskId: revokedId })], tsum.s()).applyAsync();
    await expect(r.get(T)).rejects.toMatchObject({ excType: 'ChordError', message: `Dependency ${revokedId} raised TaskRevokedError('revoked')` });
    expect((await meta(revokedId)).status).toBe('REVOKED');
  });

  test('an empty header applies the body at once with []', async () => {
    const r = await chord([], tsum.s()).applyAsync();
    expect(await r.get(T)).toBe(0);
  });
});

describe('GroupResult', () => {
  test('get, completedCount, ready, successful, failed, and get without propagation', async () => {
    const g = await group(add.s(1, 1), fail.s('one failed'), add.s(3, 3)).applyAsync();
    await expect(g.get(T)).rejects.toMatchObject({ excType: 'ValueError' });
    expect(await g.get({ ...T, propagate: false })).toEqual([2, { exc_type: 'ValueError', exc_message: ['one failed'], exc_module: 'builtins' }, 6]);
    expect(await g.completedCount()).toBe(2);
    expect(await g.ready()).toBe(true);
    expect(await g.waiting()).toBe(false);
    expect(await g.successful()).toBe(false);
    expect(await g.failed()).toBe(true);
  });

  test('save, restore and delete', async () => {
    const g = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
    await g.save();
    const back = await GroupResult.restore(app, g.id);
    expect(await back?.get(T)).toEqual([2, 4]);
    await g.delete();
    expect(await GroupResult.restore(app, g.id)).toBeNull();
  });
});
