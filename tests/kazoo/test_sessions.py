"""Sessions: identity, timeout negotiation, keep-alive, expiry, resume, wrong password.

A client is made silent without closing its session by connecting it through ``TcpProxy`` and
freezing the proxy: nothing more is forwarded either way, and both TCP connections stay open
(so the server must expire the session on silence alone, S6.2)."""

import threading
import time

import pytest
from kazoo.exceptions import SessionExpiredError
from kazoo.protocol.states import EventType, KazooState

# Slack added to (negotiated timeout + 1 tick) for expiry deadlines: scheduling, the watcher's
# delivery path, and kazoo's callback thread.
EXPIRY_SLACK_S = 2.0


def clamp(req, info):
    return min(max(req, info.min_timeout_ms), info.max_timeout_ms)


def test_timeout_negotiation(zk_server, raw):
    """S4.1, S4.2, R1: the ConnectResponse carries the negotiated timeout = requested timeout
    clamped to [2 x tick, 20 x tick]."""
    t = zk_server.tick_ms
    for req in (1, 2 * t - 1, 2 * t, 3 * t, 20 * t, 20 * t + 1, 100 * t):
        r = raw(handshake=False)
        resp = r.handshake(timeout_ms=req)
        assert resp.timeout == clamp(req, zk_server), f"requested {req}"
        assert resp.timeout == min(max(req, 2 * t), 20 * t)


def test_session_identity(zk_server, raw):
    """S3.1: a connect without a session creates one: a non-zero 64-bit id and a 16-byte
    password, distinct per session; protocol version 0."""
    a = raw(handshake=False).handshake(timeout_ms=4000)
    b = raw(handshake=False).handshake(timeout_ms=4000)
    for resp in (a, b):
        assert resp.protocol_version == 0
        assert resp.session_id != 0
        assert len(resp.passwd) == 16
        assert resp.read_only is False
    assert a.session_id != b.session_id
    assert a.passwd != b.passwd


def test_idle_session_kept_alive_by_pings(make_client, zk, root, zk_server, h):
    """S5.1, S5.2: an idle client with a short timeout stays CONNECTED on the same session for
    three timeouts (kazoo pings after about a third of the timeout); its ephemeral stays.
    (2 s at least: kazoo gives a ping's answer only ~1/6 of the timeout before it gives up on
    the connection, too tight to be reliable below that.)"""
    req_ms = max(zk_server.min_timeout_ms, 2000)
    states = h.Recorder("states")
    a = make_client(timeout=req_ms / 1000)
    a.add_listener(states)
    sid = a.client_id[0]
    e = a.create(root + "/e", ephemeral=True)
    # the condition under test is the passage of time itself
    threading.Event().wait(3 * req_ms / 1000)
    assert states.all == []  # never SUSPENDED, never LOST
    assert a.state == KazooState.CONNECTED and a.client_id[0] == sid
    assert zk.exists(e).ephemeralOwner == sid


def test_silent_session_expires(make_client, make_proxy, zk, root, zk_server, h):
    """S6.2, S6.3, S6.4, R4: a client that goes silent (connection black-holed, not closed)
    loses its session after the negotiated timeout: another session's watcher sees NodeDeleted
    for its ephemeral (and NodeChildrenChanged for the parent) no earlier than the timeout after
    the client's last request, and within timeout + 1 tick + EXPIRY_SLACK_S of the silence.
    The silent client is not told until it reaches the server again; then it is expired
    (kazoo: LOST), and the ephemeral does not come back."""
    tick_s = zk_server.tick_ms / 1000
    req_ms = max(zk_server.min_timeout_ms, 2000)
    timeout_s = clamp(req_ms, zk_server) / 1000
    proxy = make_proxy()
    a_states = h.Recorder("A states")
    a = make_client(hosts=proxy.addr, timeout=req_ms / 1000)
    a.add_listener(a_states)
    sid = a.client_id[0]
    e = a.create(root + "/e", ephemeral=True)

    node_rec, child_rec = h.Recorder("B node watch"), h.Recorder("B child watch")
    assert zk.exists(e, watch=node_rec).ephemeralOwner == sid
    assert zk.get_children(root, watch=child_rec) == ["e"]

    t_before_last_request = time.monotonic()
    a.exists(root)  # the server hears from A at or after t_before_last_request
    proxy.freeze()
    t_silent = time.monotonic()

    bound = timeout_s + tick_s + EXPIRY_SLACK_S
    t_del, ev = node_rec.get(timeout=bound + 5, what="NodeDeleted of the silent session's ephemeral")
    a_state_at_expiry = a.state
    print(
        f"negotiated {timeout_s:.1f}s: NodeDeleted {t_del - t_silent:.3f}s after the silence,"
        f" {t_del - t_before_last_request:.3f}s after the last request (bound {bound:.1f}s)"
    )
    assert (ev.type, ev.path) == (EventType.DELETED, e)
    assert t_del - t_silent <= bound, f"expired {t_del - t_silent:.2f}s after silence, bound {bound:.2f}s"
    assert t_del - t_before_last_request >= timeout_s - 0.05, (
        f"expired {t_del - t_before_last_request:.2f}s after the last request, before the timeout"
    )
    ev = child_rec.value(timeout=2.0, what="NodeChildrenChanged of the parent")
    assert (ev.type, ev.path) == (EventType.CHILD, root)
    assert zk.exists(e) is None

    # S6.4: the silent client does not know yet
    assert a_state_at_expiry != KazooState.LOST
    assert KazooState.LOST not in [s for _, s in a_states.all]

    proxy.thaw()  # A reaches the server again: told that its session expired
    deadline = time.monotonic() + 20
    while True:
        st = a_states.value(timeout=max(0.1, deadline - time.monotonic()), what="A LOST")
        if st == KazooState.LOST:
            break
    # kazoo then creates a new session by itself; the old ephemeral stays gone
    h.wait_state(a, KazooState.CONNECTED)
    assert a.client_id[0] != sid
    assert a.exists(e) is None


