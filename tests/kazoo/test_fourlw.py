"""Four-letter words (admin commands on the client port)."""

import re


def test_ruok(zk_server, h):
    """Four-letter words: "ruok" answers exactly "imok" and the server closes the connection."""
    assert h.four_letter(zk_server.hosts, "ruok") == "imok"


def test_srvr(zk, root, zk_server, h):
    """Four-letter words: "srvr" reports "Zxid: 0x<hex>" (not behind the last write) and
    "Mode: standalone" for a one-node server."""
    st = zk.exists(root)
    out = h.four_letter(zk_server.hosts, "srvr")
    assert "Mode: standalone" in out.splitlines()
    m = re.search(r"^Zxid: 0x([0-9a-fA-F]+)$", out, re.M)
    assert m, out
    assert int(m.group(1), 16) >= st.czxid
    # through kazoo's helper too
    assert zk.command(b"ruok") == "imok"
