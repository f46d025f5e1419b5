// Remote control without a broker: the pidbox node's dispatch rules and reply envelope, the command panel's
// replies compared with a Python worker's (golden captures), argument compiling, the revoked LimitedSet and
// --statedb, node-name formatting.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Celery, Worker, expandHostname } from '../../../src';
import { COMMANDS, NO_REPLY, confTable, parseRate, queueAsDict, requestInfo, runCommand, signum, type ControlContext } from '../../../src/control/commands';
import { brokerInfo } from '../../../src/control/info';
import { LimitedSet } from '../../../src/control/limited-set';
import { isForNode, matchNode, PidboxNode } from '../../../src/control/node';
import { StateDb } from '../../../src/control/statedb';
import { RequestTracker } from '../../../src/control/tracker';
import { LamportClock } from '../../../src/events/clock';
import { compileArguments, prettyReply } from '../../../src/cli/inspect';
import { nodeFormat } from '../../../src/cli/nodename';
import { taskQueue } from '../../../src/brokers/broker';
import { Request } from '../../../src/worker/request';
import { TaskCancel } from '../../../src/worker/cancel';
import { decodeTaskMessage } from '../../../protocol';
import { FakeTransport } from './fake-transport';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'protocol', 'fixtures', 'remote_control_redis');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = (JSON.parse(fs.readFileSync(path.join(FIXTURES, '_api_results.json'), 'utf8')) as { api: Record<string, any> }).api;
const GOLD = 'celery@goldhost';

function context(): { ctx: ControlContext; app: Celery; worker: Worker; shutdowns: number[] } {
  const app = new Celery({ broker: 'memory://', backend: 'memory://' });
  app.task('tasks.add', { params: ['x', 'y'] }, (x: number, y: number) => x + y);
  app.task('tasks.sleep', { params: ['s'] }, () => null);
  const worker = new Worker(app, { hostname: GOLD, concurrency: 1 });
  const shutdowns: number[] = [];
  const ctx: ControlContext = {
    app,
    worker,
    hostname: GOLD,
    clock: new LamportClock(),
    tracker: new RequestTracker(),
    logger: app.logger,
    version: '0.1.0',
    startedAt: Date.now() - 18000,
    prefetchMultiplier: 4,
    terminations: new Map(),
    revokedChanged: () => undefined,
    shutdown: () => shutdowns.push(1),
  };
  return { ctx, app, worker, shutdowns };
}

function request(app: Celery, name = 'tasks.sleep', args: unknown[] = [8], countdown?: number): Request {
  const { message } = app.buildMessage(name, args, {}, { queue: 'celery', countdown });
  return new Request(decodeTaskMessage(message, new Set(['json'])), { message, queue: 'celery', exchange: '', routingKey: 'celery', redelivered: false, priority: 0, ack: () => undefined, reject: () => undefined });
}

describe('the pidbox node', () => {
  test('answers a request for its name with {hostname: reply} to reply_to, headers ticket and clock', async () => {
    const { ctx } = context();
    const transport = new FakeTransport();
    const node = new PidboxNode(transport, GOLD, ctx.clock, (m, a) => runCommand(ctx, m, a));
    await node.start();
    expect(transport.subscriptions[0].spec).toMatchObject({ queue: `${GOLD}.celery.pidbox`, exchange: 'celery.pidbox', exchangeType: 'fanout', routingKey: '', arguments: { 'x-expires': 10000, 'x-message-ttl': 300000 } });
    const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ping_from_cli_inspect_ping.json'), 'utf8')) as { request: { body_decoded: Record<string, unknown>; envelope: { headers: Record<string, unknown> } } };
    transport.deliver('celery.pidbox', golden.request.body_decoded, golden.request.envelope.headers);
    await new Promise((r) => setImmediate(r));
    const [reply] = transport.sent;
    const req = golden.request.body_decoded as { ticket: string; reply_to: { exchange: string; routing_key: string } };
    expect(reply).toMatchObject({ kind: 'direct', exchange: 'reply.celery.pidbox', routingKey: req.reply_to.routing_key, body: { [GOLD]: { ok: 'pong' } } });
    expect(reply.message.headers).toEqual({ ticket: req.ticket, clock: expect.any(Number) });
    expect(reply.message.properties.deliveryMode).toBe(1);
    // not for us, and no reply_to: nothing is sent
    transport.deliver('celery.pidbox', { method: 'ping', arguments: {}, destination: ['other@host'], ticket: 't', reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'x' } });
    transport.deliver('celery.pidbox', { method: 'ping', arguments: {}, destination: null });
    await new Promise((r) => setImmediate(r));
    expect(transport.sent).toHaveLength(1);
    await node.stop();
    expect(transport.subscriptions).toHaveLength(0);
  });

  test('destination, glob and pcre patterns as kombu.matcher', () => {
    expect(isForNode('a@h', { method: 'ping', destination: ['a@h', 'b@h'] })).toBe(true);
    expect(isForNode('a@h', { method: 'ping', destination: ['b@h'] })).toBe(false);
    expect(isForNode('a@h', { method: 'ping', destination: null, pattern: 'a@*', matcher: 'glob' })).toBe(true);
    expect(isForNode('a@h', { method: 'ping', destination: null })).toBe(true);
    expect(matchNode('worker1@host', 'worker[0-9]@host', 'glob')).toBe(true);
    expect(matchNode('worker1@host', 'worker\\d', 'pcre')).toBe(true);
    expect(matchNode('xworker1@host', 'worker\\d', 'pcre')).toBe(false); // re.match anchors at the start
  });
});

