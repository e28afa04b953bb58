"""Harness for the kazoo integration tests.

The tests describe Apache ZooKeeper 3.8's client-visible behaviour; they are validated against
real ZooKeeper and then run against zk-node.  See README.md for the environment variables.

What this file provides (as fixtures, so test modules import nothing from here):

* ``zk_server`` (module scope): the server under test.  ``ZK_TEST_HOSTS`` set -> that running
  server (tickTime from ``ZK_TEST_TICK_MS``, default 2000); otherwise a fresh server per module:
  zk-node (``ZK_NODE_BIN``, default ``<repo>/target/debug/zk-node``) with ``--tick-ms 200``, or,
  with ``ZK_TEST_SERVER=zookeeper``, Apache ZooKeeper from Debian's jars with ``tickTime=200``.
* ``root``: a unique, empty znode path for the test (deleted recursively afterwards).
* ``make_client``: KazooClient factory; every client is stopped and closed after the test.
* ``zk``: a connected KazooClient (the test's "admin" session).
* ``raw``: factory for ``RawZk`` (a minimal hand-written ZooKeeper wire client, for the things
  kazoo 2.11 cannot do or hides: persistent watches, exact frame order, raw handshake replies).
* ``make_proxy``: factory for ``TcpProxy`` (freeze / cut a client's connection).
* ``own_server``: factory for ``ZkServer`` (tests that restart their own server).
* ``h``: a namespace with helpers (``Recorder``, ``wait_state``, ``four_letter``, constants).
"""

import os
import queue
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import types
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, NotEmptyError
from kazoo.protocol.states import KazooState

REPO = Path(__file__).resolve().parents[2]
EXTERNAL_HOSTS = os.environ.get("ZK_TEST_HOSTS") or None
SERVER_IMPL = os.environ.get("ZK_TEST_SERVER", "zk-node")  # "zk-node" or "zookeeper"
MANAGED_TICK_MS = 200
READY_DEADLINE_S = 20.0
STOP_DEADLINE_S = 10.0

# Servers currently running that were started by this harness; their log tail is attached to
# the report of a failing test.
_LIVE_SERVERS = []


# --------------------------------------------------------------------------------------------
# small helpers


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def split_addr(addr):
    host, port = addr.split("/")[0].split(",")[0].rsplit(":", 1)
    return host, int(port)


