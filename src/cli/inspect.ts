// `celeriac inspect|control <command> [args…]` and `celeriac status`: remote control without Python, with the same
// wire messages, argument conventions and output layout as `celery inspect|control|status`.

import { ControlClient } from '../control/client';
import { ConfigurationError } from '../config';
import { stringifyJson } from '../../protocol';
import { appFromFlags, loggerFromFlags, type AppFlags } from './common';

export interface RemoteFlags extends AppFlags {
  timeout?: number;
  /** Comma-separated node names. */
  destination?: string;
  json?: boolean;
}

type ArgType = 'str' | 'float' | 'int' | 'bool';
interface CommandMeta {
  type: 'inspect' | 'control';
  args?: Array<[string, ArgType]>;
  variadic?: string;
  help: string;
}

/** The commands and their positional arguments, as celery/worker/control.py declares them. */
export const COMMAND_META: Record<string, CommandMeta> = {
  ping: { type: 'inspect', help: 'ping worker(s)' },
  active: { type: 'inspect', help: 'tasks running now' },
  reserved: { type: 'inspect', help: 'tasks received and waiting to run' },
  scheduled: { type: 'inspect', help: 'tasks held until their ETA/countdown' },
  registered: { type: 'inspect', variadic: 'taskinfoitems', help: 'registered task names [attr…]' },
  stats: { type: 'inspect', help: 'worker statistics' },
  revoked: { type: 'inspect', help: 'revoked task ids' },
  active_queues: { type: 'inspect', help: 'queues consumed' },
  query_task: { type: 'inspect', variadic: 'ids', help: 'state of tasks by id: <id…>' },
  conf: { type: 'inspect', args: [['with_defaults', 'bool']], help: 'configuration [include_defaults=False]' },
  clock: { type: 'inspect', help: 'logical clock value' },
  report: { type: 'inspect', help: 'software and settings report' },
  memsample: { type: 'inspect', help: 'resident memory' },
  revoke: { type: 'control', variadic: 'task_id', help: 'revoke tasks: <id…> [--terminate [--signal SIGTERM]]' },
  terminate: { type: 'control', args: [['signal', 'str']], variadic: 'task_id', help: 'terminate tasks: <signal> <id…>' },
  rate_limit: { type: 'control', args: [['task_name', 'str'], ['rate_limit', 'str']], help: 'set a rate limit: <task_name> <rate_limit (e.g. 5/s | 5/m | 5/h)>' },
  time_limit: { type: 'control', args: [['task_name', 'str'], ['soft', 'float'], ['hard', 'float']], help: 'set time limits: <task_name> <soft_secs> [hard_secs]' },
  add_consumer: { type: 'control', args: [['queue', 'str'], ['exchange', 'str'], ['exchange_type', 'str'], ['routing_key', 'str']], help: 'consume a queue: <queue> [exchange [type [routing_key]]]' },
  cancel_consumer: { type: 'control', args: [['queue', 'str']], help: 'stop consuming a queue: <queue>' },
  enable_events: { type: 'control', help: 'send task events' },
  disable_events: { type: 'control', help: 'stop sending task events' },
  heartbeat: { type: 'control', help: 'send a heartbeat event now' },
  shutdown: { type: 'control', help: 'warm shutdown of the worker(s)' },
  pool_grow: { type: 'control', args: [['n', 'int']], help: 'grow the pool by n' },
  pool_shrink: { type: 'control', args: [['n', 'int']], help: 'shrink the pool by n' },
};

