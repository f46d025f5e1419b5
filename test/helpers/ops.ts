// Helpers for the operations suites: Python's `celery` command line (inspect/control/status), a long-running Python
// EventReceiver, and unique node names so tests never see other engineers' workers on the shared brokers.

import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseJson } from '../../protocol';
import { resolveSettings } from '../../src/config';
import { createBroadcastTransport } from '../../src/control/transport';
import { EventDispatcher } from '../../src/events/dispatcher';
import { PYTHON, ROOT, uniqueName } from './env';
import { Proc } from './processes';

const PY_DIR = path.join(ROOT, 'interop', 'python');

/** A node name unique to this test, and its expansion (`-n ops-…@%h` → `ops-…@<host>`). */
export function uniqueNode(prefix = 'ops'): { arg: string; name: string } {
  const base = uniqueName(prefix);
  return { arg: `${base}@%h`, name: `${base}@${os.hostname()}` };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `python -m celery -A celery_app <args>` against a broker (cwd interop/python). */
export async function celeryCli(broker: string, args: string[], backend?: string, timeoutMs = 60000): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, CELERY_BROKER_URL: broker, PYTHONUNBUFFERED: '1' };
  if (backend) env.CELERY_RESULT_BACKEND = backend;
  const child = spawn(PYTHON, ['-m', 'celery', '-A', 'celery_app', ...args], { cwd: PY_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, `celery ${args.slice(0, 2).join(' ')}`);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

/** `celery inspect|control <cmd> -d <node> -j`: the parsed JSON reply of that node (throws with the output if none). */
export async function celeryJson(broker: string, kind: 'inspect' | 'control', command: string[], node: string, timeout = 5): Promise<unknown> {
  const r = await celeryCli(broker, [kind, ...command, '-d', node, '-t', String(timeout), '-j']);
  // inspect -j prints {node: reply}; control -j prints the list of replies [{node: reply}]
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{') || l.startsWith('[')).pop();
  if (r.code !== 0 || !line) throw new Error(`celery ${kind} ${command.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  const parsed = parseJson(line) as Record<string, unknown> | Array<Record<string, unknown>>;
  const replies = Array.isArray(parsed) ? (Object.assign({}, ...parsed) as Record<string, unknown>) : parsed;
  return replies[node];
}

const RECEIVER = `
import json, socket, sys
from celery_app import app
from celery.events.state import State

node, queue = sys.argv[1], sys.argv[2]
state = State()

def dump(obj):
    print(json.dumps(obj, default=str), flush=True)

def on_event(event):
    original = dict(event)
    state.event(event)
    mine = event.get('hostname') == node or (event.get('type') == 'task-sent' and event.get('queue') == queue)
    if not mine:
        return
    dump({'event': original})
    if event['type'] == 'worker-heartbeat':
        w = state.workers.get(node)
        dump({'alive': bool(w and w.alive), 'active': w.active if w else None, 'processed': w.processed if w else None})
    if event['type'] == 'worker-offline':
        w = state.workers.get(node)
        tasks = {}
        for uuid, t in state.tasks.items():
            tasks[uuid] = {'state': t.state, 'name': t.name, 'result': t.result, 'exception': t.exception,
                           'worker': t.worker.hostname if t.worker else None, 'runtime': t.runtime}
        dump({'summary': {'alive': bool(w and w.alive), 'tasks': tasks}})
        sys.exit(0)

with app.connection() as conn:
    receiver = app.events.Receiver(conn, handlers={'*': on_event})
    try:
        receiver.capture(limit=None, timeout=120, wakeup=False)
    except socket.timeout:
        pass
`;

/** Start a Python EventReceiver printing, one JSON object per line, the events of `node` and task-sent for `queue`. */
export function startEventReceiver(broker: string, node: string, queue: string): Proc {
  const child = spawn(PYTHON, ['-c', RECEIVER, node, queue], { cwd: PY_DIR, env: { ...process.env, CELERY_BROKER_URL: broker, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Proc(child, 'python-event-receiver');
}

/** The JSON lines a process printed so far. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Resolve once the receiver demonstrably listens: publish an `ops-probe` event as `hostname` (again every 250 ms,
 * as a retry, since a Redis subscriber only subscribes when it first polls) until the receiver prints it.
 */
export async function untilListening(broker: string, receiver: Proc, hostname: string): Promise<void> {
  const transport = createBroadcastTransport(resolveSettings({ brokerUrl: broker }, {}));
  if (!transport) throw new Error(`no events on ${broker}`);
  await transport.connect();
  const dispatcher = new EventDispatcher(transport, { hostname });
  const seen = receiver.waitFor(/"type": "ops-probe"/, 60000);
  let done = false;
  void seen.then(() => (done = true), () => (done = true));
  try {
    while (!done) {
      await dispatcher.send('ops-probe');
      await Promise.race([seen.catch(() => undefined), new Promise((r) => setTimeout(r, 250))]);
    }
    await seen;
  } finally {
    await transport.close();
  }
}