def test_resume_session_on_new_connection(make_client, make_proxy, zk, root, zk_server, h):
    """S3.3, S6.5: a client that presents (session id, password) of a live session on a new
    connection resumes that session: same id, its ephemeral still there and still owned by it;
    closing the resumed handle closes the session (ephemerals go), and the original handle is
    then told its session expired when it reaches the server."""
    proxy = make_proxy()
    a_states = h.Recorder("A states")
    a = make_client(hosts=proxy.addr)
    a.add_listener(a_states)
    sid, passwd = a.client_id
    e = a.create(root + "/e", b"mine", ephemeral=True)
    proxy.freeze()  # A goes silent; its session is still alive

    b = make_client(client_id=(sid, passwd))
    assert b.client_id[0] == sid
    assert b.client_id[1] == passwd
    assert b.exists(e).ephemeralOwner == sid
    assert b.get(e)[0] == b"mine"
    e2 = b.create(root + "/e2", ephemeral=True)
    assert zk.exists(e2).ephemeralOwner == sid

    rec = h.Recorder("B's watch")
    zk.exists(e, watch=rec)
    b.stop()
    ev = rec.value(timeout=5.0, what="NodeDeleted after the resumed handle closed")
    assert (ev.type, ev.path) == (EventType.DELETED, e)
    assert zk.exists(e2) is None

    proxy.thaw()
    deadline = time.monotonic() + 20
    while a_states.value(timeout=max(0.1, deadline - time.monotonic()), what="A LOST") != KazooState.LOST:
        pass


def test_reconnect_before_timeout_keeps_everything(make_client, make_proxy, zk, root, h):
    """S6.1, S6.5: when a client's connection breaks and it reconnects before the timeout, it is
    CONNECTED again on the same session with nothing lost: its ephemeral was never deleted."""
    proxy = make_proxy()
    a_states = h.Recorder("A states")
    a = make_client(hosts=proxy.addr)
    a.add_listener(a_states)
    sid = a.client_id[0]
    e = a.create(root + "/e", b"0", ephemeral=True)
    rec = h.Recorder("B's watch")
    zk.exists(e, watch=rec)

    proxy.cut()
    assert a_states.value(what="SUSPENDED") == KazooState.SUSPENDED
    assert a_states.value(what="CONNECTED again") == KazooState.CONNECTED
    assert a.client_id[0] == sid
    assert a.get(e)[0] == b"0"

    a.set(e, b"1")
    # B's watch fires for the data change: the node was never deleted meanwhile
    ev = rec.value(what="NodeDataChanged")
    assert (ev.type, ev.path) == (EventType.CHANGED, e)
    assert zk.exists(e).ephemeralOwner == sid
    assert a_states.pending() == []


def test_set_watches_on_reconnect(make_client, root, raw, h):
    """S3.3 (watches re-registered by the client), wire level: after reconnecting, SetWatches
    with the last zxid seen re-arms watches; changes made while the client was away fire at
    once (NodeDataChanged for a changed node, NodeCreated for an exists watch on a node created
    meanwhile) and untouched watches fire on the next change."""
    w = make_client()
    p, missing, q = root + "/p", root + "/missing", root + "/q"
    w.create(p, b"0")
    w.create(q)
    r1 = raw()
    r1.get_data(p, watch=True)
    r1.exists(missing, watch=True)
    r1.get_children(q, watch=True)
    seen = r1.last_zxid
    r1.close()  # connection gone, session alive

    w.set(p, b"1")
    w.create(missing)

    r2 = raw(handshake=False)
    resp = r2.handshake(timeout_ms=r1.negotiated_timeout, session_id=r1.session_id, passwd=r1.passwd, last_zxid=seen)
    assert resp.session_id == r1.session_id
    rep = r2.set_watches(seen, data=[p], exist=[missing], child=[q])
    assert rep.err == 0
    r2.exists(root)  # anything pending arrives before this reply
    assert sorted((ev.type, ev.path) for ev in r2.events) == [
        (r2.NODE_CREATED, missing),
        (r2.NODE_DATA_CHANGED, p),
    ]
    r2.events.clear()
    w.create(q + "/c")
    rep = r2.call(r2.EXISTS, h.jstr(root) + h.jbool(False))
    assert [(ev.type, ev.path) for ev in rep.events_before] == [(r2.NODE_CHILDREN_CHANGED, q)]


