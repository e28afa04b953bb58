#!/usr/bin/env python3
"""Capture golden ZooKeeper client-protocol byte vectors from real clients.

A recording TCP proxy sits between a real client (kazoo, zkCli.sh, a small
Java program) and a real ZooKeeper server.  Each direction is cut into jute
frames (4-byte big-endian length + body) and every client connection is
written to one text file:

    # comment lines (scenario, client, date, server version)
    > 0000002d...     client -> server, whole frame incl. length prefix
    < 00000025...     server -> client, whole frame incl. length prefix

Usage (server already running; the full set needs TTL nodes and SASL, so start it as
crates/wire/tests/golden/README.md shows, with extendedTypesEnabled=true, the
SASLAuthenticationProvider and golden_jaas_server.conf):

    capture_golden.py all   [--server 127.0.0.1:21811] [--out DIR] [--only NAME...]
    capture_golden.py proxy --name NAME [--listen PORT]   # record by hand
    capture_golden.py check FILE...                       # sanity-check captures
    capture_golden.py dump FILE...                        # one decoded line per frame

Only the stdlib is needed for the proxy and the check; the scenarios need
kazoo (import is deferred), zkCli.sh and javac for GoldenJava.java.
"""
import argparse
import datetime
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "crates", "wire", "tests", "golden")
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
ZK_JAR = "/usr/share/java/zookeeper.jar"  # Debian's, Class-Path manifest pulls in jute/netty
JAVA_CP = ZK_JAR + ":/usr/share/java/slf4j-nop.jar"


# --------------------------------------------------------------------------
# Recording proxy
# --------------------------------------------------------------------------
class Conn:
    """One proxied client connection and its recorded frames."""

    def __init__(self, name, header):
        self.name, self.header = name, header
        self.frames = []  # ("<" | ">", bytes)
        self.lock = threading.Lock()
        self.socks = []


class Proxy:
    """Threaded TCP proxy that records jute frames per connection.

    `names` gives the file name (without .txt) for successive connections;
    connections beyond the list get NAME_<n>.  Files are written when a
    connection has closed in both directions.
    """

    def __init__(self, upstream, out_dir, names, header, listen_port=0):
        self.upstream, self.out_dir = upstream, out_dir
        self.names, self.header = list(names), header
        self.count, self.written, self.live = 0, [], []
        self.lock = threading.Lock()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.threads = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                csock, _ = self.lsock.accept()
            except OSError:
                return  # listening socket closed
            with self.lock:
                self.count += 1
                base = self.names[0] if self.names else "conn"
                name = (self.names[self.count - 1] if self.count <= len(self.names)
                        else "%s_%d" % (base, self.count))
            ssock = socket.create_connection(self.upstream)
            conn = Conn(name, self.header)
            conn.socks = [csock, ssock]
            with self.lock:
                self.live.append(conn)
            done = []
            for src, dst, tag in ((csock, ssock, ">"), (ssock, csock, "<")):
                t = threading.Thread(target=self._pump, args=(conn, src, dst, tag, done),
                                     daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, conn, src, dst, tag, done):
        buf = b""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            # Record complete frames *before* forwarding them, so a reply can
            # never be logged ahead of the request that caused it.
            while len(buf) >= 4:
                n = struct.unpack(">i", buf[:4])[0]
                if n < 0 or len(buf) < 4 + n:
                    break
                with conn.lock:
                    conn.frames.append((tag, buf[:4 + n]))
                buf = buf[4 + n:]
            try:
                dst.sendall(data)
            except OSError:
                break
        if buf:  # a truncated trailing frame: keep it visible, not silently lost
            with conn.lock:
                conn.frames.append(("!" + tag, buf))
        # Half-close towards the other side so it sees EOF like without a proxy.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with conn.lock:
            done.append(tag)
            last = len(done) == 2
        if last:
            for s in conn.socks:
                s.close()
            with self.lock:
                self.live.remove(conn)
            self._write(conn)

    def _write(self, conn):
        frames = conn.frames
        # A four-letter word ("ruok", "srvr", ...) is not jute: its "length"
        # is ASCII.  Never record those connections.
        if not frames or frames[0][0] != ">" or frames[0][1][:4].isalpha():
            return
        path = os.path.join(self.out_dir, conn.name + ".txt")
        with open(path, "w") as f:
            for line in conn.header(conn.name):
                f.write("# %s\n" % line)
            for tag, frame in frames:
                f.write("%s %s\n" % (tag, frame.hex()))
        with self.lock:
            self.written.append(path)

    def drop(self):
        """Cut every live connection (as a network failure would)."""
        with self.lock:
            conns = list(self.live)
        for c in conns:
            for s in c.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self, settle=1.0):
        time.sleep(settle)  # let trailing frames (closeSession reply) arrive
        self.lsock.close()
        for t in self.threads:
            t.join(10)
        return self.written