def four_letter(addr, cmd, timeout=3.0):
    """Send a four-letter word, return the whole reply (read until the server closes)."""
    host, port = split_addr(addr)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(cmd.encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


class Recorder:
    """A callable for kazoo watch callbacks / listeners: records (monotonic time, value)."""

    def __init__(self, name="events"):
        self.name = name
        self.q = queue.Queue()
        self.all = []

    def __call__(self, value):
        item = (time.monotonic(), value)
        self.all.append(item)
        self.q.put(item)

    def get(self, timeout=10.0, what=None):
        """Next recorded value (and its arrival time) within timeout, else fail."""
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(
                f"{self.name}: nothing ({what or 'event'}) within {timeout:.1f}s; so far {self.all!r}"
            )

    def value(self, timeout=10.0, what=None):
        return self.get(timeout, what)[1]

    def pending(self):
        return list(self.q.queue)


def wait_state(client, want, timeout=20.0, pred=None):
    """Wait until ``client.state == want`` (and ``pred()`` if given), driven by a state listener."""
    ev = threading.Event()

    def listener(state):
        if state == want:
            ev.set()
        return False

    client.add_listener(listener)
    try:
        if client.state == want and (pred is None or pred()):
            return
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not ev.wait(left):
                pytest.fail(f"client not {want} within {timeout}s (state {client.state})")
            ev.clear()
            if client.state == want and (pred is None or pred()):
                return
    finally:
        client.remove_listener(listener)


# --------------------------------------------------------------------------------------------
# server processes


class ZkServer:
    """A server process owned by the test harness.

    ``impl`` is "zk-node" (the project's binary) or "zookeeper" (Apache ZooKeeper from
    /usr/share/java, for validating the tests).  ``start()`` launches it (reusing port and data
    dir across restarts) and returns once it answers ``ruok`` with ``imok``; ``stop(sig)`` sends
    ``sig`` (SIGTERM by default; SIGKILL after a deadline) and waits; ``cleanup()`` also removes
    the temporary directory.
    """

    def __init__(self, impl=None, tick_ms=MANAGED_TICK_MS, extra_args=(), port=None):
        self.impl = impl or SERVER_IMPL
        self.tick_ms = tick_ms
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.base = Path(tempfile.mkdtemp(prefix=f"kazoo-{self.impl}-"))
        self.data_dir = self.base / "data"
        self.data_dir.mkdir()
        self.log_path = self.base / "server.log"
        self.proc = None

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    hosts = addr

    def _command(self):
        if self.impl == "zk-node":
            binary = os.environ.get("ZK_NODE_BIN") or str(REPO / "target" / "debug" / "zk-node")
            if not os.access(binary, os.X_OK):
                raise RuntimeError(f"zk-node binary not found at {binary} (build it or set ZK_NODE_BIN)")
            return [
                binary,
                "--client-addr", self.addr,
                "--data-dir", str(self.data_dir),
                "--tick-ms", str(self.tick_ms),
            ] + self.extra_args
        if self.impl == "zookeeper":
            java_dir = Path(os.environ.get("ZK_JAVA_DIR", "/usr/share/java"))
            jars = [java_dir / "zookeeper.jar", java_dir / "slf4j-log4j12.jar", java_dir / "log4j-1.2.jar"]
            for j in jars:
                if not j.exists():
                    raise RuntimeError(f"{j} missing (apt-get install zookeeper zookeeper-bin)")
            # The Netty connection factory (the secure port, test_tls.py) needs two jars that
            # Debian's zookeeper.jar manifest does not name.
            jars += [j for j in (java_dir / "netty-resolver.jar", java_dir / "netty-codec.jar") if j.exists()]
            cfg = self.base / "zoo.cfg"
            lines = [
                f"tickTime={self.tick_ms}",
                f"dataDir={self.data_dir}",
                f"clientPort={self.port}",
                "clientPortAddress=127.0.0.1",
                "maxClientCnxns=60",
                "admin.enableServer=false",
                "4lw.commands.whitelist=*",
            ] + self.extra_args
            cfg.write_text("\n".join(lines) + "\n")
            log4j = self.base / "log4j.properties"
            log4j.write_text(
                "log4j.rootLogger=INFO, CONSOLE\n"
                "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
                "log4j.appender.CONSOLE.Target=System.err\n"
                "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n\n"
            )
            return [
                os.environ.get("JAVA", "java"), "-Xmx256m",
                f"-Dlog4j.configuration=file:{log4j}",
                "-cp", ":".join(str(j) for j in jars),
                "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg),
            ]
        raise RuntimeError(f"unknown ZK_TEST_SERVER {self.impl!r}")

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        cmd = self._command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        _LIVE_SERVERS.append(self)
        deadline = time.monotonic() + READY_DEADLINE_S
        last = None
        while True:
            if self.proc.poll() is not None:
                self._forget()
                raise RuntimeError(
                    f"{self.impl} exited with {self.proc.returncode} before answering ruok;"
                    f" log tail:\n{self.tail()}"
                )
            try:
                if four_letter(self.addr, "ruok", timeout=1.0) == "imok" and self._serving():
                    return self
            except OSError as e:
                last = e
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError(
                    f"{self.impl} did not answer ruok within {READY_DEADLINE_S}s ({last!r});"
                    f" log tail:\n{self.tail()}"
                )
            # polling a socket for readiness (the process gives no other signal)
            time.sleep(0.05)

    def _serving(self):
        # ZooKeeper answers "imok" before its database is loaded and closes session
        # connections until then; "srvr" shows a Mode line only once it serves.
        if self.impl != "zookeeper":
            return True
        return "Mode:" in four_letter(self.addr, "srvr", timeout=1.0)

    def stop(self, sig=signal.SIGTERM):
        """Send sig, wait for the exit (SIGKILL after STOP_DEADLINE_S); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_DEADLINE_S)
        self._forget()
        return self.proc.returncode

    def _forget(self):
        while self in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(self)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def tail(self, lines=60):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def pytest_collection_modifyitems(items):
    # every test bounds its own time (pytest-timeout); a module may set a larger mark
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(60))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for srv in list(_LIVE_SERVERS):
            rep.sections.append((f"{srv.impl} {srv.addr} log tail ({srv.log_path})", srv.tail()))


ServerInfo = namedtuple("ServerInfo", "hosts tick_ms min_timeout_ms max_timeout_ms external server")


@pytest.fixture(scope="module")
def zk_server():
    if EXTERNAL_HOSTS:
        tick = int(os.environ.get("ZK_TEST_TICK_MS", "2000"))
        yield ServerInfo(EXTERNAL_HOSTS, tick, 2 * tick, 20 * tick, True, None)
        return
    srv = ZkServer(tick_ms=MANAGED_TICK_MS)
    try:
        srv.start()
        tick = srv.tick_ms
        yield ServerInfo(srv.addr, tick, 2 * tick, 20 * tick, False, srv)
    finally:
        srv.cleanup()


@pytest.fixture
def own_server(zk_server):
    """Factory for servers owned by one test: own_server(**ZkServer kwargs) -> started ZkServer.

    In external mode (ZK_TEST_HOSTS) this needs ZK_TEST_SERVER to say what to launch."""
    if zk_server.external and "ZK_TEST_SERVER" not in os.environ:
        pytest.skip("needs its own server: set ZK_TEST_SERVER=zk-node|zookeeper with ZK_TEST_HOSTS")
    made = []

    def make(start=True, **kw):
        srv = ZkServer(**kw)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in made:
        srv.cleanup()


# --------------------------------------------------------------------------------------------
# kazoo clients


@pytest.fixture
def make_client(zk_server):
    clients = []

    def make(hosts=None, start=True, start_timeout=20.0, **kw):
        kw.setdefault("timeout", 10.0)
        kw.setdefault(
            "connection_retry", {"max_tries": -1, "delay": 0.05, "backoff": 1.5, "max_delay": 0.5}
        )
        c = KazooClient(hosts=hosts or zk_server.hosts, **kw)
        clients.append(c)
        if start:
            c.start(timeout=start_timeout)
        return c

    yield make
    for c in reversed(clients):
        try:
            c.stop()
        except Exception:
            pass
        try:
            c.close()
        except Exception:
            pass


@pytest.fixture
def zk(make_client):
    return make_client()


@pytest.fixture
def root(request, zk):
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:60]
    path = f"/kt-{name}-{uuid.uuid4().hex[:8]}"
    zk.create(path, b"")
    yield path
    if zk.connected:
        try:
            zk.delete(path, recursive=True)
        except (NoNodeError, NotEmptyError):
            pass


# --------------------------------------------------------------------------------------------
# a minimal ZooKeeper wire client


class Reader:
    def __init__(self, buf, off=0):
        self.buf = buf
        self.off = off

    def _unpack(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.off)
        self.off += struct.calcsize(fmt)
        return v[0]

    def int(self):
        return self._unpack(">i")

    def long(self):
        return self._unpack(">q")

    def bool(self):
        return self._unpack(">B") != 0

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        b = self.buf[self.off:self.off + n]
        self.off += n
        return bytes(b)

    def string(self):
        b = self.buffer()
        return None if b is None else b.decode()

    def stat(self):
        return Stat(*struct.unpack_from(">qqqqiiiqiiq", self.buf, self._adv(68)))

    def _adv(self, n):
        o = self.off
        self.off += n
        return o

    def remaining(self):
        return len(self.buf) - self.off


Stat = namedtuple(
    "Stat",
    "czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren pzxid",
)
ConnectResponse = namedtuple("ConnectResponse", "protocol_version timeout session_id passwd read_only raw")
Reply = namedtuple("Reply", "xid zxid err body events_before")
WatchEvent = namedtuple("WatchEvent", "type state path")


def jint(v):
    return struct.pack(">i", v)


def jlong(v):
    return struct.pack(">q", v)


def jbool(v):
    return b"\x01" if v else b"\x00"


def jbuf(b):
    return jint(-1) if b is None else jint(len(b)) + bytes(b)


def jstr(s):
    return jbuf(None if s is None else s.encode())


OPEN_ACL = [(31, "world", "anyone")]


def jacl(acl):
    out = jint(len(acl))
    for perms, scheme, ident in acl:
        out += jint(perms) + jstr(scheme) + jstr(ident)
    return out


class RawZk:
    """One TCP connection speaking ZooKeeper's client protocol by hand (no background thread).

    ``call()`` sends a request and reads frames until its reply; watch notifications that
    arrive first are returned in ``Reply.events_before`` (and appended to ``self.events``), so
    tests can assert the order of notifications and replies exactly."""

    # opcodes
    CREATE, DELETE, EXISTS, GET_DATA, SET_DATA = 1, 2, 3, 4, 5
    GET_CHILDREN, SYNC, PING, GET_CHILDREN2, CHECK, MULTI, CREATE2 = 8, 9, 11, 12, 13, 14, 15
    AUTH, SET_WATCHES, ADD_WATCH, CLOSE = 100, 101, 106, -11
    WATCH_XID, PING_XID, AUTH_XID, SET_WATCHES_XID = -1, -2, -4, -8
    # AddWatch modes
    PERSISTENT, PERSISTENT_RECURSIVE = 0, 1
    # event types
    NODE_CREATED, NODE_DELETED, NODE_DATA_CHANGED, NODE_CHILDREN_CHANGED = 1, 2, 3, 4
    # create flags
    EPHEMERAL, SEQUENTIAL = 1, 2
    # error codes
    OK, NONODE, NODEEXISTS, BADVERSION, NOTEMPTY, AUTHFAILED = 0, -101, -110, -103, -111, -115
    RUNTIMEINCONSISTENCY = -2

    def __init__(self, addr, timeout=10.0):
        host, port = split_addr(addr)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.rbuf = b""
        self.xid = 0
        self.events = []
        self.last_zxid = 0
        self.session_id = None
        self.passwd = None
        self.negotiated_timeout = None

    # framing
    def send_frame(self, payload):
        self.sock.sendall(jint(len(payload)) + payload)

    def _recv_exact(self, n, deadline):
        while len(self.rbuf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete frame before the deadline")
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(max(65536, n - len(self.rbuf)))
            except ConnectionResetError:
                b = b""
            if not b:
                if self.rbuf:
                    raise EOFError(f"EOF inside a frame ({len(self.rbuf)} bytes buffered)")
                raise EOFError("server closed the connection")
            self.rbuf += b
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def read_frame(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        (n,) = struct.unpack(">i", self._recv_exact(4, deadline))
        return self._recv_exact(n, deadline)

    def expect_eof(self, timeout=None):
        """True if the server closes the connection (after any pending frames) before timeout."""
        try:
            while True:
                self.read_frame(timeout)
        except EOFError:
            return True
        except (TimeoutError, socket.timeout):
            return False

    # handshake
    def handshake(self, timeout_ms=30000, session_id=0, passwd=b"\x00" * 16, last_zxid=0, read_only=False):
        self.send_frame(
            jint(0) + jlong(last_zxid) + jint(timeout_ms) + jlong(session_id) + jbuf(passwd) + jbool(read_only)
        )
        raw = self.read_frame()
        r = Reader(raw)
        proto, to, sid, pw = r.int(), r.int(), r.long(), r.buffer()
        ro = r.bool() if r.remaining() >= 1 else None
        resp = ConnectResponse(proto, to, sid, pw, ro, raw)
        if to > 0:
            self.session_id, self.passwd, self.negotiated_timeout = sid, pw, to
        return resp

    # requests
    def send_request(self, op, body=b"", xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_frame(jint(xid) + jint(op) + body)
        return xid

    def read_message(self, timeout=None):
        """Next frame as ("event", WatchEvent, zxid) or ("reply", Reply)."""
        frame = self.read_frame(timeout)
        r = Reader(frame)
        xid, zxid, err = r.int(), r.long(), r.int()
        if xid == self.WATCH_XID:
            ev = WatchEvent(r.int(), r.int(), r.string())
            self.events.append(ev)
            return ("event", ev, zxid)
        if zxid > 0:
            self.last_zxid = max(self.last_zxid, zxid)
        return ("reply", Reply(xid, zxid, err, frame[r.off:], []))

    def call(self, op, body=b"", timeout=None, xid=None):
        xid = self.send_request(op, body, xid)
        before = []
        while True:
            kind, msg, *_ = self.read_message(timeout)
            if kind == "event":
                before.append(msg)
                continue
            if msg.xid == self.PING_XID and xid != self.PING_XID:
                continue
            assert msg.xid == xid, f"reply xid {msg.xid} != request xid {xid}"
            return msg._replace(events_before=before)

    def wait_events(self, n, timeout=10.0):
        """Read frames until n watch events (in total, since the last reset) have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"only {len(self.events)} of {n} events within {timeout}s: {self.events}")
            try:
                self.read_message(left)
            except (TimeoutError, socket.timeout):
                pass
        return self.events

    # convenience wrappers: return (err, value)
    def create(self, path, data=b"", flags=0, acl=OPEN_ACL):
        rep = self.call(self.CREATE, jstr(path) + jbuf(data) + jacl(acl) + jint(flags))
        return rep.err, (Reader(rep.body).string() if rep.err == 0 else None)

    def get_data(self, path, watch=False):
        rep = self.call(self.GET_DATA, jstr(path) + jbool(watch))
        if rep.err:
            return rep.err, None, None
        r = Reader(rep.body)
        return 0, r.buffer(), r.stat()

    def exists(self, path, watch=False):
        rep = self.call(self.EXISTS, jstr(path) + jbool(watch))
        return rep.err, (Reader(rep.body).stat() if rep.err == 0 else None)

    def set_data(self, path, data, version=-1):
        rep = self.call(self.SET_DATA, jstr(path) + jbuf(data) + jint(version))
        return rep.err, (Reader(rep.body).stat() if rep.err == 0 else None)

    def delete(self, path, version=-1):
        return self.call(self.DELETE, jstr(path) + jint(version)).err

    def get_children(self, path, watch=False):
        rep = self.call(self.GET_CHILDREN, jstr(path) + jbool(watch))
        if rep.err:
            return rep.err, None
        r = Reader(rep.body)
        return 0, sorted(r.string() for _ in range(r.int()))

    def add_watch(self, path, mode):
        return self.call(self.ADD_WATCH, jstr(path) + jint(mode)).err

    def set_watches(self, relative_zxid, data=(), exist=(), child=()):
        def vec(paths):
            return jint(len(paths)) + b"".join(jstr(p) for p in paths)

        body = jlong(relative_zxid) + vec(list(data)) + vec(list(exist)) + vec(list(child))
        return self.call(self.SET_WATCHES, body, xid=self.SET_WATCHES_XID)

    def ping(self):
        return self.call(self.PING, xid=self.PING_XID)

    def close_session(self):
        return self.call(self.CLOSE)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture
