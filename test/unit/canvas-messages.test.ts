// Node-built canvases publish the messages Python's Celery 5.2 client publishes (golden captures): the same embed
// (chain reversed, chord body with preassigned id, group/group_index headers, chain→chord upgrade), chord size and
// group save bytes, with only the ids differing.

import { decodeTaskMessage, type TaskRequestData, type WireMessage } from '../../protocol';
import { Celery, chain, chord, chunks, group, starmap, xmap, GroupResult, MemoryBackend, type Route } from '../../src';
import { encodePart } from '../../src/canvas';
import { uniqueName } from '../helpers/env';
import { loadFixture } from './protocol/helpers';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(UUID, '<uuid>'));

interface Golden {
  messages: Array<{ envelope: { headers: Record<string, unknown> }; body_decoded: unknown[] }>;
  other_keys_created: Array<{ key: string; value: string }>;
}

function setup() {
  const url = `memory://${uniqueName('canvas-msg')}`;
  const app = new Celery({ broker: url, backend: url });
  const add = app.remoteTask<[number, number], number>('tasks.add');
  const mul = app.remoteTask<[number, number], number>('tasks.mul');
  const tsum = app.remoteTask<[number[]], number>('tasks.tsum');
  const sent: Array<{ route: Route; data: TaskRequestData }> = [];
  jest.spyOn(app.broker, 'publish').mockImplementation(async (route: Route, message: WireMessage) => {
    sent.push({ route, data: decodeTaskMessage(message, new Set(['json'])) });
  });
  return { app, add, mul, tsum, sent };
}

function body(d: TaskRequestData): unknown[] {
  return [d.args, d.kwargs, d.embed];
}

/** The headers both sides must agree on (lang and origin name the sender). */
function headers(d: TaskRequestData): Record<string, unknown> {
  const h = d.headers;
  return { task: h.task, group: h.group, group_index: h.group_index, retries: h.retries, timelimit: h.timelimit, parent_id: h.parent_id, root_is_self: h.root_id === h.id, argsrepr: h.argsrepr, kwargsrepr: h.kwargsrepr, eta: h.eta, expires: h.expires };
}

function goldenHeaders(h: Record<string, unknown>): Record<string, unknown> {
  return { task: h.task, group: h.group, group_index: h.group_index, retries: h.retries, timelimit: h.timelimit, parent_id: h.parent_id, root_is_self: h.root_id === h.id, argsrepr: h.argsrepr, kwargsrepr: h.kwargsrepr, eta: h.eta, expires: h.expires };
}

function expectLikeGolden(name: string, sent: Array<{ data: TaskRequestData }>): Golden {
  const golden = loadFixture<Golden>(`redis_broker/${name}.json`);
  expect(sent.map((s) => norm(body(s.data)))).toEqual(golden.messages.map((m) => norm(m.body_decoded)));
  expect(sent.map((s) => norm(headers(s.data)))).toEqual(golden.messages.map((m) => norm(goldenHeaders(m.envelope.headers))));
  return golden;
}

