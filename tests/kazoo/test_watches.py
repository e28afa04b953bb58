"""Watches: one-shot data/exists/child watches, persistent and persistent-recursive watches
(AddWatch, opcode 106), and the order of notifications relative to replies.

kazoo 2.11.0 has no ``add_watch`` (no AddWatch request at all) and drops a one-shot watcher
client-side when it fires, which would hide a server that fires twice; so the server-side
semantics are checked with the hand-written wire client (``raw``), and the plain flows also
through kazoo."""

from kazoo.protocol.states import EventType


def test_kazoo_one_shot_watches(make_client, zk, root, h):
    """Watches (ZooKeeper 3.8 one-shot watches, S7.1 node events): a data watch fires
    NodeDataChanged, an exists watch on a missing node fires NodeCreated, a child watch fires
    NodeChildrenChanged, each on a change made by another session."""
    other = make_client()
    p = root + "/w"
    zk.create(p, b"0")

    data_rec, exists_rec, child_rec = h.Recorder("data"), h.Recorder("exists"), h.Recorder("child")
    assert zk.get(p, watch=data_rec)[0] == b"0"
    assert zk.exists(root + "/later", watch=exists_rec) is None
    assert zk.get_children(p, watch=child_rec) == []

    other.set(p, b"1")
    ev = data_rec.value(what="NodeDataChanged")
    assert (ev.type, ev.path) == (EventType.CHANGED, p)

    other.create(root + "/later")
    ev = exists_rec.value(what="NodeCreated")
    assert (ev.type, ev.path) == (EventType.CREATED, root + "/later")

    other.create(p + "/c")
    ev = child_rec.value(what="NodeChildrenChanged")
    assert (ev.type, ev.path) == (EventType.CHILD, p)

    # fired once: later changes do not reach these callbacks; a fresh watch set after them
    # fires first-in-order, so anything still pending for the old ones would be seen by then
    fresh = h.Recorder("fresh")
    other.set(p, b"2")
    other.create(p + "/d")
    zk.get(p, watch=fresh)
    other.set(p, b"3")
    fresh.value(what="fresh NodeDataChanged")
    assert len(data_rec.all) == 1 and len(exists_rec.all) == 1 and len(child_rec.all) == 1


def test_one_shot_watches_fire_once_on_the_wire(make_client, root, raw, h):
    """Watches: each one-shot watch is delivered exactly once, for the first matching change;
    later changes produce nothing until it is set again. Events come in change order."""
    w = make_client()
    p, missing = root + "/p", root + "/missing"
    w.create(p, b"0")

    r = raw()
    assert r.get_data(p, watch=True)[0] == 0
    assert r.exists(missing, watch=True)[0] == r.NONODE  # exists on a missing node sets a watch
    assert r.get_children(p, watch=True)[0] == 0

    w.set(p, b"1")
    w.set(p, b"2")
    w.create(missing)
    w.set(missing, b"x")
    w.create(p + "/c1")
    w.create(p + "/c2")
    # every notification for a change made before this read precedes its reply
    rep = r.call(r.EXISTS, h.jstr(root) + h.jbool(False))
    assert rep.err == 0
    assert [(e.type, e.path) for e in rep.events_before] == [
        (r.NODE_DATA_CHANGED, p),
        (r.NODE_CREATED, missing),
        (r.NODE_CHILDREN_CHANGED, p),
    ]
    assert all(e.state == 3 for e in rep.events_before)  # SyncConnected

    # re-arm and check that the watch fires again
    assert r.get_data(p, watch=True)[0] == 0
    w.set(p, b"3")
    rep = r.call(r.EXISTS, h.jstr(root) + h.jbool(False))
    assert [(e.type, e.path) for e in rep.events_before] == [(r.NODE_DATA_CHANGED, p)]


