"""kazoo's side of import_kazoo.rs (run with the venv of tests/setup-python.sh).

    kazoo_import.py build HOST:PORT DUMP.json
        Builds a tree on Apache ZooKeeper (started with TTL nodes on): ACLs (digest and
        world), sequential nodes, a container, TTL nodes, a kazoo transaction, and a session
        that stays open with an ephemeral and an ephemeral sequential node. Writes every
        znode's data, ACL and stat (as ZooKeeper answers them) to DUMP.json, prints
        "SESSION <id hex> <password hex> <ephemeral>..." and "READY", then holds the session
        open until killed (it never closes it: the Rust test kills ZooKeeper, then this).

    kazoo_import.py resume HOST:PORT ID_HEX PASSWORD_HEX DUMP.json EPHEMERAL...
        Reconnects to zk-node with that session id and password: it must get the same
        session, never an expired or new one; the ephemerals must exist, owned by it. Then
        dumps every znode to DUMP.json, closes the session, and checks that the close
        deleted its ephemerals. Prints "RESUMED <id hex>".

Any failure raises (exit status 1, the reason on stderr). Each kazoo wait is bounded.
"""

import json
import sys
import threading

from kazoo.client import KazooClient
from kazoo.protocol.serialization import Create2, long_struct
from kazoo.protocol.states import KazooState
from kazoo.security import ACL, OPEN_ACL_UNSAFE, Id, Permissions, make_digest_acl

TIMEOUT = 20.0  # seconds for any one start or request
SESSION_TIMEOUT = 30.0
AUTH = [("digest", "admin:secret")]


class CreateContainer(Create2):
    """ZooKeeper's createContainer (opcode 19): kazoo 2.11 has no call for it; the body and
    the answer are create2's, flags 4 (CreateMode.CONTAINER)."""

    type = 19


class CreateTTL(Create2):
    """ZooKeeper's createTTL (opcode 21): create2's body with the TTL (ms) after the flags;
    flags 5 PERSISTENT_WITH_TTL, 6 PERSISTENT_SEQUENTIAL_WITH_TTL."""

    type = 21

    def __new__(cls, path, data, acl, flags, ttl):
        self = super().__new__(cls, path, data, acl, flags)
        self.ttl = ttl
        return self

    def serialize(self):
        return super().serialize() + long_struct.pack(self.ttl)


def raw(client, request):
    """Sends a request kazoo has no call for; returns (path, stat)."""
    result = client.handler.async_result()
    client._call(request, result)
    return result.get(timeout=TIMEOUT)


def connect(hosts, client_id=None):
    c = KazooClient(
        hosts=hosts,
        timeout=SESSION_TIMEOUT,
        client_id=client_id,
        auth_data=AUTH,
        connection_retry={"max_tries": -1, "deadline": TIMEOUT},
    )
    c.start(timeout=TIMEOUT)
    return c


def dump(c, out):
    """Every znode at and below "/": data (hex), ACL and the full stat."""
    tree = {}
    stack = ["/"]
    while stack:
        p = stack.pop()
        data, stat = c.get(p)
        acl, _ = c.get_acls(p)
        tree[p] = {
            "data": data.hex(),
            "acl": [[a.perms, a.id.scheme, a.id.id] for a in acl],
            "stat": {
                "czxid": stat.czxid,
                "mzxid": stat.mzxid,
                "ctime": stat.ctime,
                "mtime": stat.mtime,
                "version": stat.version,
                "cversion": stat.cversion,
                "aversion": stat.aversion,
                "ephemeralOwner": stat.ephemeralOwner,
                "dataLength": stat.dataLength,
                "numChildren": stat.numChildren,
                "pzxid": stat.pzxid,
            },
        }
        for child in c.get_children(p):
            stack.append(("" if p == "/" else p) + "/" + child)
    with open(out, "w") as f:
        json.dump(tree, f, indent=1, sort_keys=True)


def build(hosts, out):
    c = connect(hosts)
    world_read = [ACL(Permissions.READ, Id("world", "anyone"))]
    admin_only = [make_digest_acl("admin", "secret", all=True)]
    c.create("/app", b"root of the app")
    c.create("/app/secret", b"digest only", acl=admin_only)
    c.create("/app/frozen", b"read only", acl=world_read)
    c.create("/app/shared", b"", acl=world_read + admin_only)
    c.create("/app/empty", b"")
    seqs = [c.create("/app/seq-", b"s", sequence=True) for _ in range(4)]
    c.delete(seqs[1])
    for i in range(10):
        c.create("/app/bulk/n%02d" % i, b"v%d" % i, makepath=True)
    c.set("/app/bulk/n01", b"again")
    c.set("/app/bulk/n01", b"and again")
    raw(c, CreateContainer("/app/box", b"container", OPEN_ACL_UNSAFE, 4))
    c.create("/app/box/in", b"")
    raw(c, CreateTTL("/app/ttl", b"lives an hour", OPEN_ACL_UNSAFE, 5, 3600 * 1000))
    raw(c, CreateTTL("/app/ttl-seq-", b"", OPEN_ACL_UNSAFE, 6, 7200 * 1000))
    t = c.transaction()
    t.check("/app", 0)
    t.create("/app/m1", b"from a transaction")
    t.set_data("/app/empty", b"set in a transaction", version=0)
    t.delete("/app/bulk/n02")
    results = t.commit()
    assert not any(isinstance(r, Exception) for r in results), results
    c.set_acls("/app/empty", world_read + admin_only, version=0)

    # The session that stays open, with its ephemerals.
    keeper = connect(hosts)
    ephemerals = [
        keeper.create("/app/lock", b"held", ephemeral=True),
        keeper.create("/app/bulk/member-", b"", ephemeral=True, sequence=True),
    ]
    session_id, password = keeper.client_id
    dump(c, out)
    c.stop()
    c.close()
    print("SESSION %x %s %s" % (session_id, password.hex(), " ".join(ephemerals)))
    print("READY", flush=True)
    # Held open until killed; stdin closing (the test's end) ends it too, still unclosed.
    sys.stdin.read()


def resume(hosts, id_hex, password_hex, out, ephemerals):
    session_id = int(id_hex, 16)
    states = []
    lost = threading.Event()

    def listener(state):
        states.append(state)
        if state == KazooState.LOST:
            lost.set()

    c = KazooClient(
        hosts=hosts,
        timeout=SESSION_TIMEOUT,
        client_id=(session_id, bytes.fromhex(password_hex)),
        auth_data=AUTH,
        connection_retry={"max_tries": -1, "deadline": TIMEOUT},
    )
    c.add_listener(listener)
    c.start(timeout=TIMEOUT)
    # kazoo starts a new session by itself after an expired one: that must not have happened.
    got = c.client_id[0]
    assert got == session_id, "session %x, not the resumed %x" % (got, session_id)
    assert not lost.is_set(), "the session was expired: %s" % states
    for e in ephemerals:
        stat = c.exists(e)
        assert stat is not None, "ephemeral %s is missing" % e
        assert stat.ephemeralOwner == session_id, "%s owned by %x" % (e, stat.ephemeralOwner)
    dump(c, out)
    c.stop()  # closeSession: its ephemerals go
    c.close()
    check = connect(hosts)
    for e in ephemerals:
        assert check.exists(e) is None, "%s outlived its session's close" % e
    check.stop()
    check.close()
    print("RESUMED %x" % got, flush=True)


def main():
    cmd = sys.argv[1]
    if cmd == "build":
        build(sys.argv[2], sys.argv[3])
    elif cmd == "resume":
        resume(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    else:
        raise SystemExit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
