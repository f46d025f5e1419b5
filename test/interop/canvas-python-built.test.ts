// Canvases built and applied by real Python Celery 5 (interop/python/canvas_client.py): chain, group, chord (with a
// failing header), link/link_error (both errback styles), chunks/map/starmap, built-in tasks, nested canvases. Each
// is run on Python workers alone (the reference), entirely on a celeriac worker, and with its steps split between a
// Python and a celeriac worker in both directions; all four must give the same results. RabbitMQ and Redis brokers,
// Redis result backend (chords need it).

import { AMQP_URL, describeWith, REDIS_URL, uniqueName, type Need } from '../helpers/env';
import { startCeleriacWorker, startPythonWorker, type Proc } from '../helpers/processes';
import { outcome, runPythonCanvases, type CanvasRun } from './canvas-helpers';

const BROKERS: Array<{ name: string; broker: string; needs: Need[] }> = [
  { name: 'Redis broker', broker: REDIS_URL, needs: ['redis', 'python'] },
  { name: 'RabbitMQ broker', broker: AMQP_URL, needs: ['amqp', 'redis', 'python'] },
];

const chordError = { exc_class: 'ChordError', exc_module: 'celery.exceptions', exc_str: "Dependency <id> raised ValueError('bad value')" };

/** What each case must give, wherever it runs (the Python-only run is checked against this too). */
const EXPECTED: Record<string, { value: unknown; extra: Record<string, unknown> }> = {
  chain: { value: 60, extra: { parent: 6, root: 3 } },
  chain_immutable: { value: 10, extra: { first: 3 } },
  group: { value: [2, 4, 6], extra: { completed: 3, ready: true, restored: [2, 4, 6], restored_ids_match: true } },
  chord: { value: 12, extra: { header: [2, 4, 6] } },
  chord_failing_header: {
    value: chordError,
    extra: { state: 'FAILURE', via_parent: { exc_class: 'ValueError', exc_module: 'builtins', exc_str: 'bad value' }, new_style_errback_ran: true, old_style_errback_got_body_id: true, header_states: ['SUCCESS', 'FAILURE'] },
  },
  chord_last_on_b: { value: 2.3, extra: { body_applied_by_last: true } },
  link: { value: 3, extra: { callback: 30 } },
  link_error_new: { value: { exc_class: 'ValueError', exc_module: 'builtins', exc_str: 'boom' }, extra: { errback_ran: true } },
  link_error_old: { value: { exc_class: 'ValueError', exc_module: 'builtins', exc_str: 'boom' }, extra: { errback_got_failed_id: true } },
  chunks: { value: [[0, 2], [4, 6], [8, 10]], extra: {} },
  map: { value: [3, 12], extra: {} },
  starmap: { value: [3, 7], extra: {} },
  accumulate: { value: 2, extra: { all: [1, 2, 3] } },
  chord_unlock: { value: 6, extra: {} },
  chain_in_chord_in_chain: { value: 34, extra: {} },
  chord_in_chain_with_tail: { value: 68, extra: {} },
  chain_ending_in_group: { value: [3, 4], extra: { group_id_kept: true } },
  group_of_chains: { value: [4, 12], extra: {} },
  chord_of_chains: { value: 16, extra: {} },
  chain_failure: { value: { exc_class: 'ValueError', exc_module: 'builtins', exc_str: 'mid' }, extra: { first: 2, last_state: 'FAILURE' } },
};
const CASES = Object.keys(EXPECTED);

function expectAsExpected(runs: Record<string, CanvasRun>): void {
  expect(Object.fromEntries(CASES.map((c) => [c, outcome(runs[c])]))).toEqual(
    Object.fromEntries(CASES.map((c) => [c, { ok: true, value: EXPECTED[c].value, extra: EXPECTED[c].extra, error: undefined }])),
  );
}

for (const b of BROKERS) {
  describeWith(b.needs, `Python-built canvases on celeriac and mixed fleets (${b.name}, Redis backend)`, () => {
    const env = { broker: b.broker, backend: REDIS_URL };
    const node = [uniqueName('cv-node-a'), uniqueName('cv-node-b')];
    const py = [uniqueName('cv-py-a'), uniqueName('cv-py-b')];
    let nodeWorker: Proc;
    let pyWorker: Proc;
    let reference: Promise<Record<string, CanvasRun>> | undefined;
    /** The same cases on Python workers alone, run once. */
    const pythonAlone = (): Promise<Record<string, CanvasRun>> => (reference ??= runPythonCanvases(env, CASES, py[0], py[1]));

    beforeAll(async () => {
      [nodeWorker, pyWorker] = await Promise.all([
        startCeleriacWorker({ broker: b.broker, backend: REDIS_URL, queues: node }),
        startPythonWorker({ broker: b.broker, backend: REDIS_URL, queues: py, concurrency: 4 }),
      ]);
    }, 90000);
    afterAll(async () => {
      await Promise.all([nodeWorker?.stop('SIGTERM'), pyWorker?.stop('SIGTERM')]);
    });

    test('reference: on Python workers alone every case gives the expected result', async () => {
      expectAsExpected(await pythonAlone());
    }, 120000);

    test('entirely on celeriac: the same results as on Python alone', async () => {
      const runs = await runPythonCanvases(env, CASES, node[0], node[1]);
      expectAsExpected(runs);
      const ref = await pythonAlone();
      for (const c of CASES) expect({ case: c, ...(outcome(runs[c]) as object) }).toEqual({ case: c, ...(outcome(ref[c]) as object) });
      expect(nodeWorker.output).toMatch(/celery\.chord_unlock\[[^\]]+\] (succeeded|retry)/);
    }, 120000);

    test('steps split, Python first then celeriac: the same results (chords counted by both, celeriac finishing last)', async () => {
      const runs = await runPythonCanvases(env, CASES, py[0], node[1]);
      expectAsExpected(runs);
      const ref = await pythonAlone();
      for (const c of CASES) expect({ case: c, ...(outcome(runs[c]) as object) }).toEqual({ case: c, ...(outcome(ref[c]) as object) });
    }, 120000);

    test('steps split, celeriac first then Python: the same results (Python finishing the chords last)', async () => {
      const runs = await runPythonCanvases(env, CASES, node[0], py[1]);
      expectAsExpected(runs);
      const ref = await pythonAlone();
      for (const c of CASES) expect({ case: c, ...(outcome(runs[c]) as object) }).toEqual({ case: c, ...(outcome(ref[c]) as object) });
    }, 120000);
  });
}
