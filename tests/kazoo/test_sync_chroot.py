"""sync, and chroot connection strings (S2.3)."""

import pytest
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import EventType


def test_sync_then_read_sees_other_sessions_write(make_client, zk, root):
    """sync (ZooKeeper 3.8): sync(path) answers with the path; a read after sync sees every write
    completed before the sync was issued (by any session)."""
    reader = make_client()
    for i in range(20):
        zk.create(f"{root}/n{i}", str(i).encode())
        assert reader.sync(f"{root}/n{i}") == f"{root}/n{i}"
        assert reader.get(f"{root}/n{i}")[0] == str(i).encode()
    assert reader.sync(root) == root


def test_sync_on_missing_path(zk, root, raw, h):
    """sync (ZooKeeper 3.8): sync does not check that the path exists; the reply is OK with the
    path echoed."""
    r = raw()
    rep = r.call(r.SYNC, h.jstr(root + "/missing"))
    assert rep.err == 0
    assert h.Reader(rep.body).string() == root + "/missing"
    assert zk.sync(root + "/missing") == root + "/missing"


def test_chroot(make_client, zk, root, zk_server, h):
    """S2.3: with a chroot suffix every path is resolved under the chroot, created (sequential)
    names and watch event paths are returned without it; the chroot node need not exist for
    the connect to succeed."""
    chroot = root + "/app/a"
    with pytest.warns(UserWarning):  # kazoo warns that the chroot node is missing
        c = make_client(hosts=zk_server.hosts + chroot)
    assert c.connected
    assert c.exists("/") is None
    with pytest.raises(NoNodeError):
        c.create("/x")  # the parent (the chroot itself) does not exist yet

    zk.ensure_path(chroot)
    assert c.exists("/") is not None
    assert c.create("/x", b"1") == "/x"
    assert zk.get(chroot + "/x")[0] == b"1"
    s = c.create("/s-", sequence=True)
    assert s == "/s-0000000001"
    assert zk.exists(chroot + s) is not None
    assert sorted(c.get_children("/")) == ["s-0000000001", "x"]
    assert c.get("/x")[0] == b"1"
    assert c.sync("/x") == "/x"

    rec = h.Recorder("chroot watch")
    c.get("/x", watch=rec)
    c.get_children("/", watch=rec)
    zk.set(chroot + "/x", b"2")
    ev = rec.value(what="NodeDataChanged")
    assert (ev.type, ev.path) == (EventType.CHANGED, "/x")
    zk.create(chroot + "/y")
    ev = rec.value(what="NodeChildrenChanged")
    assert (ev.type, ev.path) == (EventType.CHILD, "/")

    t = c.transaction()
    t.create("/t")
    t.create("/t/u-", sequence=True)
    assert t.commit() == ["/t", "/t/u-0000000000"]
    assert zk.exists(chroot + "/t/u-0000000000") is not None
    # nothing escaped the chroot
    assert zk.get_children(root) == ["app"]
    assert zk.get_children(root + "/app") == ["a"]
