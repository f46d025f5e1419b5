"""The Python side of the example tasks: same names and behaviour as interop/tasks.ts.

Used to send tasks to a celeriac worker (python -m ... / interop scripts) and as a Python worker that runs tasks
sent from Node:  CELERY_BROKER_URL=redis://127.0.0.1:6379/0 CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/0 \
    /usr/bin/python3 -m celery -A celery_app worker -Q celery   (run from interop/python)
"""
import json
import os
import time

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

app = Celery(
    'interop',
    broker=os.environ.get('CELERY_BROKER_URL', 'amqp://guest:guest@127.0.0.1:5672//'),
    backend=os.environ.get('CELERY_RESULT_BACKEND', 'redis://127.0.0.1:6379/0'),
)
app.conf.update(
    task_serializer='json',
    accept_content=['json'],
    result_serializer='json',
    enable_utc=True,
    worker_hijack_root_logger=False,
)
# The same env convention as celeriac: settings as CELERY_<SETTING> (JSON for dicts).
if os.environ.get('CELERY_BROKER_TRANSPORT_OPTIONS'):
    app.conf.broker_transport_options = json.loads(os.environ['CELERY_BROKER_TRANSPORT_OPTIONS'])
if os.environ.get('CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS'):
    app.conf.result_backend_transport_options = json.loads(os.environ['CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS'])
if os.environ.get('CELERY_TASK_ACKS_LATE'):
    app.conf.task_acks_late = os.environ['CELERY_TASK_ACKS_LATE'].lower() in ('1', 'true', 'yes')
if os.environ.get('CELERY_TASK_QUEUE_MAX_PRIORITY'):
    app.conf.task_queue_max_priority = int(os.environ['CELERY_TASK_QUEUE_MAX_PRIORITY'])
if os.environ.get('CELERY_TASK_DEFAULT_QUEUE'):
    app.conf.task_default_queue = os.environ['CELERY_TASK_DEFAULT_QUEUE']


def _ssl_setting(name):
    """CELERY_<NAME> as JSON, with cert_reqs spelled as a string ('CERT_REQUIRED', 'required', ...) made an ssl constant."""
    import ssl
    value = json.loads(os.environ[name])
    if isinstance(value, dict):
        for key in ('cert_reqs', 'ssl_cert_reqs'):
            if isinstance(value.get(key), str):
                value[key] = getattr(ssl, 'CERT_' + value[key].upper().replace('CERT_', ''))
    return value


if os.environ.get('CELERY_BROKER_USE_SSL'):
    app.conf.broker_use_ssl = _ssl_setting('CELERY_BROKER_USE_SSL')
if os.environ.get('CELERY_REDIS_BACKEND_USE_SSL'):
    app.conf.redis_backend_use_ssl = _ssl_setting('CELERY_REDIS_BACKEND_USE_SSL')


@app.task(name='tasks.add')
def add(x, y):
    return x + y


@app.task(name='tasks.echo')
def echo(*args, **kwargs):
    return [list(args), kwargs]


@app.task(name='tasks.fail')
def fail(message):
    raise ValueError(message)


@app.task(name='tasks.sleep')
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name='tasks.progress', bind=True)
def progress(self, steps):
    for i in range(1, steps + 1):
        self.update_state(state='PROGRESS', meta={'current': i, 'total': steps})
        time.sleep(0.2)
    return steps


@app.task(name='tasks.flaky', bind=True, max_retries=5)
def flaky(self, failures, retry_queue=None):
    if self.request.retries < failures:
        route = {'queue': retry_queue, 'routing_key': retry_queue, 'exchange': ''} if retry_queue else {}
        raise self.retry(countdown=0.1, exc=ValueError('failure %d of %d' % (self.request.retries + 1, failures)), **route)
    return self.request.retries


@app.task(name='tasks.retry_forever', bind=True)
def retry_forever(self):
    raise self.retry(countdown=0.1, max_retries=2)


@app.task(name='tasks.cooperative_sleep')
def cooperative_sleep(seconds):
    try:
        until = time.time() + seconds
        while time.time() < until:
            time.sleep(0.05)
        return seconds
    except SoftTimeLimitExceeded:
        return 'soft limit'


@app.task(name='tasks.burn')
def burn(ms):
    until = time.perf_counter() + ms / 1000.0
    x = 0
    while time.perf_counter() < until:
        x = (x * 31 + 7) % 1000003
    return ms


@app.task(name='tasks.mul')
def mul(x, y):
    return x * y


@app.task(name='tasks.tsum')
def tsum(numbers):
    return sum(numbers)


_errors_redis = None


@app.task(name='tasks.on_error')
def on_error(request, exc, traceback):
    """A new-style errback: called inline where a task failed; records the failed task's id."""
    global _errors_redis
    if _errors_redis is None:
        import redis
        _errors_redis = redis.Redis.from_url(os.environ.get('INTEROP_REDIS_URL', 'redis://127.0.0.1:6379/0'))
    _errors_redis.rpush('interop:errors', request.id)


@app.task(name='tasks.log_failed')
def log_failed(task_id):
    """An old-style errback: sent as a task with the failed task's id."""
    return task_id
