"""multi (kazoo transactions): all-or-nothing, per-op results (R7)."""

from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)


def test_multi_success(zk, root):
    """R7 (success case): every op applied, one result per op in order."""
    zk.create(root + "/x", b"x0")
    zk.create(root + "/gone")
    t = zk.transaction()
    t.create(root + "/new", b"n")
    t.set_data(root + "/x", b"x1", version=0)
    t.check(root + "/x", 1)
    t.delete(root + "/gone")
    t.create(root + "/s-", sequence=True)
    res = t.commit()
    assert res[0] == root + "/new"
    assert res[1].version == 1 and res[1].dataLength == 2
    assert res[2:4] == [True, True]
    assert res[4] == root + "/s-0000000003"  # x, gone, new were created before it
    assert zk.get(root + "/new")[0] == b"n"
    assert zk.get(root + "/x")[0] == b"x1"
    assert zk.exists(root + "/gone") is None


def test_multi_failure_rolls_back(zk, root):
    """R7: a failed multi returns RolledBack for the ops before the failing one, the real error
    for it, RuntimeInconsistency for those after it; nothing is applied (not even a sequential
    counter advance)."""
    zk.create(root + "/x", b"x0")
    zk.create(root + "/keep")
    zk.create(root + "/seq")
    t = zk.transaction()
    t.create(root + "/new", b"n")
    t.create(root + "/seq/s-", sequence=True)
    t.set_data(root + "/x", b"bad", version=7)
    t.delete(root + "/keep")
    t.create(root + "/x")
    res = t.commit()
    assert [type(r) for r in res] == [
        RolledBackError,
        RolledBackError,
        BadVersionError,
        RuntimeInconsistency,
        RuntimeInconsistency,
    ]
    assert zk.exists(root + "/new") is None
    assert zk.get(root + "/x")[0] == b"x0" and zk.exists(root + "/x").version == 0
    assert zk.exists(root + "/keep") is not None
    assert zk.get_children(root + "/seq") == []
    assert zk.create(root + "/seq/s-", sequence=True) == root + "/seq/s-0000000000"


def test_multi_failure_first_and_last_op(zk, root):
    """R7: failure in the first op (all others RuntimeInconsistency) and in the last op (all
    others RolledBack); checks and errors of each kind."""
    zk.create(root + "/a")
    t = zk.transaction()
    t.check(root + "/missing", 0)
    t.create(root + "/b")
    res = t.commit()
    assert [type(r) for r in res] == [NoNodeError, RuntimeInconsistency]
    assert zk.exists(root + "/b") is None

    t = zk.transaction()
    t.create(root + "/b")
    t.create(root + "/a")
    res = t.commit()
    assert [type(r) for r in res] == [RolledBackError, NodeExistsError]
    assert zk.exists(root + "/b") is None


def test_multi_failure_on_the_wire(zk, root, raw, h):
    """R7, wire level: a failed multi's reply header carries err 0; the body is one
    (type -1, done false, err) header plus ErrorResult(err) per op with err 0 (rolled back),
    the real code (-103 BadVersion), -2 (RuntimeInconsistency), then the done marker
    (type -1, done true, err -1)."""
    zk.create(root + "/x")
    r = raw()

    def op(typ, body):  # MultiHeader(type, done=false, err=-1) + the op's request
        return h.jint(typ) + h.jbool(False) + h.jint(-1) + body

    body = (
        op(r.CREATE, h.jstr(root + "/new") + h.jbuf(b"") + h.jacl(h.OPEN_ACL) + h.jint(0))
        + op(r.SET_DATA, h.jstr(root + "/x") + h.jbuf(b"") + h.jint(99))
        + op(r.DELETE, h.jstr(root + "/x") + h.jint(-1))
        + h.jint(-1) + h.jbool(True) + h.jint(-1)
    )
    rep = r.call(r.MULTI, body)
    assert rep.err == 0
    rd = h.Reader(rep.body)
    results = []
    while True:
        typ, done, err = rd.int(), rd.bool(), rd.int()
        if done:
            assert (typ, err) == (-1, -1)
            break
        assert typ == -1
        assert rd.int() == err
        results.append(err)
    assert results == [0, -103, -2]
    assert rd.remaining() == 0
    assert zk.exists(root + "/new") is None and zk.exists(root + "/x") is not None
