// task-sent events from a client (`task_send_sent_event`), as celery/app/amqp.py's send_task_message: sent on the
// app's own broker connection with the client's `gen<pid>@<host>` as hostname.

import { parseIsoMs, type WireMessage } from '../../protocol';
import type { Celery } from '../app';
import type { Route } from '../brokers/broker';
import { broadcastOver } from '../control/transport';
import { EventDispatcher } from './dispatcher';

const dispatchers = new WeakMap<object, EventDispatcher | null>();

function dispatcherFor(app: Celery): EventDispatcher | null {
  const broker = app.broker;
  let d = dispatchers.get(broker);
  if (d === undefined) {
    const transport = broadcastOver(broker, app.conf, app.logger);
    d = transport ? new EventDispatcher(transport, { hostname: app.origin, logger: app.logger }) : null;
    dispatchers.set(broker, d);
  }
  return d;
}

/** Publish `task-sent` for a task message just handed to the broker (best effort: never fails the send). */
export async function sendTaskSent(app: Celery, route: Route, queue: string | null, message: WireMessage): Promise<void> {
  const d = dispatcherFor(app);
  if (!d) return;
  const h = message.headers;
  const expires = typeof h.expires === 'string' && !Number.isNaN(parseIsoMs(h.expires)) ? h.expires : null;
  await d.send('task-sent', {
    uuid: h.id,
    root_id: h.root_id ?? null,
    parent_id: h.parent_id ?? null,
    name: h.task,
    args: h.argsrepr ?? null,
    kwargs: h.kwargsrepr ?? null,
    retries: h.retries ?? 0,
    eta: h.eta ?? null,
    expires,
    queue: queue ?? route.routingKey,
    exchange: route.exchange,
    routing_key: route.routingKey,
  });
}
