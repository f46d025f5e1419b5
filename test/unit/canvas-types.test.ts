// Typed signatures: `task.s()`/`task.si()` are checked against the task's parameter types at compile time. The
// `@ts-expect-error` lines are the assertions: `npm run typecheck` fails if any of them stops being an error.

import { Celery, chain, chord, group, type GroupResult, type CanvasResult } from '../../src';

const app = new Celery({ broker: 'memory://types', backend: 'memory://types' });
const add = app.task('tasks.add', { params: ['x', 'y'] }, (x: number, y: number) => x + y);
const tsum = app.task('tasks.tsum', { params: ['numbers'] }, (numbers: number[]) => numbers.reduce((a, b) => a + b, 0));
const greet = app.task('tasks.greet', { params: ['name', { name: 'punctuation', default: '!' }] }, (name: string, punctuation = '!') => `hi ${name}${punctuation}`);
const mul = app.remoteTask<[number, number], number>('tasks.mul');

function compileTimeChecks(): void {
  add.s(1, 2);
  add.s(3); // the parent's result will be x
  add.s();
  add.si(5, 5);
  mul.s(10);
  greet.s('ann');
  greet.s('ann', '?');
  tsum.s([1, 2]);

  // @ts-expect-error a string where a number is declared
  add.s('1', 2);
  // @ts-expect-error a partial signature holds a tail of the parameters: y must be a number
  add.s('y');
  // @ts-expect-error too many arguments
  add.s(1, 2, 3);
  // @ts-expect-error an immutable signature needs all the arguments
  add.si(5);
  // @ts-expect-error a remote task's declared types are checked too
  mul.s('ten');
  // @ts-expect-error tsum takes a list
  tsum.s(1, 2);

  // Results are typed by the canvas: a chain or chord gives the last task's AsyncResult, a group a GroupResult.
  const c: Promise<CanvasResult<number>> = chain<number>(add.s(1, 2), add.s(3)).applyAsync();
  const g: Promise<GroupResult<number>> = group<number>(add.s(1, 1), add.s(2, 2)).applyAsync();
  const h: Promise<CanvasResult<number>> = chord<number>([add.s(1, 1)], tsum.s()).applyAsync();
  void [c, g, h];
}

test('signature types are checked at compile time (see the @ts-expect-error lines; run by npm run typecheck)', () => {
  expect(typeof compileTimeChecks).toBe('function');
  // The checks are types only; at run time a signature still carries exactly the given arguments.
  expect(add.s(3).args).toEqual([3]);
  expect(add.si(5, 5).immutable).toBe(true);
});