# --------------------------------------------------------------------------
# Decoding helpers shared by the scenarios and the check
# --------------------------------------------------------------------------
OPS = {0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData",
       5: "setData", 6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync",
       11: "ping", 12: "getChildren2", 13: "check", 14: "multi", 15: "create2",
       16: "reconfig", 17: "checkWatches", 18: "removeWatches",
       19: "createContainer", 20: "deleteContainer", 21: "createTTL",
       22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl",
       103: "getEphemerals", 104: "getAllChildrenNumber", 105: "setWatches2",
       106: "addWatch", 107: "whoAmI", -10: "createSession", -11: "closeSession",
       -1: "error"}
ERRS = {0: "OK", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
        -4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented",
        -7: "OperationTimeout", -8: "BadArguments", -13: "NewConfigNoQuorum",
        -14: "ReconfigInProgress", -100: "APIError", -101: "NoNode", -102: "NoAuth",
        -103: "BadVersion", -108: "NoChildrenForEphemerals", -110: "NodeExists",
        -111: "NotEmpty", -112: "SessionExpired", -113: "InvalidCallback",
        -114: "InvalidACL", -115: "AuthFailed", -118: "SessionMoved", -119: "NotReadOnly",
        -120: "EphemeralOnLocalSession", -121: "NoWatcher", -122: "RequestTimeout",
        -123: "ReconfigDisabled", -124: "SessionClosedRequireSasl", -125: "QuotaExceeded",
        -127: "Throttled"}
EVENTS = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
          4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
          7: "PersistentWatchRemoved"}
SPECIAL_XIDS = {-1: "notification", -2: "ping", -4: "auth", -8: "setWatches"}


def read_capture(path):
    frames = []
    for line in open(path):
        line = line.rstrip("\n")
        if line and not line.startswith("#"):
            tag, hexs = line.split(" ", 1)
            frames.append((tag, bytes.fromhex(hexs)))
    return frames


def check(path):
    """Validate one capture; return (problems, summary dict)."""
    problems, ops, errs, events, multi_ops = [], set(), set(), set(), set()
    frames = read_capture(path)
    pending = {}  # xid -> op name
    if not frames or frames[0][0] != ">":
        problems.append("does not start with a client frame")
    first_c = first_s = True
    info = {}
    for i, (tag, fr) in enumerate(frames):
        if tag.startswith("!"):
            problems.append("frame %d truncated" % i)
            continue
        n = struct.unpack(">i", fr[:4])[0]
        if n != len(fr) - 4:
            problems.append("frame %d: length %d != body %d" % (i, n, len(fr) - 4))
        body = fr[4:]
        if tag == ">" and first_c:
            first_c = False
            # ConnectRequest: int proto, long lastZxid, int timeout, long sid,
            # buffer passwd [, bool readOnly]
            _, last_zxid, _, sid = struct.unpack(">iqiq", body[:24])
            plen = struct.unpack(">i", body[24:28])[0]
            extra = len(body) - 28 - max(plen, 0)
            info["connect"] = "%s%s" % ("resume" if sid else "new",
                                        ", readOnly byte" if extra == 1 else ", no readOnly byte")
            ops.add("connect(%s)" % ("resume" if sid else "new"))
            continue
        if tag == "<" and first_s:
            first_s = False
            _, _, sid = struct.unpack(">iiq", body[:16])
            plen = struct.unpack(">i", body[16:20])[0]
            extra = len(body) - 20 - max(plen, 0)
            info["connect_resp"] = "readOnly byte" if extra == 1 else "no readOnly byte"
            continue
        if tag == ">":
            xid, typ = struct.unpack(">ii", body[:8])
            name = OPS.get(typ, "op%d" % typ)
            ops.add(name)
            pending[xid] = name
            if typ == 14 or typ == 22:  # MultiHeader {int type, bool done, int err} per op
                off = 8
                while off + 9 <= len(body):
                    t, done, _ = struct.unpack(">i?i", body[off:off + 9])
                    off += 9
                    if done:
                        break
                    multi_ops.add(OPS.get(t, "op%d" % t))
                    off = skip_multi_op(body, off, t)
        else:
            xid, _, err = struct.unpack(">iqi", body[:16])
            if err:
                errs.add(ERRS.get(err, str(err)))
            if xid == -1:
                typ, _state = struct.unpack(">ii", body[16:24])
                events.add(EVENTS.get(typ, "event%d" % typ))
            elif xid in pending:
                if pending[xid] in ("multi", "multiRead"):
                    # results: MultiHeader + per-op body; collect per-op errors
                    off = 16
                    while off + 9 <= len(body):
                        t, done, e = struct.unpack(">i?i", body[off:off + 9])
                        off += 9
                        if done:
                            break
                        if t == -1:
                            ec = struct.unpack(">i", body[off:off + 4])[0]
                            off += 4
                            if ec:
                                errs.add("multi:" + ERRS.get(ec, str(ec)))
                            continue
                        off = skip_multi_result(body, off, t)
                del pending[xid]
            elif xid not in SPECIAL_XIDS:
                problems.append("frame %d: reply xid %d matches no request" % (i, xid))
    return problems, dict(info, ops=ops, errs=errs, events=events, multi_ops=multi_ops)


