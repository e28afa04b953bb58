"""The ZooKeeper-client half of deploy/smoke.sh, with kazoo.

    python smoke_client.py write HOSTS PATH COUNT   # create PATH/0 .. PATH/COUNT-1
    python smoke_client.py read HOSTS PATH COUNT    # sync PATH, then check every child

HOSTS is a kazoo connect string (127.0.0.1:2181,127.0.0.1:2182). Children hold b"v<i>".
`write` retries each create (connection loss, a leader election under way) until
SMOKE_DEADLINE seconds (default 30) have passed; a create that turns out to have succeeded
before a retry is recognised by its data. `read` syncs first, so a member that was down shows
whether it has caught up with the leader. Exit status 0 on success, 1 with a message otherwise.
"""

import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.retry import KazooRetry

DEADLINE = float(os.environ.get("SMOKE_DEADLINE", "30"))


def connect(hosts):
    retry = {"max_tries": -1, "delay": 0.2, "max_delay": 1.0, "deadline": DEADLINE}
    zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry=dict(retry),
                     command_retry=dict(retry))
    zk.start(timeout=DEADLINE)
    return zk


def retrying():
    return KazooRetry(max_tries=-1, delay=0.2, max_delay=1.0, deadline=DEADLINE,
                      ignore_expire=False)


def write(zk, path, count):
    retry = retrying()
    retry(zk.ensure_path, path)
    for i in range(count):
        data = b"v%d" % i

        def create(child=f"{path}/{i}", data=data):
            try:
                zk.create(child, data)
            except NodeExistsError:
                # An earlier attempt succeeded but its answer was lost.
                if zk.get(child)[0] != data:
                    raise
        retry(create)


def read(zk, path, count):
    retry = retrying()
    retry(zk.sync, path)
    children = sorted(retry(zk.get_children, path), key=int)
    want = [str(i) for i in range(count)]
    if children != want:
        raise SystemExit(f"read: {path} has children {children}, want {want}")
    for i in range(count):
        data, _ = retry(zk.get, f"{path}/{i}")
        if data != b"v%d" % i:
            raise SystemExit(f"read: {path}/{i} holds {data!r}, want b'v{i}'")


def main(argv):
    if len(argv) != 5 or argv[1] not in ("write", "read"):
        raise SystemExit(__doc__)
    cmd, hosts, path, count = argv[1], argv[2], argv[3], int(argv[4])
    start = time.monotonic()
    try:
        zk = connect(hosts)
    except Exception as e:  # kazoo's start() timeout is no KazooException
        raise SystemExit(f"{cmd}: cannot connect to {hosts}: {e!r}")
    try:
        (write if cmd == "write" else read)(zk, path, count)
    except KazooException as e:
        raise SystemExit(f"{cmd} {path} via {hosts}: {e!r}")
    finally:
        zk.stop()
        zk.close()
    verb = "created" if cmd == "write" else "read back"
    print(f"{verb} {count} znodes under {path} via {hosts} "
          f"in {time.monotonic() - start:.2f}s")


if __name__ == "__main__":
    main(sys.argv)
