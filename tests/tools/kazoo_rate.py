#!/usr/bin/env python3
"""Rough kazoo-driven rates against any ZooKeeper-protocol server: sequential (one request
in flight) and pipelined (kazoo's async API, WINDOW in flight) create and getData.

    python3 tests/tools/kazoo_rate.py HOST:PORT [N] [WINDOW]

Prints one line per phase: ops/s. Used for the one-node zk-node vs Apache ZooKeeper figure
(same script, same machine, one run each); rough by design, the real benchmarks are zk-bench's.
"""
import sys
import time
import uuid

from kazoo.client import KazooClient


def main():
    hosts = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    window = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    root = "/rate-" + uuid.uuid4().hex[:8]
    zk.create(root)
    value = b"x" * 100

    def rate(label, fn):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        print(f"{label:<28} {n / dt:>10.0f} ops/s  ({n} ops, {dt:.2f} s)")

    def seq_create():
        for i in range(n):
            zk.create(f"{root}/s{i}", value)

    def seq_get():
        for i in range(n):
            zk.get(f"{root}/s{i}")

    def pipelined(make):
        pending = []
        for i in range(n):
            pending.append(make(i))
            if len(pending) >= window:
                pending.pop(0).get(timeout=30)
        for p in pending:
            p.get(timeout=30)

    rate("create, sequential", seq_create)
    rate("getData, sequential", seq_get)
    rate(f"create, {window} in flight", lambda: pipelined(lambda i: zk.create_async(f"{root}/p{i}", value)))
    rate(f"getData, {window} in flight", lambda: pipelined(lambda i: zk.get_async(f"{root}/p{i}")))
    zk.delete(root, recursive=True)
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()