def _string(body, off):
    n = struct.unpack(">i", body[off:off + 4])[0]
    return off + 4 + max(n, 0)


def skip_multi_op(body, off, t):
    """Skip the body of one multi sub-request (only what real clients send)."""
    if t in (1, 15, 19, 21):  # create*: path, data, acl vector, flags [, ttl]
        off = _string(body, _string(body, off))
        nacl = struct.unpack(">i", body[off:off + 4])[0]
        off += 4
        for _ in range(max(nacl, 0)):
            off = _string(body, _string(body, off + 4))
        off += 4
        return off + (8 if t == 21 else 0)
    if t == 2 or t == 13:  # delete/check: path, version
        return _string(body, off) + 4
    if t == 5:  # setData: path, data, version
        return _string(body, _string(body, off)) + 4
    if t in (4, 8):  # multiRead getData/getChildren: path, bool watch
        return _string(body, off) + 1
    raise ValueError("unknown multi op %d" % t)


def skip_multi_result(body, off, t):
    if t in (1,):
        return _string(body, off)
    if t in (15, 19, 21):  # path + Stat (68 bytes)
        return _string(body, off) + 68
    if t in (2, 13):
        return off
    if t == 5:
        return off + 68
    if t == 4:
        return _string(body, off) + 68
    if t == 8:
        n = struct.unpack(">i", body[off:off + 4])[0]
        off += 4
        for _ in range(max(n, 0)):
            off = _string(body, off)
        return off
    raise ValueError("unknown multi result %d" % t)


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------
class Ctx:
    def __init__(self, server, out_dir):
        self.server, self.out_dir = server, out_dir
        self.server_version = four_lw(server, b"srvr").splitlines()[0]
        import kazoo
        self.kazoo_version = kazoo.__version__
        self.java_client = "ZooKeeper Java client 3.8.0 (%s)" % os.path.realpath(ZK_JAR)
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")

    def proxy(self, names, scenario, client):
        def header(name):
            return ["connection: %s" % name, "scenario: %s" % scenario,
                    "client: %s" % client, "server: %s" % self.server_version,
                    "captured: %s via tests/tools/capture_golden.py (loopback proxy)" % self.date]
        host, port = self.server.rsplit(":", 1)
        return Proxy((host, int(port)), self.out_dir, names, header)

    def clean(self, path):
        """Remove a scenario's tree *without* the proxy, so it is not recorded."""
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=self.server)
        zk.start()
        for cred in ("alice:secret", "bob:pw", "carol:pw"):  # users of the ACL scenarios
            zk.add_auth("digest", cred)
        if zk.exists(path):
            try:
                zk.delete(path, recursive=True)
            except Exception:  # e.g. unreadable sasl-only leaf: deleting needs only the parent
                zk.delete(path)
        zk.stop()
        zk.close()


def four_lw(server, cmd):
    host, port = server.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(cmd)
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                return data.decode()
            data += d


def kazoo_client(ctx, proxy, **kw):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts="127.0.0.1:%d" % proxy.port, **kw)
    zk.start(timeout=10)
    return zk


def kazoo_close(zk):
    zk.stop()   # sends closeSession (-11)
    zk.close()


