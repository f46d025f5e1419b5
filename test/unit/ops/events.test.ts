// Worker events against the golden captures of a Python 5.2.6 worker: field names per event kind, routing keys,
// transient delivery, the hostname header, Lamport clock, groups (-E), and the events view.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Celery, Worker } from '../../../src';
import { EventDispatcher, groupOf, utcoffset } from '../../../src/events/dispatcher';
import { WorkerEvents } from '../../../src/events/worker-events';
import { EventsState, renderState } from '../../../src/events/state';
import { LamportClock } from '../../../src/events/clock';
import { Request } from '../../../src/worker/request';
import { decodeTaskMessage, toExceptionInfo } from '../../../protocol';
import { ValueError } from '../../../src/errors';
import { FakeTransport } from './fake-transport';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'protocol', 'fixtures');

function golden(type: string, broker = 'events_redis'): Record<string, unknown> {
  return (JSON.parse(fs.readFileSync(path.join(FIXTURES, broker, `${type}.json`), 'utf8')) as { event: Record<string, unknown> }).event;
}

function setup(taskEvents = true): { transport: FakeTransport; events: WorkerEvents; worker: Worker; app: Celery } {
  const app = new Celery({ broker: 'memory://', backend: 'memory://' });
  const worker = new Worker(app, { hostname: 'celery@goldhost', concurrency: 1 });
  const transport = new FakeTransport();
  const dispatcher = new EventDispatcher(transport, { hostname: worker.hostname, groups: taskEvents ? [] : ['worker'] });
  return { transport, events: new WorkerEvents(dispatcher, worker, { version: '0.1.0' }), worker, app };
}

function request(app: Celery, args: unknown[] = [2, 3]): Request {
  const { message } = app.buildMessage('tasks.add', args, {}, { queue: 'celery' });
  const data = decodeTaskMessage(message, new Set(['json']));
  return new Request(data, { message, queue: 'celery', exchange: '', routingKey: 'celery', redelivered: false, priority: 0, ack: () => undefined, reject: () => undefined });
}

const keys = (o: object): string[] => Object.keys(o).sort();