describe('commands reply as a Python worker does', () => {
  test('ping, registered, revoke, rate_limit, time_limit, unknown commands', async () => {
    const { ctx, app } = context();
    expect(await runCommand(ctx, 'ping', {})).toEqual(api.ping_api[0][GOLD]);
    expect(await runCommand(ctx, 'registered', { taskinfoitems: [] })).toEqual(['tasks.add', 'tasks.sleep']);
    expect(await runCommand(ctx, 'revoke', { task_id: 'abc', terminate: false, signal: 'SIGTERM' })).toEqual({ ok: 'tasks abc flagged as revoked' });
    expect(await runCommand(ctx, 'revoke', { task_id: ['x', 'y'] })).toEqual({ ok: 'tasks x, y flagged as revoked' });
    expect(await runCommand(ctx, 'revoked', {})).toEqual(['abc', 'x', 'y']);
    expect(await runCommand(ctx, 'revoke', { task_id: 'zzz', terminate: true })).toEqual({ ok: 'terminate: tasks unknown' });
    expect(await runCommand(ctx, 'rate_limit', { task_name: 'tasks.add', rate_limit: '100/m' })).toEqual(api.control_rate_limit[0][GOLD]);
    expect(app.tasks.get('tasks.add')?.options.rateLimit).toBe('100/m');
    expect(await runCommand(ctx, 'registered', {})).toEqual(['tasks.add [rate_limit=100/m]', 'tasks.sleep']);
    expect(await runCommand(ctx, 'rate_limit', { task_name: 'tasks.add', rate_limit: 'fast' })).toMatchObject({ error: expect.stringContaining('Invalid rate limit string') });
    expect(await runCommand(ctx, 'rate_limit', { task_name: 'nope', rate_limit: '1/s' })).toEqual({ error: 'unknown task' });
    expect(await runCommand(ctx, 'time_limit', { task_name: 'tasks.add', soft: 1.5, hard: 3 })).toEqual(api.control_time_limit[0][GOLD]);
    expect(app.tasks.get('tasks.add')?.options).toMatchObject({ softTimeLimit: 1.5, timeLimit: 3 });
    expect(await runCommand(ctx, 'no_such_command', {})).toEqual({ error: "KeyError('no_such_command')" });
  });

  test('active, query_task, scheduled, reserved have the request info of a Python worker', async () => {
    const { ctx, app, worker } = context();
    const running = request(app);
    running.startedAt = Date.now();
    running.acknowledged = true;
    worker.active.set(running.id, { request: running, abort: new TaskCancel() });
    const held = request(app, 'tasks.add', [4, 4], 600);
    const waiting = request(app, 'tasks.add', [1, 1]);
    ctx.tracker.received(held);
    ctx.tracker.received(waiting);
    const [active] = (await runCommand(ctx, 'active', {})) as Array<Record<string, unknown>>;
    const goldActive = (api.inspect_active[GOLD] as Array<Record<string, unknown>>)[0];
    expect(Object.keys(active).sort()).toEqual(Object.keys(goldActive).sort());
    expect(Object.keys(active.delivery_info as object).sort()).toEqual(Object.keys(goldActive.delivery_info as object).sort());
    expect(active).toMatchObject({ id: running.id, name: 'tasks.sleep', args: [8], kwargs: {}, type: 'tasks.sleep', hostname: GOLD, acknowledged: true, worker_pid: process.pid });
    const [scheduled] = (await runCommand(ctx, 'scheduled', {})) as Array<Record<string, unknown>>;
    const goldScheduled = (api.inspect_scheduled[GOLD] as Array<Record<string, unknown>>)[0];
    expect(Object.keys(scheduled).sort()).toEqual(Object.keys(goldScheduled).sort());
    expect(scheduled).toMatchObject({ eta: held.data.eta, priority: 6, request: { id: held.id, time_start: null, worker_pid: null } });
    expect(((await runCommand(ctx, 'reserved', {})) as Array<{ id: string }>).map((r) => r.id)).toEqual([waiting.id]);
    expect(await runCommand(ctx, 'query_task', { ids: [running.id, 'unknown'] })).toEqual({ [running.id]: ['active', requestInfo(running, GOLD, false, true)] });
    // terminate aborts the running task's signal with TaskRevokedError('terminated')
    expect(await runCommand(ctx, 'revoke', { task_id: running.id, terminate: true, signal: 'SIGKILL' })).toEqual({ ok: `terminate: ${running.id}` });
    const reason = worker.active.get(running.id)?.abort.reason as Error;
    expect(reason.name).toBe('TaskRevokedError');
    expect(ctx.terminations.get(running.id)).toBe(9);
  });

  test('stats and active_queues have the keys a Python worker replies with', async () => {
    const { ctx } = context();
    const stats = (await runCommand(ctx, 'stats', {})) as Record<string, unknown>;
    const gold = api.inspect_stats[GOLD] as Record<string, unknown>;
    for (const k of Object.keys(gold)) expect(stats).toHaveProperty(k);
    for (const k of Object.keys(gold.broker as object)) expect(stats.broker).toHaveProperty(k);
    for (const k of Object.keys(gold.rusage as object)) expect(stats.rusage).toHaveProperty(k);
    expect(stats).toMatchObject({ clock: expect.stringMatching(/^\d+$/), uptime: 18, prefetch_count: 4, pool: { 'max-concurrency': 1 } });
    const [q] = (await runCommand(ctx, 'active_queues', {})) as Array<Record<string, unknown>>;
    const goldQ = (api.inspect_active_queues[GOLD] as Array<Record<string, unknown>>)[0];
    expect(q).toEqual(goldQ); // the default queue `celery`, exactly as Python reported its own
    expect(queueAsDict(taskQueue('gold_prio', { maxPriority: 10 }))).toEqual((api.inspect_active_queues[GOLD] as Array<Record<string, unknown>>)[1]);
  });

  test('shutdown asks for a shutdown and is not replied to; hello shares revoked ids with float timestamps', async () => {
    const { ctx, shutdowns } = context();
    expect(await runCommand(ctx, 'shutdown', {})).toBe(NO_REPLY);
    expect(shutdowns).toEqual([1]);
    const now = Math.floor(Date.now() / 1000);
    ctx.worker.revoked.add('r1', now);
    const hello = (await runCommand(ctx, 'hello', { from_node: 'other@h', revoked: { r2: [now + 0.5, 'r2'] } })) as { revoked: Record<string, [number, string]>; clock: number };
    expect(Object.keys(hello.revoked).sort()).toEqual(['r1', 'r2']);
    expect(Number.isInteger(hello.revoked.r1[0])).toBe(false); // Python's LimitedSet.update refuses int timestamps
    expect(await runCommand(ctx, 'hello', { from_node: GOLD })).toBeNull();
  });

  test('conf censors secrets and only lists changed settings unless asked', () => {
    const app = new Celery({ broker: 'amqp://user:s3cret@rabbit:5672//', backend: 'redis://:pw@redis:6379/0', config: { taskAcksLate: true } });
    const t = confTable(app.conf, false);
    expect(t).toEqual({ broker_url: 'amqp://user:********@rabbit:5672//', result_backend: 'redis://:********@redis:6379/0', task_acks_late: true });
    expect(Object.keys(confTable(app.conf, true)).length).toBeGreaterThan(30);
    expect(JSON.stringify(confTable(app.conf, true))).not.toContain('s3cret');
  });

  test('conf and stats censor inside dicts and failover lists (sentinel_kwargs, broker_use_ssl, alternates)', () => {
    const app = new Celery({
      broker: 'sentinel://:s3cret@h1:26379;sentinel://:s3cret2@h2:26379',
      config: { brokerTransportOptions: { master_name: 'mymaster', sentinel_kwargs: { password: 's3cret3' } }, brokerUseSsl: { keyfile: '/etc/k.pem', ca_certs: '/etc/ca.pem' } },
      env: {},
    });
    const t = confTable(app.conf, false);
    expect(t.broker_transport_options).toEqual({ master_name: 'mymaster', sentinel_kwargs: { password: '********' } });
    expect(t.broker_use_ssl).toEqual({ keyfile: '********', ca_certs: '/etc/ca.pem' });
    expect(JSON.stringify(t)).not.toMatch(/s3cret/);
    const info = brokerInfo(app);
    expect(info).toMatchObject({ ssl: true, failover_strategy: 'round-robin', alternates: ['sentinel://:********@h2:26379'] });
    expect(JSON.stringify(info)).not.toMatch(/s3cret/);
  });

  test('every command the CLI offers has a handler', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(['ping', 'active', 'reserved', 'scheduled', 'registered', 'stats', 'revoked', 'active_queues', 'query_task', 'conf', 'revoke', 'terminate', 'rate_limit', 'time_limit', 'add_consumer', 'cancel_consumer', 'shutdown', 'enable_events', 'disable_events', 'heartbeat', 'hello']));
  });
});