def sc_kazoo_crud(ctx):
    from kazoo.security import OPEN_ACL_UNSAFE, make_acl
    p = ctx.proxy(["kazoo_crud"], "create (plain/ephemeral/sequential/ephemeral-sequential), "
                  "create2, exists hit+miss, getData, setData, getChildren, getChildren2, "
                  "getACL, setACL, sync, delete, closeSession",
                  "kazoo %s (python)" % ctx.kazoo_version)
    base = "/golden-crud"
    ctx.clean(base)
    zk = kazoo_client(ctx, p)
    zk.create(base, b"root")                                   # create, persistent
    zk.create(base + "/a", b"hello", include_data=True)        # create2
    zk.create(base + "/e", b"eph", ephemeral=True)             # create, ephemeral
    zk.create(base + "/s-", b"seq", sequence=True)             # persistent sequential
    zk.create(base + "/es-", b"", ephemeral=True, sequence=True)  # ephemeral sequential, empty data
    zk.exists(base + "/a")                                     # exists hit
    zk.exists(base + "/missing")                               # exists miss (NoNode in header)
    zk.get(base + "/a")                                        # getData
    zk.set(base + "/a", b"world")                              # setData, any version
    zk.set(base + "/a", b"again", version=1)                   # setData with matching version
    zk.get_children(base)                                      # getChildren
    zk.get_children(base, include_data=True)                   # getChildren2
    zk.get_acls(base + "/a")                                   # getACL
    zk.set_acls(base + "/a", [make_acl("world", "anyone", read=True, write=True, admin=True)],
                version=0)                                 # setACL with aversion
    zk.get_acls(base + "/a")
    zk.set_acls(base + "/a", OPEN_ACL_UNSAFE)
    zk.sync(base)                                              # sync
    zk.delete(base + "/a", version=2)                          # delete with version
    zk.delete(base + "/e")                                     # delete any version
    kazoo_close(zk)
    return p.close()


def sc_kazoo_ping(ctx):
    p = ctx.proxy(["kazoo_ping"], "idle session with 4 s timeout so kazoo sends pings (xid -2)",
                  "kazoo %s (python)" % ctx.kazoo_version)
    zk = kazoo_client(ctx, p, timeout=4.0)
    time.sleep(5)  # kazoo pings every ~timeout*2/3/2
    zk.exists("/golden-ping")
    kazoo_close(zk)
    return p.close()


def sc_kazoo_watches(ctx):
    p = ctx.proxy(["kazoo_watches"], "exists/getData/getChildren watches and their "
                  "notifications (xid -1): NodeCreated, NodeDataChanged, NodeChildrenChanged, "
                  "NodeDeleted", "kazoo %s (python)" % ctx.kazoo_version)
    base = "/golden-watches"
    ctx.clean(base)
    zk = kazoo_client(ctx, p)
    seen = []
    w = seen.append
    zk.create(base, b"")
    zk.exists(base + "/n", watch=w)             # exists watch on missing node
    zk.create(base + "/n", b"v1")               # -> NodeCreated
    wait_for(lambda: len(seen) >= 1)
    zk.get(base + "/n", watch=w)                # data watch
    zk.set(base + "/n", b"v2")                  # -> NodeDataChanged
    wait_for(lambda: len(seen) >= 2)
    zk.get_children(base, watch=w)              # child watch (getChildren)
    zk.create(base + "/m", b"")                 # -> NodeChildrenChanged
    wait_for(lambda: len(seen) >= 3)
    zk.exists(base + "/n", watch=w)             # exists watch on existing node
    zk.delete(base + "/n")                      # -> NodeDeleted
    wait_for(lambda: len(seen) >= 4)
    zk.get_children(base, watch=w, include_data=True)  # child watch via getChildren2
    zk.delete(base + "/m")                      # -> NodeChildrenChanged
    wait_for(lambda: len(seen) >= 5)
    kazoo_close(zk)
    return p.close()


def wait_for(cond, timeout=5.0):
    end = time.time() + timeout
    while not cond() and time.time() < end:
        time.sleep(0.02)