def refused_as_expired(caplog):
    # kazoo logs this when the ConnectResponse has timeOut <= 0 (then it drops the session id
    # and, being kazoo, immediately starts a fresh session; its state was LOST already, so no
    # listener sees a transition)
    return any("Session has expired" in r.getMessage() for r in caplog.records)


def test_wrong_password_is_expired_owner_keeps_session(make_client, zk, root, h, caplog):
    """S3.3, R2: a resume with the right session id and a wrong password is answered "session
    expired" (kazoo: then it starts a new session with another id); the real owner keeps its
    session and its ephemerals."""
    owner = make_client()
    sid, passwd = owner.client_id
    e = owner.create(root + "/e", ephemeral=True)
    wrong = bytes(b ^ 0x5A for b in passwd)

    caplog.clear()
    imp = make_client(client_id=(sid, wrong))
    assert refused_as_expired(caplog)
    assert imp.client_id[0] != sid
    assert imp.exists(e).ephemeralOwner == sid

    # the owner keeps its session (ZooKeeper closes the owner's connection when it sees the
    # resume attempt, so the owner may reconnect; its session and ephemeral survive)
    h.wait_state(owner, KazooState.CONNECTED)
    assert owner.client_id[0] == sid
    assert zk.exists(e).ephemeralOwner == sid
    assert owner.create(root + "/e2", ephemeral=True)
    assert zk.exists(root + "/e2").ephemeralOwner == sid


def test_unknown_or_closed_session_is_expired(make_client, zk, root, h, caplog):
    """S3.3, R2: a resume of an unknown session id, or of a session that was closed, is
    answered "session expired"; the closed session's ephemeral is not resurrected."""
    gone = make_client()
    sid, passwd = gone.client_id
    e = gone.create(root + "/e", ephemeral=True)
    gone.stop()
    assert zk.exists(e) is None

    for cid in ((sid, passwd), (sid ^ 0x00FF_FF00_0000_1234, passwd)):
        caplog.clear()
        c = make_client(client_id=cid)
        assert refused_as_expired(caplog), f"resume of {cid[0]:#x} was not refused as expired"
        assert c.client_id[0] not in (sid, cid[0])
        assert zk.exists(e) is None


def test_refused_resume_on_the_wire(make_client, zk, root, raw):
    """R2, wire level: a ConnectRequest with a live session id and a wrong password gets a
    ConnectResponse with protocolVersion 0, timeOut 0, sessionId 0, a 16-byte all-zero password
    (and readOnly false), then the server closes the connection. Same for an unknown id. The
    owner's session survives (it can resume with the right password)."""
    owner = raw()
    sid, passwd = owner.session_id, owner.passwd
    assert owner.create(root + "/e", b"", flags=owner.EPHEMERAL)[0] == 0

    for bad_sid, bad_pw in ((sid, bytes(16)), (sid, bytes(b ^ 1 for b in passwd)), (sid + 7919, passwd)):
        r = raw(handshake=False)
        resp = r.handshake(timeout_ms=4000, session_id=bad_sid, passwd=bad_pw)
        assert (resp.protocol_version, resp.timeout, resp.session_id) == (0, 0, 0)
        assert resp.passwd == bytes(16)
        assert resp.read_only in (False, None)
        assert len(resp.raw) in (36, 37)
        assert r.expect_eof(timeout=5.0), "server did not close the connection after refusing"

    # the session is alive: resume it with the right password on a new connection
    again = raw(handshake=False)
    resp = again.handshake(timeout_ms=4000, session_id=sid, passwd=passwd)
    assert resp.session_id == sid and resp.timeout > 0 and resp.passwd == passwd
    err, st = again.exists(root + "/e")
    assert err == 0 and st.ephemeralOwner == sid


def test_operations_after_expiry_fail(make_client, make_proxy, zk, root, zk_server, h):
    """S8.2 through kazoo: a request pending when the client learns that its session expired
    fails with SessionExpired (kazoo fails everything queued on the expired handle)."""
    proxy = make_proxy()
    req_ms = max(zk_server.min_timeout_ms, 2000)
    states = h.Recorder("A states")
    a = make_client(hosts=proxy.addr, timeout=req_ms / 1000)
    a.add_listener(states)
    e = a.create(root + "/e", ephemeral=True)
    rec = h.Recorder("B")
    zk.exists(e, watch=rec)
    proxy.freeze()
    rec.value(timeout=req_ms / 1000 + zk_server.tick_ms / 1000 + EXPIRY_SLACK_S + 5, what="expiry")
    assert states.value(what="SUSPENDED") == KazooState.SUSPENDED
    pending = a.exists_async(root)
    proxy.thaw()
    with pytest.raises(SessionExpiredError):
        pending.get(timeout=20)
