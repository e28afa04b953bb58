"""Restart of the (one-node) server: acknowledged state and sessions survive."""

import signal

from kazoo.protocol.states import KazooState


def test_restart_keeps_data_and_sessions(own_server, make_client, h):
    """Durability across a restart (SIGTERM, then SIGKILL): every acknowledged write survives,
    the sequential counter continues, and a live session survives the restart: the client
    reconnects with the same session id and its ephemeral is still there (S6.5)."""
    srv = own_server()
    states = h.Recorder("states")
    c = make_client(hosts=srv.addr, timeout=20 * srv.tick_ms / 1000)
    c.add_listener(states)
    sid = c.client_id[0]
    c.create("/r", b"persist")
    c.create("/r/s-", sequence=True)
    e = c.create("/r/e", b"eph", ephemeral=True)

    for sig, n in ((signal.SIGTERM, 1), (signal.SIGKILL, 2)):
        c.set("/r", b"v%d" % n)
        srv.stop(sig)
        assert states.value(what="SUSPENDED") == KazooState.SUSPENDED
        srv.start()
        assert states.value(timeout=30, what="CONNECTED again") == KazooState.CONNECTED
        assert c.client_id[0] == sid
        data, st = c.get("/r")
        assert (data, st.version) == (b"v%d" % n, n)
        assert c.exists(e).ephemeralOwner == sid
        assert c.create("/r/s-", sequence=True) == "/r/s-%010d" % (n + 1)

    other = make_client(hosts=srv.addr)
    c.stop()
    assert other.exists(e) is None
