"""A scriptable Python Celery client for the interop tests: reads a JSON job on stdin, prints a JSON report.

Job: {"calls": [{"task": "tasks.add", "args": [2, 3], "kwargs": {}, "options": {"queue": "q"}}],
      "wait": true, "timeout": 20, "collect_states": false}
Each call is sent with app.send_task (so the Python client's own argument check does not interfere); with
"wait", .get() is called and the value or the raised exception is reported with its Python class and module.
"options" are apply_async options; "serializer": "pickle" is allowed here to test that a worker refuses it.
Broker and backend come from CELERY_BROKER_URL / CELERY_RESULT_BACKEND.
"""
import json
import sys
import time
from datetime import datetime, timedelta, timezone

from celery_app import app


def resolve_time(value):
    """{"$in": seconds, "$tz": "+05:30" | "Z" | "naive"} -> a datetime that many seconds from now in that zone."""
    if not (isinstance(value, dict) and '$in' in value):
        return value
    tz = value.get('$tz', 'Z')
    now = datetime.now(timezone.utc) + timedelta(seconds=value['$in'])
    if tz == 'naive':
        return now.replace(tzinfo=None)
    if tz == 'Z':
        return now
    sign = -1 if tz[0] == '-' else 1
    hours, minutes = tz[1:].split(':')
    return now.astimezone(timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))))


def describe_exception(exc):
    return {
        'exc_class': type(exc).__name__,
        'exc_module': type(exc).__module__,
        'exc_args': [a if isinstance(a, (str, int, float, bool, type(None), list, dict)) else repr(a) for a in exc.args],
        'exc_str': str(exc),
    }


def main():
    job = json.load(sys.stdin)
    timeout = job.get('timeout', 20)
    sent = []
    for call in job['calls']:
        options = dict(call.get('options') or {})
        for key in ('eta', 'expires'):
            if key in options:
                options[key] = resolve_time(options[key])
        r = app.send_task(call['task'], args=call.get('args') or [], kwargs=call.get('kwargs') or {}, **options)
        sent.append(r)
    report = []
    for r in sent:
        entry = {'id': r.id}
        if job.get('wait'):
            states = []
            if job.get('collect_states'):
                # Watch intermediate states (PROGRESS) the way a dashboard would: poll the backend.
                deadline = time.time() + timeout
                while time.time() < deadline:
                    st = r.state
                    if not states or states[-1]['state'] != st or states[-1]['meta'] != r.info:
                        states.append({'state': st, 'meta': r.info if isinstance(r.info, (dict, list, int, str, type(None))) else repr(r.info)})
                    if st in ('SUCCESS', 'FAILURE', 'REVOKED'):
                        break
                    time.sleep(0.05)
                entry['states'] = states
            try:
                entry['result'] = r.get(timeout=timeout)
                entry['ok'] = True
            except Exception as exc:  # report any failure with its Python identity
                entry['ok'] = False
                entry.update(describe_exception(exc))
            entry['state'] = r.state
            entry['traceback'] = r.traceback
        report.append(entry)
    json.dump({'results': report}, sys.stdout)
    sys.stdout.write('\n')
    app.close()


if __name__ == '__main__':
    main()