def sc_kazoo_multi(ctx):
    p = ctx.proxy(["kazoo_multi"], "multi (transaction) with create/setData/check/delete: one "
                  "that commits and one that fails on a check (per-op error results)",
                  "kazoo %s (python)" % ctx.kazoo_version)
    base = "/golden-multi"
    ctx.clean(base)
    zk = kazoo_client(ctx, p)
    zk.create(base, b"")
    t = zk.transaction()
    t.create(base + "/x", b"1")
    t.create(base + "/y", b"2")
    t.check(base + "/x", 0)
    t.set_data(base + "/x", b"11", version=0)
    t.delete(base + "/y")
    print("  multi ok:", t.commit())
    t = zk.transaction()
    t.create(base + "/z", b"3")
    t.check(base + "/x", 7)          # wrong version -> BadVersion, whole multi rolls back
    t.set_data(base + "/x", b"12")
    print("  multi fail:", t.commit())
    t = zk.transaction()
    t.delete(base + "/nope")         # first op fails -> NoNode then RuntimeInconsistency
    t.create(base + "/w", b"")
    print("  multi fail2:", t.commit())
    kazoo_close(zk)
    return p.close()


def sc_kazoo_acl_auth(ctx):
    from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE
    p = ctx.proxy(["kazoo_acl_auth"], "digest auth (xid -4), create with digest ACL, "
                  "getACL, setData denied by ACL (NoAuth), setACL, InvalidACL",
                  "kazoo %s (python)" % ctx.kazoo_version)
    base = "/golden-acl"
    ctx.clean(base)
    zk = kazoo_client(ctx, p)
    zk.add_auth("digest", "alice:secret")
    zk.create(base, b"")
    zk.create(base + "/ro", b"x", acl=[make_digest_acl("alice", "secret", read=True)])
    zk.create(base + "/rw", b"x", acl=[make_digest_acl("alice", "secret", all=True)])
    zk.get_acls(base + "/ro")
    zk.get(base + "/ro")
    try_(lambda: zk.set(base + "/ro", b"y"))            # NoAuth
    zk.set_acls(base + "/rw", [make_digest_acl("alice", "secret", read=True, write=True)])
    zk.set(base + "/rw", b"z")
    from kazoo.security import ACL, Id
    bad_acl = [ACL(31, Id("nosuchscheme", "x"))]
    try_(lambda: zk.create(base + "/bad", b"", acl=bad_acl))   # InvalidACL
    kazoo_close(zk)
    return p.close()


def try_(fn):
    try:
        fn()
    except Exception as e:  # the error reply is what we want on the wire
        print("  expected error:", type(e).__name__)


def sc_kazoo_auth_fail(ctx):
    p = ctx.proxy(["kazoo_auth_fail", "kazoo_auth_fail_2_retry"],
                  "auth with an unknown scheme: server answers xid -4 AuthFailed and closes "
                  "the connection (kazoo then retries once on a new connection before stop())",
                  "kazoo %s (python)" % ctx.kazoo_version)
    zk = kazoo_client(ctx, p)
    try_(lambda: zk.add_auth("nosuchscheme", "whatever"))
    time.sleep(0.5)
    zk.stop()
    zk.close()
    return p.close()


def sc_kazoo_errors(ctx):
    p = ctx.proxy(["kazoo_errors"], "error replies: NoNode, NodeExists, BadVersion, NotEmpty, "
                  "NoChildrenForEphemerals", "kazoo %s (python)" % ctx.kazoo_version)
    base = "/golden-errors"
    ctx.clean(base)
    zk = kazoo_client(ctx, p)
    zk.create(base, b"")
    zk.create(base + "/child", b"")
    zk.create(base + "/eph", b"", ephemeral=True)
    try_(lambda: zk.get(base + "/missing"))                   # getData NoNode
    try_(lambda: zk.set(base + "/missing", b""))              # setData NoNode
    try_(lambda: zk.delete(base + "/missing"))                # delete NoNode
    try_(lambda: zk.get_children(base + "/missing"))          # getChildren NoNode
    try_(lambda: zk.create(base + "/no/parent", b""))         # create NoNode (no parent)
    try_(lambda: zk.create(base + "/child", b""))             # NodeExists
    try_(lambda: zk.set(base + "/child", b"", version=5))     # setData BadVersion
    try_(lambda: zk.delete(base + "/child", version=5))       # delete BadVersion
    try_(lambda: zk.delete(base))                             # NotEmpty
    try_(lambda: zk.create(base + "/eph/kid", b""))           # NoChildrenForEphemerals
    kazoo_close(zk)
    return p.close()


