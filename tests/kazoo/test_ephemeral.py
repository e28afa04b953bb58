"""Ephemeral nodes: ownership, no children, deletion on explicit close (S6.3, R4)."""

import threading
import time

import pytest
from kazoo.exceptions import NoChildrenForEphemeralsError
from kazoo.protocol.states import EventType


def test_ephemeral_owner_is_session_and_cannot_have_children(make_client, zk, root):
    """S3.1 / S6.3: an ephemeral node's ephemeralOwner is the creating session's id (persistent
    nodes: 0); ephemerals cannot have children (NoChildrenForEphemerals, for any session)."""
    a = make_client()
    sid = a.client_id[0]
    assert sid not in (0, zk.client_id[0])
    e = a.create(root + "/e", b"x", ephemeral=True)
    st = zk.exists(e)
    assert st.ephemeralOwner == sid
    assert zk.exists(root).ephemeralOwner == 0

    with pytest.raises(NoChildrenForEphemeralsError):
        a.create(e + "/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(e + "/child", ephemeral=True)
    assert zk.exists(e).numChildren == 0


def test_close_deletes_ephemerals_and_tells_watchers(make_client, zk, root, raw, h):
    """S6.3, R4 (explicit close): client.stop() closes the session; all its ephemerals are gone
    when stop() returns, together (a reader that acts on the first notification already sees
    all of them gone), and watchers on another session are told: NodeDeleted for node watches,
    NodeChildrenChanged for the parents' child lists, within 2 s (ZooKeeper: ~5-50 ms). Other
    sessions' ephemerals and persistent nodes stay."""
    zk.create(root + "/sub")
    a = make_client()
    e1 = a.create(root + "/e1", ephemeral=True)
    e2 = a.create(root + "/sub/e2", ephemeral=True)
    e3 = a.create(root + "/e-", ephemeral=True, sequence=True)
    mine = zk.create(root + "/mine", ephemeral=True)

    rec = h.Recorder("B's watches")
    assert zk.exists(e1, watch=rec) is not None
    zk.get(e2, watch=rec)
    zk.get_children(root, watch=rec)
    zk.get_children(root + "/sub", watch=rec)

    r = raw()
    assert r.exists(e1, watch=True)[0] == 0

    t0 = time.monotonic()
    stopper = threading.Thread(target=a.stop)
    stopper.start()
    kind, ev, _ = r.read_message(timeout=5.0)
    assert kind == "event" and (ev.type, ev.path) == (r.NODE_DELETED, e1)
    # acting on the first notification: every ephemeral of the session is already gone
    assert r.get_children(root) == (0, ["mine", "sub"])
    assert r.get_children(root + "/sub") == (0, [])
    stopper.join(10)
    assert not stopper.is_alive(), "client.stop() did not return"
    # the close is applied before its reply: a later read on another session sees it
    assert zk.exists(e1) is None and zk.exists(e2) is None and zk.exists(e3) is None

    got = set()
    for _ in range(4):
        t, ev = rec.get(timeout=2.0, what="notification after close")
        got.add((ev.type, ev.path))
        assert t - t0 < 2.0
    assert got == {
        (EventType.DELETED, e1),
        (EventType.DELETED, e2),
        (EventType.CHILD, root),
        (EventType.CHILD, root + "/sub"),
    }
    assert zk.exists(mine).ephemeralOwner == zk.client_id[0]
    assert zk.exists(root + "/sub").numChildren == 0
