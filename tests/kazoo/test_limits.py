"""Request size limit (R3): jute.maxbuffer = 1,048,575 bytes for a whole request frame."""

import pytest
from kazoo.exceptions import ConnectionLoss
from kazoo.protocol.states import KazooState

MIB = 1 << 20
MAX_FRAME = 1_048_575  # bytes after the 4-byte length prefix


def payload(n):
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def test_value_of_1mib_minus_1kib_accepted(zk, root):
    """R3: a value of 1 MiB - 1 KiB (1,047,552 bytes) is accepted by create and set and reads
    back intact."""
    v = payload(MIB - 1024)
    p = root + "/big"
    zk.create(p, v)
    data, st = zk.get(p)
    assert data == v and st.dataLength == len(v)
    v2 = v[::-1]
    assert zk.set(p, v2).dataLength == len(v2)
    assert zk.get(p)[0] == v2


def test_oversized_request_closes_connection(make_client, zk, root, h):
    """R3: a create or set with a value of 1 MiB + 1 byte makes the server close the connection:
    the client gets ConnectionLoss, reconnects with the same session, and nothing was written
    (the node is absent / the old value kept)."""
    states = h.Recorder("states")
    c = make_client()
    c.add_listener(states)
    sid = c.client_id[0]
    old = root + "/old"
    c.create(old, b"old")
    big = payload(MIB + 1)

    with pytest.raises(ConnectionLoss):
        c.create(root + "/new", big)
    assert states.value(what="SUSPENDED") == KazooState.SUSPENDED
    assert states.value(what="CONNECTED") == KazooState.CONNECTED
    assert c.client_id[0] == sid
    assert zk.exists(root + "/new") is None

    with pytest.raises(ConnectionLoss):
        c.set(old, big)
    assert states.value(what="SUSPENDED") == KazooState.SUSPENDED
    assert states.value(what="CONNECTED") == KazooState.CONNECTED
    assert c.client_id[0] == sid
    data, st = zk.get(old)
    assert (data, st.version) == (b"old", 0)
    assert zk.get_children(root) == ["old"]


def test_frame_limit_boundary_on_the_wire(zk, root, raw, h):
    """R3, exact boundary: a SetData request whose frame is exactly 1,048,575 bytes (after the
    length prefix) is served; one of 1,048,576 bytes makes the server close the connection
    without a reply, and the node keeps its old data."""
    p = root + "/b"
    zk.create(p, b"old")
    fixed = 8 + len(h.jstr(p)) + 4 + 4  # request header, path, data length, version

    r = raw()
    body = h.jstr(p) + h.jbuf(payload(MAX_FRAME - fixed)) + h.jint(-1)
    assert 8 + len(body) == MAX_FRAME
    rep = r.call(r.SET_DATA, body, timeout=20)
    assert rep.err == 0
    assert zk.exists(p).dataLength == MAX_FRAME - fixed

    r2 = raw()
    body = h.jstr(p) + h.jbuf(payload(MAX_FRAME + 1 - fixed)) + h.jint(0)
    assert 8 + len(body) == MAX_FRAME + 1
    try:
        r2.send_request(r2.SET_DATA, body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close as soon as it has read the length prefix
    else:
        assert r2.expect_eof(timeout=10), "server kept the connection open"
    st = zk.exists(p)
    assert (st.version, st.dataLength) == (1, MAX_FRAME - fixed)
