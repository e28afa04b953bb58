"""Authentication and ACLs: unknown scheme (R8), digest auth and ACL enforcement."""

import pytest
from kazoo.exceptions import AuthFailedError, ConnectionClosedError, NoAuthError
from kazoo.protocol.states import KazooState, KeeperState
from kazoo.security import make_acl, make_digest_acl


def test_unknown_auth_scheme_fails_and_closes(make_client, h):
    """R8, S1.4: addauth with an unknown scheme fails with AuthFailed and the server drops the
    connection; the kazoo handle goes AUTH_FAILED (state LOST), kazoo's connection loop stops
    for good (kazoo resends the bad credential on its one reconnect and is refused again) and
    later operations fail at once (kazoo 2.11: ConnectionClosedError, its handle being CLOSED)."""
    c = make_client()
    seen = []
    c.add_listener(lambda s: seen.append((s, c.client_state)))
    with pytest.raises(AuthFailedError):
        c.add_auth("nosuchscheme", "x")
    assert c._connection.connection_stopped.wait(20), "kazoo kept reconnecting"
    assert (KazooState.LOST, KeeperState.AUTH_FAILED) in seen
    assert seen[-1] == (KazooState.LOST, KeeperState.AUTH_FAILED)
    assert c.state == KazooState.LOST
    assert c.client_state in (KeeperState.AUTH_FAILED, KeeperState.CLOSED)
    with pytest.raises((AuthFailedError, ConnectionClosedError)):
        c.exists("/")


def test_unknown_auth_scheme_on_the_wire(raw, h):
    """R8, wire level: the reply to AuthPacket(type 0, scheme "nosuchscheme") has xid -4 and
    err -115 (AuthFailed); then the server closes the connection."""
    r = raw()
    rep = r.call(r.AUTH, h.jint(0) + h.jstr("nosuchscheme") + h.jbuf(b"x"), xid=r.AUTH_XID)
    assert (rep.xid, rep.err) == (r.AUTH_XID, r.AUTHFAILED)
    assert r.expect_eof(timeout=5.0), "server did not close the connection"


def test_digest_auth_and_acl(make_client, zk, root):
    """ACLs (ZooKeeper 3.8 digest scheme): addauth digest succeeds; a node whose ACL names only
    the digest id is readable/writable by sessions authenticated as it and gives NoAuth to
    others (wrong password or no auth); exists needs no permission; delete is governed by the
    parent's ACL."""
    alice = make_client()
    assert alice.add_auth("digest", "alice:secret") is True
    acl = make_digest_acl("alice", "secret", all=True)
    p = alice.create(root + "/private", b"s", acl=[acl])

    with pytest.raises(NoAuthError):
        zk.get(p)
    with pytest.raises(NoAuthError):
        zk.set(p, b"x")
    with pytest.raises(NoAuthError):
        zk.create(p + "/child")
    assert zk.exists(p).dataLength == 1

    mallory = make_client()
    mallory.add_auth("digest", "alice:wrong")  # accepted, but it is another id
    with pytest.raises(NoAuthError):
        mallory.get(p)

    alice2 = make_client(auth_data=[("digest", "alice:secret")])
    assert alice2.get(p)[0] == b"s"
    alice2.set(p, b"t")
    acls, _ = alice2.get_acls(p)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(acl.perms, "digest", acl.id.id)]
    assert alice2.create(p + "/child") == p + "/child"
    alice2.delete(p + "/child")

    # read-only for the world, everything for alice
    q = alice.create(
        root + "/shared", b"r", acl=[make_acl("world", "anyone", read=True), acl]
    )
    assert zk.get(q)[0] == b"r"
    with pytest.raises(NoAuthError):
        zk.set(q, b"w")
    alice.set(q, b"w")

    # deleting needs DELETE on the parent (root is open), not on the node itself
    zk.delete(p)
    assert zk.exists(p) is None