def sc_kazoo_resume(ctx):
    p = ctx.proxy(["kazoo_resume_1_initial", "kazoo_resume_2_reconnect"],
                  "new session with digest auth, then the proxy cuts the TCP connection and "
                  "kazoo reconnects with session id + password (lastZxidSeen set) and re-sends "
                  "auth. NOTE: kazoo 2.11 does not send SetWatches (see java_setwatches*)",
                  "kazoo %s (python)" % ctx.kazoo_version)
    base = "/golden-resume"
    ctx.clean(base)
    zk = kazoo_client(ctx, p)
    zk.add_auth("digest", "bob:pw")
    zk.create(base, b"r")
    zk.get(base, watch=lambda e: None)
    time.sleep(0.3)
    p.drop()
    time.sleep(0.2)
    wait_for(lambda: zk.connected, 10)
    wait_for(lambda: p.count >= 2, 10)
    zk.get(base)
    zk.set(base, b"r2")
    kazoo_close(zk)
    return p.close()


def sc_kazoo_reconfig(ctx):
    p = ctx.proxy(["kazoo_reconfig"], "reconfig (16) against a standalone server with "
                  "reconfigEnabled unset: error reply", "kazoo %s (python)" % ctx.kazoo_version)
    zk = kazoo_client(ctx, p)
    try_(lambda: zk.reconfig(joining="server.2=127.0.0.1:21889:31889;21812", leaving=None,
                             new_members=None))
    try_(lambda: zk.reconfig(joining=None, leaving="1", new_members=None, from_config=5))
    kazoo_close(zk)
    return p.close()


def zkcli(ctx, p, commands, jvmflags=""):
    """Run zkCli.sh with commands fed through stdin (one session)."""
    env = dict(os.environ, CLIENT_JVMFLAGS="-Dzookeeper.log.threshold=ERROR " + jvmflags,
               ZOO_LOG4J_PROP="ERROR,CONSOLE")
    script = "\n".join(commands) + "\n"
    r = subprocess.run([ZKCLI, "-server", "127.0.0.1:%d" % p.port],
                       input=script, capture_output=True, text=True, env=env, timeout=120)
    return r.stdout


JAVA_DESC = "zkCli.sh (ZooKeeper Java client 3.8.0, Debian), commands fed on stdin"


def sc_zkcli_create_modes(ctx):
    p = ctx.proxy(["zkcli_create_modes"], "create modes via Java client: null data, "
                  "persistent/ephemeral/sequential, container (op 19), TTL (op 21, needs "
                  "extendedTypesEnabled), persistent-sequential-with-TTL; get/stat of null-data "
                  "node; ls -s; delete; deleteall; quit", JAVA_DESC)
    b = "/golden-zkcli-create"
    ctx.clean(b)
    out = zkcli(ctx, p, [
        "create %s" % b,                  # no data argument -> null data
        "get %s" % b,
        "stat %s" % b,
        "create %s/p data" % b,
        "create -e %s/e eph" % b,
        "create -s %s/s- seq" % b,
        "create -e -s %s/es- es" % b,
        "create -c %s/c cont" % b,        # container
        "create -t 60000 %s/t ttl" % b,   # TTL
        "create -s -t 60000 %s/ts- ttlseq" % b,
        "ls -s %s" % b,                   # getChildren2
        "ls %s" % b,
        "set %s/p newdata" % b,
        "delete %s/p" % b,
        "create %s/p" % b,
        "ls -R %s" % b,
        "quit",
    ])
    sys.stdout.write(indent(out))
    return p.close()


def sc_zkcli_misc(ctx):
    p = ctx.proxy(["zkcli_misc"], "getEphemerals (103), getAllChildrenNumber (104), whoAmI "
                  "(107), sync, getAcl/setAcl, addauth digest, config (getData "
                  "/zookeeper/config), version check errors, quit", JAVA_DESC)
    b = "/golden-zkcli-misc"
    ctx.clean(b)
    out = zkcli(ctx, p, [
        "whoami",
        "create %s x" % b,
        "create %s/a" % b,
        "create %s/a/b" % b,
        "create -e %s/e1" % b,
        "create -e %s/a/e2" % b,
        "getEphemerals %s" % b,
        "getEphemerals",
        "getAllChildrenNumber %s" % b,
        "sync %s" % b,
        "getAcl %s" % b,
        "addauth digest carol:pw",
        "whoami",
        "setAcl %s auth:carol:pw:cdrwa" % b,
        "getAcl %s" % b,
        "setAcl -v 99 %s world:anyone:cdrwa" % b,  # BadVersion on setACL
        "set -v 99 %s y" % b,                       # BadVersion on setData
        "config",
        "quit",
    ])
    sys.stdout.write(indent(out))
    return p.close()