def test_delete_fires_data_and_child_watches_once(make_client, root, raw, h):
    """Watches: deleting a node with both a data watch and a child watch from the same session
    delivers a single NodeDeleted for it (plus NodeChildrenChanged for a watched parent)."""
    w = make_client()
    q = root + "/q"
    w.create(q)
    r = raw()
    r.get_data(q, watch=True)
    r.get_children(q, watch=True)
    r.get_children(root, watch=True)
    w.delete(q)
    rep = r.call(r.EXISTS, h.jstr(root) + h.jbool(False))
    assert sorted((e.type, e.path) for e in rep.events_before) == [
        (r.NODE_DELETED, q),
        (r.NODE_CHILDREN_CHANGED, root),
    ]


def test_persistent_watch_fires_repeatedly(make_client, root, raw, h):
    """Watches (AddWatch PERSISTENT): fires for every data change, child-list change, deletion
    and re-creation of the node itself (not for changes to a child's data), and stays set."""
    w = make_client()
    p = root + "/pw"
    r = raw()
    assert r.add_watch(p, r.PERSISTENT) == 0  # the node need not exist

    w.create(p)
    w.set(p, b"1")
    w.set(p, b"2")
    w.create(p + "/c")
    w.set(p + "/c", b"x")
    w.delete(p + "/c")
    w.delete(p)
    w.create(p)
    rep = r.call(r.EXISTS, h.jstr(root) + h.jbool(False))
    assert [(e.type, e.path) for e in rep.events_before] == [
        (r.NODE_CREATED, p),
        (r.NODE_DATA_CHANGED, p),
        (r.NODE_DATA_CHANGED, p),
        (r.NODE_CHILDREN_CHANGED, p),
        (r.NODE_CHILDREN_CHANGED, p),
        (r.NODE_DELETED, p),
        (r.NODE_CREATED, p),
    ]


def test_persistent_recursive_watch(make_client, root, raw, h):
    """Watches (AddWatch PERSISTENT_RECURSIVE): fires for the node and every descendant
    (created, data changed, deleted), never NodeChildrenChanged, and stays set."""
    w = make_client()
    t = root + "/rw"
    r = raw()
    assert r.add_watch(t, r.PERSISTENT_RECURSIVE) == 0

    w.create(t)
    w.set(t, b"1")
    w.create(t + "/c")
    w.create(t + "/c/d")
    w.set(t + "/c/d", b"x")
    w.create(root + "/rw-sibling")  # not under t: no event
    w.delete(t + "/c/d")
    w.delete(t + "/c")
    w.delete(t)
    w.create(t)
    rep = r.call(r.EXISTS, h.jstr(root) + h.jbool(False))
    assert [(e.type, e.path) for e in rep.events_before] == [
        (r.NODE_CREATED, t),
        (r.NODE_DATA_CHANGED, t),
        (r.NODE_CREATED, t + "/c"),
        (r.NODE_CREATED, t + "/c/d"),
        (r.NODE_DATA_CHANGED, t + "/c/d"),
        (r.NODE_DELETED, t + "/c/d"),
        (r.NODE_DELETED, t + "/c"),
        (r.NODE_DELETED, t),
        (r.NODE_CREATED, t),
    ]


def test_notification_precedes_reply_showing_the_change(make_client, root, raw, h):
    """Watches (ZooKeeper's ordering guarantee): a client sees the watch event for a change
    before any reply that shows the change: (a) a read issued after another session's write
    completed; (b) the reply to the client's own write."""
    w = make_client()
    o = root + "/o"
    w.create(o, b"old")
    r = raw()
    assert r.get_data(o, watch=True)[1] == b"old"

    w.set(o, b"new")  # completed before r's read is sent
    rep = r.call(r.GET_DATA, h.jstr(o) + h.jbool(False))
    assert [(e.type, e.path) for e in rep.events_before] == [(r.NODE_DATA_CHANGED, o)]
    assert rep.err == 0 and rep.body[4:7] == b"new"

    assert r.get_data(o, watch=True)[1] == b"new"
    rep = r.call(r.SET_DATA, h.jstr(o) + h.jbuf(b"mine") + h.jint(-1))
    assert rep.err == 0
    assert [(e.type, e.path) for e in rep.events_before] == [(r.NODE_DATA_CHANGED, o)]
