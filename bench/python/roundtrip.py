"""W2 Python client (role: the benchmark's Python round-trip client): apply_async + get, one at a time.

Usage: CELERY_BROKER_URL=... CELERY_RESULT_BACKEND=... python3 roundtrip.py --queue Q --n 1000 --warmup 20
Prints {"latenciesMs": [...], "errors": n} on stdout.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'interop', 'python'))
from celery_app import add  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--queue', required=True)
    p.add_argument('--n', type=int, default=1000)
    p.add_argument('--warmup', type=int, default=20)
    a = p.parse_args()
    for i in range(a.warmup):
        add.apply_async((i, 1), queue=a.queue).get(timeout=60 if i == 0 else 10)
    latencies = []
    errors = 0
    for i in range(a.n):
        t0 = time.perf_counter()
        try:
            v = add.apply_async((i, 1), queue=a.queue).get(timeout=10)
            latencies.append((time.perf_counter() - t0) * 1000.0)
            if v != i + 1:
                errors += 1
        except Exception:  # noqa: BLE001 - counted, the harness reports it
            errors += 1
    print(json.dumps({'latenciesMs': latencies, 'errors': errors}))


if __name__ == '__main__':
    main()