describe('Node-built canvases publish what Python publishes', () => {
  test('chain(add.s(1, 2), add.s(3), mul.s(10)): one message, the rest reversed in `chain`, the result is the last step', async () => {
    const { add, mul, sent } = setup();
    const r = await chain(add.s(1, 2), add.s(3), mul.s(10)).applyAsync();
    expectLikeGolden('chain', sent);
    const steps = sent[0].data.embed.chain ?? [];
    expect(steps.map((s) => s.task)).toEqual(['tasks.mul', 'tasks.add']);
    expect(steps[0].options?.task_id).toBe(r.id);
    expect(r.parent?.id).toBe(steps[1].options?.task_id);
    expect(r.parent && 'parent' in r.parent ? (r.parent.parent as { id: string }).id : null).toBe(sent[0].data.id);
  });

  test('chain with an immutable step', async () => {
    const { add, sent } = setup();
    await chain(add.s(1, 2), add.si(5, 5)).applyAsync();
    expectLikeGolden('chain_immutable', sent);
  });

  test('group: one message per member with the group id, group_index null', async () => {
    const { add, sent } = setup();
    const g = await group(add.s(1, 1), add.s(2, 2), add.s(3, 3)).applyAsync();
    expectLikeGolden('group', sent);
    expect(new Set(sent.map((s) => s.data.group))).toEqual(new Set([g.id]));
    expect(g.results.map((r) => r.id)).toEqual(sent.map((s) => s.data.id));
  });

  test('chord: header with group_index and the body (preassigned id) in `chord`; the size is stored first', async () => {
    const { app, add, tsum, sent } = setup();
    const r = await chord([add.s(1, 1), add.s(2, 2)], tsum.s()).applyAsync();
    const golden = expectLikeGolden('chord', sent);
    expect(sent[0].data.embed.chord?.options?.task_id).toBe(r.id);
    const gid = sent[0].data.group as string;
    expect(golden.other_keys_created[0].key).toMatch(/^celery-taskset-meta-.*\.s$/);
    expect((app.backend as MemoryBackend).chords.get(gid)?.size).toBe(Number(golden.other_keys_created[0].value));
    expect(r.parent instanceof GroupResult && r.parent.id).toBe(gid);
  });

  test('chain(add.s(1, 1), group(add.s(10), add.s(20)), tsum.s()) becomes a chord step (celery.chord with a celery.group header)', async () => {
    const { add, tsum, sent } = setup();
    const r = await chain(add.s(1, 1), group(add.s(10), add.s(20)), tsum.s()).applyAsync();
    expectLikeGolden('chain_with_group_becomes_chord', sent);
    const step = (sent[0].data.embed.chain ?? [])[0];
    expect(step.subtask_type).toBe('chord');
    expect((step.kwargs?.body as { options: { task_id: string } }).options.task_id).toBe(r.id);
  });

  test('link and link_error travel as callbacks and errbacks', async () => {
    const { app, add, mul, sent } = setup();
    await add.s(1, 2).link(mul.s(10)).linkError(app.signature('tasks.on_error_old')).applyAsync();
    expectLikeGolden('link_and_link_error', sent);
  });

  test('chunks, map and starmap are celery.starmap / celery.map messages with kwargs {task, it}', async () => {
    const { add, tsum, sent } = setup();
    const c = await chunks(add.s(), [[1, 2], [3, 4], [5, 6]], 2).applyAsync();
    await xmap(tsum.s(), [[1, 2]]).applyAsync();
    await starmap(add.s(), [[1, 2]]).applyAsync();
    expect(sent.map((s) => [s.data.task, s.data.args, norm(s.data.kwargs)])).toEqual([
      ['celery.starmap', [], { task: norm(add.s().toDict()), it: [[1, 2], [3, 4]] }],
      ['celery.starmap', [], { task: norm(add.s().toDict()), it: [[5, 6]] }],
      ['celery.map', [], { task: norm(tsum.s().toDict()), it: [[1, 2]] }],
      ['celery.starmap', [], { task: norm(add.s().toDict()), it: [[1, 2]] }],
    ]);
    expect(sent[0].data.group).toBe(c.id);
    expect(sent[1].data.group).toBe(c.id);
  });

  test('a chord dict from Python is read back as a Chord; as in Python its header becomes the list of member signatures', () => {
    const { app } = setup();
    const golden = loadFixture<Golden>('redis_broker/chain_with_group_becomes_chord.json');
    const step = (golden.messages[0].body_decoded[2] as { chain: Array<Record<string, any>> }).chain[0];
    const sig = app.signatureFromDict(step as never);
    expect(sig.constructor.name).toBe('Chord');
    const back = JSON.parse(JSON.stringify(sig));
    expect(back).toEqual({ ...step, kwargs: { ...step.kwargs, header: step.kwargs.header.kwargs.tasks } });
  });
});

describe('chord and group keys are written as Python writes them', () => {
  const trace = loadFixture<{ commands: Array<{ cmd: string; args: unknown[] }> }>('redis_backend/_chord_and_group_keys_trace.json');

  test('the .j member `[1, "<tid>", "<STATE>", <result>]` is byte for byte Python\'s json.dumps', () => {
    const zadds = trace.commands.filter((c) => c.cmd === 'ZADD').map((c) => c.args[2] as { raw: string; parsed: [number, string, string, unknown] });
    expect(zadds.length).toBeGreaterThanOrEqual(3);
    for (const z of zadds) expect(encodePart(z.parsed[1], z.parsed[2], z.parsed[3])).toBe(z.raw);
  });

  test('GroupResult.save() writes {"result": [[gid, null], [...]]} with Python\'s separators', async () => {
    const { app } = setup();
    const save = trace.commands.find((c) => c.cmd === 'SETEX' && !String(c.args[0]).endsWith('.s')) as unknown as { args: [string, string, { raw: string; parsed: { result: [[string, null], Array<[[string, null], null]>] } }] };
    const [[gid], members] = save.args[2].parsed.result;
    const g = new GroupResult(app, gid, members.map(([[id]]) => app.AsyncResult(id)));
    await g.save();
    expect(await (app.backend as MemoryBackend).getGroup(gid)).toBe(save.args[2].raw);
    const restored = await GroupResult.restore(app, gid);
    expect(restored?.results.map((r) => r.id)).toEqual(members.map(([[id]]) => id));
  });
});