def sc_zkcli_watches(ctx):
    p = ctx.proxy(["zkcli_watches"], "addWatch PERSISTENT and PERSISTENT_RECURSIVE (106), "
                  "their notifications, get -w / ls -w / stat -w, removewatches (op 18) incl. "
                  "NoWatcher error", JAVA_DESC)
    b = "/golden-zkcli-watch"
    ctx.clean(b)
    out = zkcli(ctx, p, [
        "create %s x" % b,
        "addWatch %s" % b,                        # default mode PERSISTENT_RECURSIVE
        "addWatch -m PERSISTENT %s/p" % b,
        "create %s/p 1" % b,                      # one NodeCreated, though two watches match
        "set %s/p 2" % b,                         # NodeDataChanged
        "create %s/p/q 3" % b,                    # NodeCreated via recursive
        "delete %s/p/q" % b,
        "delete %s/p" % b,                        # NodeDeleted
        "get -w %s" % b,
        "ls -w %s" % b,
        "stat -w %s/nope" % b,
        "removewatches %s -d" % b,                # remove data watches
        "removewatches %s -c" % b,
        "removewatches %s -a" % b,                # everything left incl. persistent
        "removewatches %s -a" % b,                # nothing left -> NoWatcher
        "quit",
    ])
    sys.stdout.write(indent(out))
    return p.close()


def sc_zkcli_auth_fail(ctx):
    p = ctx.proxy(["zkcli_auth_fail"], "addauth with an unknown scheme from the Java client",
                  JAVA_DESC)
    out = zkcli(ctx, p, ["addauth nosuchscheme whatever", "ls /", "quit"])
    sys.stdout.write(indent(out))
    return p.close()


def sc_zkcli_sasl(ctx):
    """SASL DIGEST-MD5 (op 102).  Needs the server started with golden_jaas_server.conf and
    authProvider.1=...SASLAuthenticationProvider (see README); the Java client then
    authenticates by itself right after connect because a JAAS "Client" section exists."""
    p = ctx.proxy(["zkcli_sasl"], "SASL DIGEST-MD5 handshake (sasl, op 102) by the Java client, "
                  "whoami, create with sasl ACL, getAcl", JAVA_DESC + ", JAAS Client section "
                  "from tests/tools/golden_jaas_client.conf")
    b = "/golden-zkcli-sasl"
    ctx.clean(b)
    out = zkcli(ctx, p, ["whoami", "create %s x sasl:golden:cdrwa,world:anyone:r" % b,
                         "getAcl %s" % b, "get %s" % b, "quit"],
                jvmflags="-Djava.security.auth.login.config=%s"
                % os.path.join(HERE, "golden_jaas_client.conf"))
    sys.stdout.write(indent(out))
    return p.close()


