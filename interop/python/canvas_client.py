"""Python-built canvases for the interop tests: builds each case with real Celery 5 canvas code, applies it, waits,
and prints one JSON report.

Job on stdin: {"runs": [{"case": "chain", "qa": "queue-a", "qb": "queue-b"}], "timeout": 30}
Each case spreads its steps over the queues qa and qb (the same queue twice runs everything on one worker), so a
Python and a celeriac worker can each run some steps of one canvas. A run reports the final value or the raised
exception (class, module, message with the ids replaced by <id>), and case-specific facts in "extra".
Broker and backend come from CELERY_BROKER_URL / CELERY_RESULT_BACKEND; errbacks write to the Redis list
interop:errors at INTEROP_REDIS_URL.
"""
import json
import os
import sys
import time
import uuid

import redis
from celery import chain, chord, group, states
from celery.result import GroupResult

from celery_app import add, app, fail, log_failed, mul, on_error, sleep, tsum

ERRORS_KEY = 'interop:errors'
errors_redis = redis.Redis.from_url(os.environ.get('INTEROP_REDIS_URL', 'redis://127.0.0.1:6379/0'))


def recorded_error(task_id):
    """True when a new-style errback recorded this failed task id (and forget it)."""
    return errors_redis.lrem(ERRORS_KEY, 0, task_id) > 0


def wait(task_id, t):
    """The value of a task that another task's completion produces (errbacks, callbacks, a chord body).

    Celery 5.2's pub/sub waiter (AsyncResult.get) can miss a result stored while it subscribes (redis-py does not wait
    for SUBSCRIBE before the GET), which such results often are; reading the stored state until it is ready cannot.
    """
    deadline = time.monotonic() + t
    while True:
        meta = app.backend.get_task_meta(task_id, cache=False)
        if meta['status'] in states.READY_STATES:
            break
        if time.monotonic() > deadline:
            raise TimeoutError('The operation timed out.')
        time.sleep(0.05)
    if meta['status'] in states.PROPAGATE_STATES:
        raise app.backend.exception_to_python(meta['result'])
    return meta['result']


def describe(exc):
    return {'exc_class': type(exc).__name__, 'exc_module': type(exc).__module__, 'exc_str': str(exc)}


def failure_of(read, what='should have failed'):
    """describe() of the error `read()` raises; an AssertionError if it returns instead."""
    try:
        read()
    except Exception as exc:
        return describe(exc)
    raise AssertionError(what)


def case_chain(a, b, t):
    r = chain(add.s(1, 2).set(queue=a), add.s(3).set(queue=b), mul.s(10).set(queue=a)).apply_async()
    value = wait(r.id, t)
    return value, {'parent': r.parent.get(timeout=t), 'root': r.parent.parent.get(timeout=t)}


def case_chain_immutable(a, b, t):
    r = chain(add.s(1, 2).set(queue=a), add.si(5, 5).set(queue=b)).apply_async()
    return wait(r.id, t), {'first': r.parent.get(timeout=t)}


def case_group(a, b, t):
    r = group(add.s(1, 1).set(queue=a), add.s(2, 2).set(queue=b), add.s(3, 3).set(queue=a)).apply_async()
    value = r.get(timeout=t)
    r.save()
    restored = GroupResult.restore(r.id, app=app)
    # (GroupResult.get on a group that finished earlier can hang in Celery 5.2's client; read the members instead.)
    extra = {'completed': r.completed_count(), 'ready': r.ready(), 'restored': [wait(x.id, t) for x in restored.results],
             'restored_ids_match': [x.id for x in restored.results] == [x.id for x in r.results]}
    restored.delete()
    return value, extra


def case_chord(a, b, t):
    r = chord([add.s(1, 1).set(queue=a), add.s(2, 2).set(queue=b), add.s(3, 3).set(queue=a)], tsum.s().set(queue=b)).apply_async()
    return wait(r.id, t), {'header': [wait(x.id, t) for x in r.parent.results]}


def case_chord_failing_header(a, b, t):
    log_id = str(uuid.uuid4())
    body = tsum.s().set(queue=a)
    body.link_error(on_error.s())
    body.link_error(log_failed.s().set(task_id=log_id, queue=b))
    r = chord([add.s(1, 1).set(queue=a), fail.s('bad value').set(queue=b)], body).apply_async()
    failing_id = r.parent.results[1].id
    # The body's own stored result is the ChordError (a result without parents waits for the body itself) ...
    info = failure_of(lambda: wait(r.id, t), 'the chord body should have failed')
    info['exc_str'] = info['exc_str'].replace(failing_id, '<id>')
    # Errbacks run in order and the new-style one inline, so once the old-style one is done both have run.
    old_style = wait(log_id, t)
    # ... while r.get() re-raises the failed header task's error through r.parent. (Last: Celery 5.2's client
    # may lose later results after raising a parent's error from inside its wait.)
    via_parent = failure_of(lambda: r.get(timeout=t), 'the chord body should have failed')
    extra = {'state': r.state, 'via_parent': via_parent, 'new_style_errback_ran': recorded_error(r.id),
             'old_style_errback_got_body_id': old_style == r.id, 'header_states': [x.state for x in r.parent.results]}
    return info, extra


def case_link(a, b, t):
    r = add.apply_async((1, 2), link=mul.s(10).set(queue=b), queue=a)
    value = wait(r.id, t)
    return value, {'callback': wait(r.children[0].id, t)}