def raw(zk_server):
    """raw(addr=None, handshake=True, **handshake_kwargs) -> RawZk (closed after the test)."""
    conns = []

    def make(addr=None, handshake=True, **kw):
        c = RawZk(addr or zk_server.hosts)
        conns.append(c)
        if handshake:
            resp = c.handshake(**kw)
            assert resp.timeout > 0, f"handshake refused: {resp}"
        return c

    yield make
    for c in conns:
        if c.session_id:
            try:
                c.close_session()
            except Exception:
                pass
        c.close()


# --------------------------------------------------------------------------------------------
# TCP proxy


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the server.  ``freeze()`` black-holes every current
    connection (nothing more is forwarded either way, the sockets stay open) and makes new
    connections get closed at once; ``thaw()`` closes the black-holed connections and forwards
    new ones again; ``cut()`` closes every current connection (both sides) at once."""

    def __init__(self, upstream):
        self.upstream = split_addr(upstream)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.frozen = False
        self.closed = False
        self.lock = threading.Lock()
        self.pairs = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self):
        while not self.closed:
            try:
                down, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                frozen = self.frozen
            if frozen or self.closed:
                down.close()
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                down.close()
                continue
            pair = types.SimpleNamespace(
                down=down, up=up, blackholed=False, dead=False, wake=threading.Event()
            )
            with self.lock:
                self.pairs.append(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        socks = [pair.down, pair.up]
        try:
            while not pair.dead:
                if pair.blackholed:
                    # hold the sockets, forward nothing, until thaw()/cut()/close() kill the pair
                    pair.wake.wait()
                    continue
                r, _, _ = select.select(socks, [], [], 0.05)
                for s in r:
                    if pair.blackholed or pair.dead:
                        break
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
                    (pair.up if s is pair.down else pair.down).sendall(data)
        except (OSError, EOFError, ValueError):
            pass
        finally:
            self._kill(pair)

    def _kill(self, pair):
        pair.dead = True
        pair.wake.set()
        for s in (pair.down, pair.up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def freeze(self):
        with self.lock:
            self.frozen = True
            for p in self.pairs:
                p.blackholed = True

    def thaw(self):
        with self.lock:
            self.frozen = False
            victims = [p for p in self.pairs if p.blackholed]
            self.pairs = [p for p in self.pairs if not p.blackholed]
        for p in victims:
            self._kill(p)

    def cut(self):
        with self.lock:
            victims, self.pairs = self.pairs, []
        for p in victims:
            self._kill(p)

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass
        self.cut()


@pytest.fixture
def make_proxy(zk_server, make_client):
    # depends on make_client so that proxies are closed before the clients are stopped
    proxies = []

    def make(upstream=None):
        p = TcpProxy(upstream or zk_server.hosts)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


# --------------------------------------------------------------------------------------------
# helper namespace


@pytest.fixture(scope="session")
def h():
    return types.SimpleNamespace(
        Recorder=Recorder,
        RawZk=RawZk,
        Reader=Reader,
        wait_state=wait_state,
        four_letter=four_letter,
        jint=jint, jlong=jlong, jbool=jbool, jbuf=jbuf, jstr=jstr, jacl=jacl,
        OPEN_ACL=OPEN_ACL,
        KazooState=KazooState,
    )