def sc_java(ctx):
    """GoldenJava.java: multiRead, checkWatches, setWatches/setWatches2, readOnly connect."""
    cls_dir = os.path.join("/tmp", "golden-java-classes")
    os.makedirs(cls_dir, exist_ok=True)
    subprocess.run(["javac", "-cp", JAVA_CP, "-d", cls_dir,
                    os.path.join(HERE, "GoldenJava.java")], check=True)
    written = []
    for scen, names, desc in [
        ("multiread", ["java_multiread"], "multiRead (22) incl. a NoNode sub-result, multi with "
         "create/check, Java create with null data"),
        ("checkwatches", ["java_checkwatches"], "removeWatches(path, watcher, ...) -> "
         "checkWatches (17) and removeWatches (18) with a specific watcher, NoWatcher"),
        ("setwatches", ["java_setwatches_1_initial", "java_setwatches_2_reconnect"],
         "data/exist/child watches, connection cut by the proxy, Java client resumes session "
         "and re-registers with SetWatches (101, xid -8)"),
        ("setwatches2", ["java_setwatches2_1_initial", "java_setwatches2_2_reconnect"],
         "persistent + persistent-recursive watches, connection cut, Java client resumes and "
         "re-registers with SetWatches2 (105, xid -8)"),
        ("readonly", ["java_readonly"], "Java client with canBeReadOnly=true (readOnly byte 1)"),
    ]:
        p = ctx.proxy(names, desc, "GoldenJava.java on ZooKeeper Java client 3.8.0 (Debian)")
        ctx.clean("/golden-java-" + scen)
        proc = subprocess.Popen(["java", "-cp", cls_dir + ":" + JAVA_CP, "GoldenJava", scen,
                                 "127.0.0.1:%d" % p.port, "/golden-java-" + scen],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        # GoldenJava prints DROP when it wants the connection cut, then waits for a line.
        for line in proc.stdout:
            print("  java:", line.rstrip())
            if line.strip() == "DROP":
                p.drop()
                proc.stdin.write("ok\n")
                proc.stdin.flush()
        proc.wait(60)
        written += p.close()
    return written


def indent(s):
    return "".join("  | " + l + "\n" for l in s.splitlines() if l.strip())


SCENARIOS = {
    "kazoo_crud": sc_kazoo_crud, "kazoo_ping": sc_kazoo_ping, "kazoo_watches": sc_kazoo_watches,
    "kazoo_multi": sc_kazoo_multi, "kazoo_acl_auth": sc_kazoo_acl_auth,
    "kazoo_auth_fail": sc_kazoo_auth_fail, "kazoo_errors": sc_kazoo_errors,
    "kazoo_resume": sc_kazoo_resume, "kazoo_reconfig": sc_kazoo_reconfig,
    "zkcli_create_modes": sc_zkcli_create_modes,
    "zkcli_misc": sc_zkcli_misc, "zkcli_watches": sc_zkcli_watches,
    "zkcli_auth_fail": sc_zkcli_auth_fail, "zkcli_sasl": sc_zkcli_sasl, "java": sc_java,
}


def report(paths):
    bad = False
    for path in paths:
        problems, s = check(path)
        bad |= bool(problems)
        print("%s: %s" % (os.path.basename(path), "OK" if not problems else "PROBLEMS"))
        for pr in problems:
            print("   !", pr)
        print("   connect: %s / response: %s" % (s.get("connect"), s.get("connect_resp")))
        print("   ops:", ", ".join(sorted(s["ops"])))
        if s["multi_ops"]:
            print("   multi sub-ops:", ", ".join(sorted(s["multi_ops"])))
        print("   errors:", ", ".join(sorted(s["errs"])) or "-")
        print("   events:", ", ".join(sorted(s["events"])) or "-")
    return 1 if bad else 0


def dump(path):
    """One decoded line per frame: direction, xid, opcode or zxid/err."""
    for i, (tag, fr) in enumerate(read_capture(path)):
        body = fr[4:]
        if i < 2:
            print("%3d %s connect %s len=%d" % (i, tag, "request" if tag == ">" else "response",
                                                 len(body)))
        elif tag == ">":
            xid, typ = struct.unpack(">ii", body[:8])
            print("%3d > xid=%d %s len=%d" % (i, xid, OPS.get(typ, typ), len(body)))
        else:
            xid, zxid, err = struct.unpack(">iqi", body[:16])
            ev = ""
            if xid == -1:
                typ, state = struct.unpack(">ii", body[16:24])
                ev = " event=%s state=%d path=%s" % (EVENTS.get(typ, typ), state, body[28:])
            print("%3d < xid=%d zxid=%#x err=%s%s len=%d" % (i, xid, zxid, ERRS.get(err, err), ev,
                                                          len(body)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("all")
    a.add_argument("--server", default="127.0.0.1:21811")
    a.add_argument("--out", default=DEFAULT_OUT)
    a.add_argument("--only", nargs="*")
    pr = sub.add_parser("proxy")
    pr.add_argument("--server", default="127.0.0.1:21811")
    pr.add_argument("--out", default=DEFAULT_OUT)
    pr.add_argument("--listen", type=int, default=21900)
    pr.add_argument("--name", required=True)
    c = sub.add_parser("check")
    c.add_argument("files", nargs="+")
    d = sub.add_parser("dump")
    d.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.cmd == "dump":
        for f in args.files:
            print("==", f)
            dump(f)
        return
    if args.cmd == "check":
        sys.exit(report(args.files))
    os.makedirs(args.out, exist_ok=True)
    if args.cmd == "proxy":
        host, port = args.server.rsplit(":", 1)
        p = Proxy((host, int(port)), args.out, [args.name],
                  lambda n: ["connection: %s" % n, "recorded by hand"], args.listen)
        print("recording on 127.0.0.1:%d, Ctrl-C to stop" % p.port)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            print(p.close())
        return
    ctx = Ctx(args.server, args.out)
    written = []
    for name, fn in SCENARIOS.items():
        if args.only and name not in args.only:
            continue
        print("== %s" % name)
        written += fn(ctx)
    sys.exit(report(sorted(written)))


if __name__ == "__main__":
    main()
