"""Data model through kazoo: CRUD, versions, errors, Stat fields, null data, sequential names."""

import time

import pytest
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)


def test_create_get_set_delete_with_versions(zk, root):
    """Data model (ZooKeeper 3.8 create/getData/setData/delete): versioned set and delete,
    BadVersion on a stale version, NoNode after delete, Stat fields of a fresh node."""
    p = root + "/a"
    before_ms = int(time.time() * 1000)
    assert zk.create(p, b"v0") == p
    data, st = zk.get(p)
    assert data == b"v0"
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert (st.numChildren, st.dataLength, st.ephemeralOwner) == (0, 2, 0)
    assert st.czxid == st.mzxid == st.pzxid > 0
    assert st.ctime == st.mtime
    # wall-clock milliseconds (same machine; generous bound)
    assert abs(st.ctime - before_ms) < 60_000

    st1 = zk.set(p, b"value-1", version=0)
    assert (st1.version, st1.dataLength, st1.czxid, st1.ctime) == (1, 7, st.czxid, st.ctime)
    assert st1.mzxid > st.mzxid and st1.mtime >= st.mtime
    assert st1.pzxid == st.pzxid  # a data change is not a child-list change

    with pytest.raises(BadVersionError):
        zk.set(p, b"stale", version=0)
    assert zk.get(p) == (b"value-1", st1)

    st2 = zk.set(p, b"", version=-1)  # -1 = any version
    assert (st2.version, st2.dataLength) == (2, 0)
    assert zk.get(p)[0] == b""

    with pytest.raises(BadVersionError):
        zk.delete(p, version=1)
    assert zk.exists(p) == st2
    zk.delete(p, version=2)

    assert zk.exists(p) is None
    with pytest.raises(NoNodeError):
        zk.get(p)
    with pytest.raises(NoNodeError):
        zk.set(p, b"x")
    with pytest.raises(NoNodeError):
        zk.delete(p)


def test_create_errors_and_children(zk, root):
    """Data model: NodeExists on a second create, NoNode for a missing parent, NotEmpty for a
    node with children; the parent's cversion/numChildren/pzxid track child changes while its
    version and mzxid do not."""
    parent = root + "/p"
    zk.create(parent, b"pdata")
    with pytest.raises(NodeExistsError):
        zk.create(parent, b"again")
    assert zk.get(parent)[0] == b"pdata"
    with pytest.raises(NoNodeError):
        zk.create(root + "/missing/child")
    with pytest.raises(NoNodeError):
        zk.get_children(root + "/missing")

    st0 = zk.exists(parent)
    zk.create(parent + "/c1")
    c2 = zk.create(parent + "/c2")
    st2 = zk.exists(parent)
    assert (st2.numChildren, st2.cversion) == (2, 2)
    assert (st2.version, st2.mzxid) == (st0.version, st0.mzxid)
    assert st2.pzxid == zk.exists(c2).czxid
    assert sorted(zk.get_children(parent)) == ["c1", "c2"]

    with pytest.raises(NotEmptyError):
        zk.delete(parent)
    assert zk.exists(parent + "/c1") is not None

    zk.delete(parent + "/c1")
    st3 = zk.exists(parent)
    # the visible cversion counts deletions too (ZooKeeper 3.8, measured)
    assert (st3.numChildren, st3.cversion) == (1, 3)
    assert st3.pzxid > st2.pzxid
    assert zk.get_children(parent) == ["c2"]

    zk.delete(c2)
    zk.delete(parent)
    assert zk.exists(parent) is None


def test_null_and_empty_data(zk, root, raw):
    """Data model: a node created with null data (jute buffer length -1) reads back as null,
    one created with empty data as empty; dataLength is 0 for both."""
    r = raw()
    err, _ = r.create(root + "/null", None)
    assert err == 0
    err, _ = r.create(root + "/empty", b"")
    assert err == 0

    err, data, st = r.get_data(root + "/null")
    assert (err, data, st.dataLength) == (0, None, 0)
    err, data, st = r.get_data(root + "/empty")
    assert (err, data, st.dataLength) == (0, b"", 0)
    # kazoo shows the difference too
    assert zk.get(root + "/null")[0] is None
    assert zk.get(root + "/empty")[0] == b""

    # setData with null data makes the data null again
    zk.set(root + "/empty", b"abc")
    err, st = r.set_data(root + "/empty", None)
    assert (err, st.version, st.dataLength) == (0, 2, 0)
    assert r.get_data(root + "/empty")[1] is None


def test_sequential_suffix_counts_children_ever_created(make_client, zk, root):
    """R6: the sequential suffix is the number of children ever created under the parent (any
    mode, sequential or not, ephemeral or not), 10 digits zero-padded; deletions do not advance
    it; each parent has its own counter."""
    parent = root + "/seq"
    zk.create(parent)
    names = [zk.create(parent + "/s-", sequence=True) for _ in range(3)]
    assert names == [parent + f"/s-{i:010d}" for i in range(3)]

    zk.delete(names[1])
    assert zk.exists(parent).cversion == 4  # 3 creations + 1 deletion
    zk.create(parent + "/plain")  # 4th child ever created
    assert zk.create(parent + "/s-", sequence=True) == parent + "/s-0000000004"

    zk.delete(parent + "/plain")
    zk.delete(parent + "/s-0000000004")
    other = make_client()
    eph = other.create(parent + "/e-", ephemeral=True, sequence=True)
    assert eph == parent + "/e-0000000005"
    # an empty prefix: the name is just the 10 digits
    assert zk.create(parent + "/", sequence=True) == parent + "/0000000006"
    assert sorted(zk.get_children(parent)) == [
        "0000000006",
        "e-0000000005",
        "s-0000000000",
        "s-0000000002",
    ]

    # another parent has its own counter
    zk.create(root + "/other")
    assert zk.create(root + "/other/x", sequence=True) == root + "/other/x0000000000"