describe('arguments and output of the command line', () => {
  test('positional arguments by the command\'s declared names, the rest to its variadic (as celery)', () => {
    expect(compileArguments('rate_limit', ['tasks.add', '10/s'])).toEqual({ task_name: 'tasks.add', rate_limit: '10/s' });
    expect(compileArguments('time_limit', ['tasks.add', '1.5', '3'])).toEqual({ task_name: 'tasks.add', soft: 1.5, hard: 3 });
    expect(compileArguments('terminate', ['SIGKILL', 'a', 'b'])).toEqual({ signal: 'SIGKILL', task_id: ['a', 'b'] });
    expect(compileArguments('revoke', ['a'])).toEqual({ task_id: ['a'] });
    expect(compileArguments('query_task', ['a', 'b'])).toEqual({ ids: ['a', 'b'] });
    expect(() => compileArguments('ping', ['extra'])).toThrow(/takes arguments/);
  });

  test('replies printed as celery prints them', () => {
    expect(prettyReply({ ok: 'pong' })).toEqual({ status: 'OK', text: '    pong' });
    expect(prettyReply({ error: 'unknown task' })).toEqual({ status: 'ERROR', text: '    unknown task' });
    expect(prettyReply([])).toEqual({ status: 'OK', text: '- empty -' });
    expect(prettyReply(['tasks.add', 'tasks.mul'])).toEqual({ status: 'OK', text: '* tasks.add\n* tasks.mul' });
  });

  test('rates and signals', () => {
    expect(parseRate('10/s')).toBe(10);
    expect(parseRate('120/m')).toBe(2);
    expect(parseRate('3600/h')).toBe(1);
    expect(parseRate(5)).toBe(5);
    expect(() => parseRate('often')).toThrow();
    expect(signum('SIGTERM')).toBe(15);
    expect(signum('KILL')).toBe(9);
    expect(signum(undefined)).toBe(15);
    expect(signum('9')).toBe(9);
  });
});