def case_link_error_new(a, b, t):
    # log_failed is a sentinel: errbacks run in order (the new-style one inline), so when it has run, on_error has.
    log_id = str(uuid.uuid4())
    r = fail.apply_async(('boom',), link_error=[on_error.s(), log_failed.s().set(task_id=log_id, queue=b)], queue=a)
    info = failure_of(lambda: r.get(timeout=t))
    wait(log_id, t)
    return info, {'errback_ran': recorded_error(r.id)}


def case_link_error_old(a, b, t):
    log_id = str(uuid.uuid4())
    r = fail.apply_async(('boom',), link_error=log_failed.s().set(task_id=log_id, queue=b), queue=a)
    info = failure_of(lambda: r.get(timeout=t))
    return info, {'errback_got_failed_id': wait(log_id, t) == r.id}


def case_chunks(a, b, t):
    r = add.chunks(zip(range(6), range(6)), 2).apply_async(queue=a)
    return r.get(timeout=t), {}


def case_map(a, b, t):
    return tsum.map([[1, 2], [3, 4, 5]]).apply_async(queue=a).get(timeout=t), {}


def case_starmap(a, b, t):
    return add.starmap([(1, 2), (3, 4)]).apply_async(queue=b).get(timeout=t), {}


def case_accumulate(a, b, t):
    r = app.send_task('celery.accumulate', args=(1, 2, 3), kwargs={'index': 1}, queue=a)
    whole = app.send_task('celery.accumulate', args=(1, 2, 3), queue=b)
    return r.get(timeout=t), {'all': whole.get(timeout=t)}


def case_chord_last_on_b(a, b, t):
    # The header task on qb finishes last, so that side's worker counts last and applies the body.
    slow = sleep.s(0.3).set(queue=b)
    r = chord([add.s(1, 1).set(queue=a), slow], tsum.s().set(queue=a)).apply_async()
    value = wait(r.id, t)
    slow_id = r.parent.results[1].id
    return value, {'body_applied_by_last': app.AsyncResult(r.id)._get_task_meta().get('parent_id') == slow_id}


def case_chord_unlock(a, b, t):
    header = group(add.s(1, 1).set(queue=a), add.s(2, 2).set(queue=b)).apply_async()
    body = tsum.s().set(queue=b)
    body_result = body.freeze()
    app.tasks['celery.chord_unlock'].apply_async(
        (header.id, body), {'interval': 0.2, 'result': [x.as_tuple() for x in header.results]}, queue=a)
    return wait(body_result.id, t), {}


def case_chain_in_chord_in_chain(a, b, t):
    # chain | group | task: Celery makes the group and the task a chord inside the chain.
    r = chain(add.s(1, 1).set(queue=a), group(add.s(10).set(queue=b), add.s(20).set(queue=a)), tsum.s().set(queue=b)).apply_async()
    return wait(r.id, t), {}


def case_chord_in_chain_with_tail(a, b, t):
    inner = chord([add.s(10).set(queue=b), add.s(20).set(queue=a)], tsum.s().set(queue=b))
    r = chain(add.s(1, 1).set(queue=a), inner, mul.s(2).set(queue=a)).apply_async()
    return wait(r.id, t), {}


def case_chain_ending_in_group(a, b, t):
    # The group is the chain's last step: the worker applies it as a group (its result is the group's).
    r = chain(add.s(1, 1).set(queue=a), group(add.s(1).set(queue=b), add.s(2).set(queue=a))).apply_async()
    return [wait(x.id, t) for x in r.results], {'group_id_kept': isinstance(r, GroupResult)}


def case_group_of_chains(a, b, t):
    r = group(chain(add.s(1, 1).set(queue=a), mul.s(2).set(queue=b)), chain(add.s(2, 2).set(queue=b), mul.s(3).set(queue=a))).apply_async()
    return [wait(x.id, t) for x in r.results], {}


def case_chord_of_chains(a, b, t):
    r = chord([chain(add.s(1, 1).set(queue=a), mul.s(2).set(queue=b)), chain(add.s(2, 2).set(queue=b), mul.s(3).set(queue=a))],
              tsum.s().set(queue=a)).apply_async()
    return wait(r.id, t), {}


def case_chain_failure(a, b, t):
    # A failing middle step fails the steps after it too (Celery marks the rest of the chain FAILURE).
    r = chain(add.s(1, 1).set(queue=a), fail.si('mid').set(queue=b), add.s(1).set(queue=a)).apply_async()
    # The last step's own stored state (its parents would raise first).
    info = failure_of(lambda: wait(r.id, t))
    return info, {'first': r.parent.parent.get(timeout=t), 'last_state': app.AsyncResult(r.id).state}


CASES = {name[len('case_'):]: fn for name, fn in globals().items() if name.startswith('case_')}


def main():
    job = json.load(sys.stdin)
    timeout = job.get('timeout', 30)
    report = []
    for run in job['runs']:
        entry = {'case': run['case'], 'qa': run['qa'], 'qb': run['qb']}
        try:
            value, extra = CASES[run['case']](run['qa'], run['qb'], timeout)
            entry.update({'ok': True, 'value': value, 'extra': extra})
        except Exception as exc:  # report, so the test shows which case broke
            entry.update({'ok': False, 'error': '%s: %s' % (type(exc).__name__, exc)})
        report.append(entry)
    json.dump({'runs': report}, sys.stdout)
    sys.stdout.write('\n')
    app.close()


if __name__ == '__main__':
    main()
