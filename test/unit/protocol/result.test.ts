// encodeResultMeta/decodeResultMeta against the result meta a real Python worker stored in Redis (plain and result_extended).

import {
  decodeResultMeta,
  encodeResultMeta,
  groupResultTuple,
  parseJson,
  resultTuple,
  stringifyJson,
  type ResultMeta,
} from '../../../protocol';
import { fixtureCases, keyLayout, loadFixture } from './helpers';

interface BackendFixture {
  task_id: string;
  final_value: { value: string } | null;
  writes_in_order: { cmd: string; raw: string }[];
}

/** Build the ResultMeta our worker would hold for a stored Python meta object. */
function metaFrom(parsed: Record<string, any>): ResultMeta {
  const meta: ResultMeta = {
    status: parsed.status,
    result: parsed.result,
    traceback: parsed.traceback,
    children: parsed.children,
    date_done: parsed.date_done,
    task_id: parsed.task_id,
  };
  if ('group_id' in parsed) meta.group_id = parsed.group_id;
  if ('parent_id' in parsed) meta.parent_id = parsed.parent_id;
  if ('name' in parsed) {
    meta.extended = {
      name: parsed.name,
      args: parsed.args,
      kwargs: parsed.kwargs,
      worker: parsed.worker,
      retries: parsed.retries, // null for a NotRegistered failure
      queue: parsed.queue,
    };
  }
  return meta;
}

function expectSameMeta(ours: string, python: string): void {
  const a = parseJson(ours);
  const b = parseJson(python);
  expect(a).toEqual(b);
  expect(keyLayout(a)).toEqual(keyLayout(b)); // same fields in the same order, nested ones too
  expect(stringifyJson(a, { pythonStyle: true })).toBe(python); // and byte-identical in Python's layout
}

for (const folder of ['redis_backend', 'redis_backend_extended']) {
  const cases = fixtureCases(folder);

  describe(folder, () => {
    test('holds the stored-result cases', () => {
      expect(cases).toHaveLength(23);
    });

    test.each(cases)('%s: encodeResultMeta reproduces final_value and every write', (name) => {
      const fx = loadFixture<BackendFixture>(`${folder}/${name}.json`);
      expect(fx.final_value).not.toBeNull();
      const finalValue = fx.final_value!.value;
      expectSameMeta(encodeResultMeta(metaFrom(parseJson(finalValue) as Record<string, any>)), finalValue);
      expect(fx.writes_in_order.length).toBeGreaterThan(0);
      for (const w of fx.writes_in_order) {
        expect(w.cmd).toBe('SETEX');
        expectSameMeta(encodeResultMeta(metaFrom(parseJson(w.raw) as Record<string, any>)), w.raw);
      }
      expect(fx.writes_in_order[fx.writes_in_order.length - 1].raw).toBe(finalValue);
    });

    test.each(cases)('%s: decodeResultMeta reads the stored value', (name) => {
      const fx = loadFixture<BackendFixture>(`${folder}/${name}.json`);
      const parsed = parseJson(fx.final_value!.value) as Record<string, any>;
      const meta = decodeResultMeta(fx.final_value!.value);
      expect(meta.status).toBe(parsed.status);
      expect(meta.result).toEqual(parsed.result);
      expect(meta.traceback).toBe(parsed.traceback);
      expect(meta.children).toEqual(parsed.children);
      expect(meta.date_done).toBe(parsed.date_done);
      expect(meta.parent_id).toBe(parsed.parent_id ?? null);
      expect(meta.task_id).toBe(fx.task_id);
    });
  });
}

test('field order: group_id, then parent_id, then the extended fields, then task_id', () => {
  const text = encodeResultMeta({
    status: 'SUCCESS',
    result: 1,
    traceback: null,
    children: [resultTuple('c1'), groupResultTuple('g2', [resultTuple('c2', 'p')])],
    date_done: '2026-11-29T07:56:08.183054',
    group_id: 'g',
    parent_id: 'p',
    task_id: 't',
    extended: { name: 'tasks.add', args: [1], kwargs: {}, worker: 'w', retries: 0, queue: 'celery' },
  });
  expect(Object.keys(parseJson(text) as object)).toEqual([
    'status', 'result', 'traceback', 'children', 'date_done', 'group_id', 'parent_id',
    'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id',
  ]);
  expect((parseJson(text) as ResultMeta).children).toEqual([[['c1', null], null], [['g2', null], [[['c2', 'p'], null]]]]);
});

test('absent group_id/parent_id are left out, as Celery does', () => {
  const text = encodeResultMeta({ status: 'PROGRESS', result: { current: 1 }, traceback: null, children: [], date_done: null, task_id: 't' });
  expect(text).toBe('{"status":"PROGRESS","result":{"current":1},"traceback":null,"children":[],"date_done":null,"task_id":"t"}');
});

test('decodeResultMeta accepts the aware date_done of Celery >= 5.5', () => {
  const meta = decodeResultMeta('{"status": "SUCCESS", "result": 2, "traceback": null, "children": [], "date_done": "2026-11-29T07:56:08.183054+00:00", "task_id": "t"}');
  expect(meta.date_done).toBe('2026-11-29T07:56:08.183054+00:00');
});
