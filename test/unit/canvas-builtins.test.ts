// Celery's built-in tasks run by a celeriac worker, sent by name with Celery's arguments (as a Python app may send
// them), and the result backends that cannot run chords refusing them as Celery does.

import { Celery, Worker, ValueError, chain, chord, group, GroupResult, NotImplementedError, type AsyncResult } from '../../src';
import { nodeFromTuple, nodeTuple, resultFor, resultTuple } from '../../src/canvas';
import { uniqueName } from '../helpers/env';

const url = `memory://${uniqueName('canvas-builtins')}`;
const app = new Celery({ broker: url, backend: url });
const add = app.task('tasks.add', { params: ['x', 'y'] }, (x: number, y: number) => x + y);
const tsum = app.task('tasks.tsum', { params: ['numbers'] }, (numbers: number[]) => numbers.reduce((a, b) => a + b, 0));
const fail = app.task('tasks.fail', { params: ['message'] }, (message: string): never => {
  throw new ValueError(message);
});
const worker = new Worker(app, { concurrency: 4 });
const T = { timeout: 10 };

beforeAll(() => worker.start());
afterAll(() => worker.stop());

test('the worker registers the built-in tasks under Celery\'s names', () => {
  for (const name of ['celery.map', 'celery.starmap', 'celery.chunks', 'celery.group', 'celery.chain', 'celery.chord', 'celery.accumulate', 'celery.chord_unlock', 'celery.backend_cleanup']) {
    expect(app.tasks.get(name)?.handler).toEqual(expect.any(Function));
  }
});

test('celery.map and celery.starmap call the task here, in order', async () => {
  const m = await app.sendTask('celery.map', [], { task: tsum.s().toDict(), it: [[1, 2], [3, 4, 5]] });
  const s = await app.sendTask('celery.starmap', [], { task: add.s().toDict(), it: [[1, 2], [3, 4]] });
  expect(await m.get(T)).toEqual([3, 12]);
  expect(await s.get(T)).toEqual([3, 7]);
});

test('celery.map of a task this worker does not have fails with NotRegistered', async () => {
  const r = await app.sendTask('celery.map', [], { task: app.signature('tasks.not_here').toDict(), it: [1] });
  await expect(r.get(T)).rejects.toMatchObject({ excType: 'NotRegistered', excModule: 'celery.exceptions', excMessage: ['tasks.not_here'] });
});

test('celery.chunks sends a group of celery.starmap tasks and returns that group (also in its children)', async () => {
  const r = await app.sendTask('celery.chunks', [], { task: add.s().toDict(), it: [[1, 2], [3, 4], [5, 6]], n: 2 });
  const tuple = await r.get(T);
  const g = resultFor(app, nodeFromTuple(tuple)) as GroupResult;
  expect(g).toBeInstanceOf(GroupResult);
  expect(await g.get(T)).toEqual([[3, 7], [11]]);
  expect((await r.meta()).children).toEqual([tuple]);
});

test('celery.group applies each task under the given group id with the partial args', async () => {
  const g = group(add.s(1), add.s(2));
  const node = g.freeze();
  const r = await app.sendTask('celery.group', [g.tasks.map((t) => t.toDict()), nodeTuple(node), node.id, [10]]);
  expect(await r.get(T)).toEqual(nodeTuple(node));
  expect(await (resultFor(app, node) as GroupResult).get(T)).toEqual([11, 12]);
});

test('celery.chord applies header and body', async () => {
  const body = tsum.s().set({ taskId: uniqueName('body') });
  const r = await app.sendTask('celery.chord', [], { header: [add.s(1, 1).toDict(), add.s(2, 2).toDict()], body: body.toDict() });
  const returned = await r.get(T);
  expect((returned as [[string]])[0][0]).toBe(body.id);
  expect(await app.AsyncResult(body.id as string).get(T)).toBe(6);
});

test('celery.accumulate returns its arguments, or the one at `index`', async () => {
  expect(await (await app.sendTask('celery.accumulate', [1, 2, 3], { index: 1 })).get(T)).toBe(2);
  expect(await (await app.sendTask('celery.accumulate', [1, 2, 3])).get(T)).toEqual([1, 2, 3]);
});

test('celery.chain is not a real task', async () => {
  const r = await app.sendTask('celery.chain', []);
  await expect(r.get(T)).rejects.toMatchObject({ excType: 'NotImplementedError', message: 'chain is not a real task' });
});

describe('celery.chord_unlock (backends without a native join)', () => {
  async function unlock(header: GroupResult, bodyId: string): Promise<AsyncResult> {
    const body = tsum.s().set({ taskId: bodyId });
    await app.sendTask('celery.chord_unlock', [header.id, body.toDict()], { interval: 0.05, result: header.results.map(resultTuple) });
    return app.AsyncResult(bodyId);
  }

  test('waits (by retrying) for the header, then applies the body with the results', async () => {
    const header = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
    expect(await (await unlock(header, uniqueName('body'))).get(T)).toBe(6);
  });

  test('a failed header task fails the body with ChordError naming it', async () => {
    const header = await group(add.s(1, 1), fail.s('nope')).applyAsync();
    const body = await unlock(header, uniqueName('body'));
    await expect(body.get(T)).rejects.toMatchObject({ excType: 'ChordError', message: `Dependency ${header.results[1].id} raised ValueError('nope')` });
  });
});

describe('backends without chords', () => {
  test('rpc:// refuses a chord and a chain that becomes one, before sending anything (Celery\'s NotImplementedError)', async () => {
    const rpc = new Celery({ broker: `memory://${uniqueName('rpc')}`, backend: 'rpc://' });
    const publish = jest.spyOn(rpc.broker, 'publish');
    const a = rpc.remoteTask<[number, number], number>('tasks.add');
    const s = rpc.remoteTask<[number[]], number>('tasks.tsum');
    await expect(chord([a.s(1, 1)], s.s()).applyAsync()).rejects.toThrow(/^The "rpc" result backend does not support chords!/);
    await expect(chain(a.s(1, 1), group(a.s(1), a.s(2)), s.s()).applyAsync()).rejects.toBeInstanceOf(NotImplementedError);
    expect(publish).not.toHaveBeenCalled();
    await rpc.close();
  });

  test('no result backend: chords need one', async () => {
    const none = new Celery({ broker: `memory://${uniqueName('nobackend')}` });
    const a = none.remoteTask<[number, number], number>('tasks.add');
    await expect(chord([a.s(1, 1)], a.s(1)).applyAsync()).rejects.toThrow(/^Starting chords requires a result backend to be configured\./);
    await none.close();
  });
});