function convert(name: string, type: ArgType, raw: string): unknown {
  switch (type) {
    case 'str':
      return raw;
    case 'int':
    case 'float': {
      const n = Number(raw);
      if (!Number.isFinite(n) || (type === 'int' && !Number.isInteger(n))) throw new ConfigurationError(`${name} must be a number, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'bool':
      return /^(1|true|yes|on)$/i.test(raw);
  }
}

/** Celery's _compile_arguments: positional values by the command's declared names, the rest to its variadic. */
export function compileArguments(command: string, positional: string[]): Record<string, unknown> {
  const meta = COMMAND_META[command];
  const out: Record<string, unknown> = {};
  const rest = [...positional];
  const declared = meta?.args ?? [];
  let i = 0;
  for (; i < rest.length && i < declared.length; i++) out[declared[i][0]] = convert(declared[i][0], declared[i][1], rest[i]);
  const left = rest.slice(i);
  if (meta?.variadic) out[meta.variadic] = left;
  else if (left.length > 0) throw new ConfigurationError(`${command} takes arguments: ${declared.map(([n]) => `<${n}>`).join(' ') || '(none)'}`);
  return out;
}

/** Celery's pretty(): `{ok: …}` / `{error: …}` unwrapped, lists as `* item`, other values as indented JSON. */
export function prettyReply(reply: unknown): { status: 'OK' | 'ERROR'; text: string } {
  if (Array.isArray(reply)) return { status: 'OK', text: reply.length === 0 ? '- empty -' : reply.map((x) => `* ${typeof x === 'string' ? x : stringifyJson(x)}`).join('\n') };
  if (reply && typeof reply === 'object') {
    const r = reply as Record<string, unknown>;
    if ('ok' in r) return { status: 'OK', text: indent(prettyReply(r.ok).text, 4) };
    if ('error' in r) return { status: 'ERROR', text: indent(prettyReply(r.error).text, 4) };
    return { status: 'OK', text: JSON.stringify(reply, replacer, 4) };
  }
  if (typeof reply === 'string') return { status: 'OK', text: reply };
  return { status: 'OK', text: String(reply) };
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function indent(text: string, n: number): string {
  return text.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}

function destinations(flags: RemoteFlags): string[] | undefined {
  const d = flags.destination?.split(',').map((s) => s.trim()).filter(Boolean);
  return d && d.length > 0 ? d : undefined;
}

async function withClient<T>(flags: RemoteFlags, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const logger = loggerFromFlags(flags);
  const app = appFromFlags(flags, logger);
  const client = new ControlClient(app.conf, logger);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

function sayReply(reply: Record<string, unknown>, showBody: boolean): void {
  for (const [node, value] of Object.entries(reply)) {
    const { status, text } = prettyReply(value);
    process.stdout.write(`->  ${node}: ${status}\n`);
    if (showBody) process.stdout.write(`${indent(text, 4)}\n`);
  }
}

/** `celeriac inspect <command>` and `celeriac control <command>`: print each reply; exit 1 if none came. */
export async function runRemote(kind: 'inspect' | 'control', command: string, positional: string[], flags: RemoteFlags & { terminate?: boolean; signal?: string }): Promise<number> {
  const meta = COMMAND_META[command];
  if (meta && meta.type !== kind) throw new ConfigurationError(`${command} is a ${meta.type} command: use \`celeriac ${meta.type} ${command}\``);
  const args = compileArguments(command, positional);
  if (command === 'revoke' && flags.terminate) {
    args.terminate = true;
    args.signal = flags.signal ?? 'SIGTERM';
  }
  const replies = await withClient(flags, (client) =>
    client.broadcast(command, {
      arguments: args,
      destination: destinations(flags),
      timeout: flags.timeout ?? 1,
      reply: true,
      onReply: flags.json ? undefined : (r) => sayReply(r, true),
    }),
  );
  if (replies.length === 0) {
    process.stderr.write('Error: No nodes replied within time constraint\n');
    return 69; // EX_UNAVAILABLE, as celery
  }
  if (flags.json) process.stdout.write(`${stringifyJson(Object.assign({}, ...replies))}\n`);
  return 0;
}

/** `celeriac status`: ping every worker (or the -d ones) and count the nodes online. */
export async function runStatus(flags: RemoteFlags): Promise<number> {
  const replies = await withClient(flags, (client) =>
    client.broadcast('ping', { destination: destinations(flags), timeout: flags.timeout ?? 1, reply: true, onReply: flags.json ? undefined : (r) => sayReply(r, false) }),
  );
  if (replies.length === 0) {
    process.stderr.write('Error: No nodes replied within time constraint\n');
    return 69;
  }
  const nodes = Object.assign({}, ...replies) as Record<string, unknown>;
  if (flags.json) process.stdout.write(`${stringifyJson(nodes)}\n`);
  const n = Object.keys(nodes).length;
  process.stdout.write(`\n${n} ${n === 1 ? 'node' : 'nodes'} online.\n`);
  return 0;
}