describe('revoked ids', () => {
  test('LimitedSet keeps at most maxlen ids, each for `expires` seconds, oldest dropped first', () => {
    const s = new LimitedSet(3, 100);
    const now = Date.now() / 1000;
    s.add('a', now - 200).add('b', now).add('c', now).add('d', now).add('e', now);
    expect([...s]).toEqual(['c', 'd', 'e']);
    expect(s.has('a')).toBe(false);
    const t = new LimitedSet(10, 100);
    t.add('old', now - 101);
    expect(t.has('old')).toBe(false);
    t.update({ x: [now, 'x'], y: now });
    expect([...t]).toEqual(expect.arrayContaining(['x', 'y']));
  });

  test('--statedb keeps revoked ids and the clock across restarts; a damaged or foreign file is ignored', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statedb-'));
    const file = path.join(dir, 'worker.state');
    try {
      const clock = new LamportClock(41);
      const revoked = new LimitedSet();
      const db = new StateDb(file, revoked, clock);
      expect(db.load()).toBe(0);
      revoked.add('id-1');
      revoked.add('id-2');
      db.save();
      const again = new LimitedSet();
      const clock2 = new LamportClock();
      expect(new StateDb(file, again, clock2).load()).toBe(2);
      expect([...again]).toEqual(['id-1', 'id-2']);
      expect(clock2.value).toBeGreaterThan(41);
      fs.writeFileSync(file, 'not json');
      expect(new StateDb(file, new LimitedSet(), new LamportClock()).load()).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('node names', () => {
  test('-n expands %h, %n, %d as Celery; a bare name gets celery@', () => {
    const host = os.hostname();
    expect(expandHostname(undefined)).toBe(`celery@${host}`);
    expect(expandHostname('w1@%h')).toBe(`w1@${host}`);
    expect(expandHostname('w1@%n')).toBe(`w1@${host.split('.')[0]}`);
    expect(expandHostname('worker1')).toBe('celery@worker1');
  });

  test('file names: %h node, %n name, %d domain, %i/%I process index, %% a percent', () => {
    expect(nodeFormat('%n.log', 'w1@box.example.com')).toBe('w1.log');
    expect(nodeFormat('/var/log/%h-%d%I.log', 'w1@box.example.com')).toBe('/var/log/w1@box.example.com-example.com.log');
    expect(nodeFormat('%i%%', 'w1@box')).toBe('0%');
  });
});