describe('worker events have the fields of a Python worker\'s', () => {
  test('worker-online, worker-heartbeat, worker-offline', async () => {
    const { transport, events } = setup();
    await events.start();
    await events.dispatcher.send('worker-heartbeat', { freq: 2, active: 0, processed: 0, loadavg: [0, 0, 0], sw_ident: 'celeriac', sw_ver: '0.1.0', sw_sys: 'Linux' });
    await events.stop();
    const [online, beat, offline] = transport.sent.map((s) => s.body as Record<string, unknown>);
    for (const [e, type] of [[online, 'worker-online'], [beat, 'worker-heartbeat'], [offline, 'worker-offline']] as const) {
      expect(keys(e)).toEqual(keys(golden(type)));
      expect(keys(e)).toEqual(keys(golden(type, 'events_amqp')));
      expect(e.type).toBe(type);
    }
    expect(transport.sent.map((s) => s.routingKey)).toEqual(['worker.online', 'worker.heartbeat', 'worker.offline']);
    for (const s of transport.sent) {
      expect(s.exchange).toBe('celeryev');
      expect(s.message.headers).toEqual({ hostname: 'celery@goldhost' });
      expect(s.message.properties.deliveryMode).toBe(1);
      expect(s.message.contentType).toBe('application/json');
    }
    expect(online).toMatchObject({ hostname: 'celery@goldhost', freq: 2, sw_ident: 'celeriac', sw_ver: '0.1.0', pid: process.pid, utcoffset: utcoffset() });
    expect((online.loadavg as number[]).length).toBe(3);
    expect([online.clock, beat.clock, offline.clock]).toEqual([1, 2, 3]);
  });

  test('task-received, started, succeeded, failed, retried, rejected, revoked', () => {
    const { transport, events, app } = setup();
    const r = request(app);
    events.received(r);
    events.started(r);
    events.succeeded(r, 5, 0.0012);
    const err = new ValueError('boom');
    events.failed(r, toExceptionInfo(err), 'Traceback (most recent call last):\nValueError: boom');
    events.retried(r, toExceptionInfo(err), 'Traceback…');
    events.rejected(r, false);
    events.revoked(r, 'expired');
    events.revoked(r, 'terminated');
    const bodies = transport.sent.map((s) => s.body as Record<string, unknown>);
    expect(keys(bodies[0])).toEqual(keys(golden('task-received')));
    expect(bodies[0]).toMatchObject({ type: 'task-received', uuid: r.id, name: 'tasks.add', args: '(2, 3)', kwargs: '{}', root_id: r.id, parent_id: null, retries: 0, eta: null, expires: null });
    expect(keys(bodies[1])).toEqual(keys(golden('task-started')));
    expect(keys(bodies[2])).toEqual(keys(golden('task-succeeded')));
    expect(bodies[2]).toMatchObject({ result: '5', runtime: 0.0012 });
    expect(keys(bodies[3])).toEqual([...keys(golden('task-failed')), 'traceback'].sort()); // the golden is NotRegistered: no traceback
    expect(bodies[3].exception).toBe("ValueError('boom')");
    expect(keys(bodies[4])).toEqual(keys(golden('task-retried')));
    expect(bodies[5]).toMatchObject({ type: 'task-rejected', requeue: false });
    expect(keys(bodies[6])).toEqual(keys(golden('task-revoked')));
    expect(bodies[6]).toMatchObject({ terminated: false, signum: null, expired: true });
    expect(bodies[7]).toMatchObject({ terminated: true, signum: 15, expired: false });
    expect(transport.sent.map((s) => s.routingKey)).toEqual(['task.received', 'task.started', 'task.succeeded', 'task.failed', 'task.retried', 'task.rejected', 'task.revoked', 'task.revoked']);
  });

  test('without -E only worker events go out; enabling the task group brings task events', async () => {
    const { transport, events, app } = setup(false);
    events.received(request(app));
    await events.start();
    expect(transport.sent.map((s) => (s.body as { type: string }).type)).toEqual(['worker-online']);
    events.dispatcher.groups.add('task');
    events.received(request(app));
    expect(transport.sent.map((s) => (s.body as { type: string }).type)).toEqual(['worker-online', 'task-received']);
    await events.stop();
  });

  test('helpers: groups, utcoffset west of UTC in hours, Lamport clock adjust', () => {
    expect(groupOf('task-sent')).toBe('task');
    expect(groupOf('worker-heartbeat')).toBe('worker');
    expect(utcoffset(new Date())).toBe(Math.floor(new Date().getTimezoneOffset() / 60));
    const c = new LamportClock();
    expect(c.forward()).toBe(1);
    expect(c.adjust(10)).toBe(11);
    expect(c.adjust(3)).toBe(12);
    expect(c.adjust('20')).toBe(21);
  });
});

describe('events view', () => {
  test('counts, latencies and workers from a stream of events', () => {
    const s = new EventsState();
    const now = Date.now() / 1000;
    const ev = (type: string, fields: Record<string, unknown>, at = now): void => s.event({ type, hostname: 'w1@h', timestamp: at, local_received: at, ...fields });
    ev('worker-online', { freq: 2, active: 0, processed: 0, loadavg: [0.5, 0.4, 0.3], sw_ident: 'celeriac', sw_ver: '0.1.0' });
    for (let i = 0; i < 4; i++) {
      ev('task-received', { uuid: `t${i}`, name: 'tasks.add' }, now - 1);
      ev('task-started', { uuid: `t${i}` }, now - 0.5);
      ev(i === 3 ? 'task-failed' : 'task-succeeded', { uuid: `t${i}`, runtime: 0.01 * (i + 1) }, now);
    }
    const text = renderState(s, now);
    expect(text).toMatch(/ONLINE  w1@h  active=0 processed=0 load=0\.50 0\.40 0\.30  celeriac 0\.1\.0/);
    expect(text).toMatch(/tasks\.add\s+4\s+4\s+3\s+1/);
    expect(text).toMatch(/0\.4 tasks\/s/);
    expect(text).toMatch(/500\.0ms/); // the queue wait: received 1 s ago, started 0.5 s ago
    expect(renderState(s, now + 10)).toMatch(/OFFLINE w1@h/);
  });
});
