"""The chaos suite's Python producer: sends chaos.add tasks with Celery 5's send_task (apply_async by name).

Environment: CHAOS_BROKER (URL), CHAOS_QUEUE, CHAOS_PREFIX (task ids are "<prefix>-<i>"), CHAOS_START, CHAOS_END
(i in [start, end)), CHAOS_COUNTER (the executions hash), CHAOS_HOLD_MS, CHAOS_RATE (tasks per second, 0 = as fast
as possible: a paced producer spreads the run over time so that the disruptions find work in progress). Task i is chaos.add(i, 2 * i) = 3 * i.
A send that fails (the broker is restarting) is retried with the same id until it succeeds, so every id is sent;
on RabbitMQ publisher confirms make "sent" mean "the broker has it". Prints one JSON line: {"sent": n, "resends": n}.
Run with /usr/bin/python3 (the interpreter with Celery).
"""
import json
import os
import sys
import time

from celery import Celery

broker = os.environ['CHAOS_BROKER']
app = Celery('chaos-producer', broker=broker)
app.conf.update(task_serializer='json', accept_content=['json'])
if broker.startswith('amqp'):
    # py-amqp waits for the broker's confirm of each publish.
    app.conf.broker_transport_options = {'confirm_publish': True}

queue = os.environ['CHAOS_QUEUE']
prefix = os.environ['CHAOS_PREFIX']
counter = os.environ['CHAOS_COUNTER']
hold_ms = int(os.environ.get('CHAOS_HOLD_MS', '0'))
start, end = int(os.environ['CHAOS_START']), int(os.environ['CHAOS_END'])
rate = float(os.environ.get('CHAOS_RATE', '0'))

retry_policy = {'max_retries': 3, 'interval_start': 0.1, 'interval_step': 0.2, 'interval_max': 0.5}
sent = resends = 0
i = start
began = time.monotonic()
while i < end:
    if rate > 0:
        ahead = (i - start) / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)
    try:
        app.send_task('chaos.add', args=[i, 2 * i, counter], kwargs={'hold_ms': hold_ms}, task_id=f'{prefix}-{i}',
                      queue=queue, retry=True, retry_policy=retry_policy)
        sent += 1
        i += 1
    except Exception as exc:  # the broker is down or the connection dropped: resend the same id
        resends += 1
        print(f'send of {prefix}-{i} failed ({type(exc).__name__}: {exc}); retrying', file=sys.stderr, flush=True)
        time.sleep(0.5)
print(json.dumps({'sent': sent, 'resends': resends}), flush=True)
