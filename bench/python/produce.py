"""Producer-rate Python client (role: the benchmark's Python producer): apply_async in a loop.

Usage: CELERY_BROKER_URL=... CELERY_RESULT_BACKEND=... python3 produce.py --queue Q --n 20000
Sends one warm-up task (connects, declares the queue), then N; prints {"startMs", "endMs", "sent"} (epoch ms).
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
    p.add_argument('--n', type=int, default=20000)
    a = p.parse_args()
    add.apply_async((0, 1), queue=a.queue)
    start = time.time()
    for i in range(a.n):
        add.apply_async((i, 1), queue=a.queue)
    end = time.time()
    print(json.dumps({'startMs': start * 1000.0, 'endMs': end * 1000.0, 'sent': a.n}))


if __name__ == '__main__':
    main()
