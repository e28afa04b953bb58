"""kill -9 the leader of a three-node ensemble under continuous kazoo writes, several times.

Measures, per run, the longest gap between two acknowledged writes and how long after the
kill writes resumed; checks that no acknowledged write is lost, that no session expires
(the writer's and a bystander's, both 10 s), and that a client that was connected to the
killed leader resumes the same session on another node with its ephemeral.

    .venv/bin/python tests/tools/failover.py --target zk-node --bin target/release/zk-node
    .venv/bin/python tests/tools/failover.py --target zookeeper   # ../shared/tools/zk-anchor.sh

Both targets run with tickTime 2000 and the same kazoo settings (10 s sessions, a reconnect
back-off of 50 ms growing to 500 ms). `tests/kazoo/test_ensemble_failover.py` runs a short
version of this in CI and asserts the same properties.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry

REPO = Path(__file__).resolve().parents[2]
ANCHOR = REPO.parent / "shared" / "tools" / "zk-anchor.sh"
SESSION_TIMEOUT_S = 10.0


def four_letter(port, word, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(word.encode())
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    return out.decode(errors="replace")
                out += b
    except OSError:
        return ""


def mode_of(port):
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip()
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ZkNodeEnsemble:
    """Three zk-node processes on loopback (tickTime 2000, as the reference)."""

    name = "zk-node"

    def __init__(self, binary, tick_ms=2000):
        self.binary = str(binary)
        self.tick_ms = tick_ms
        self.base = Path(tempfile.mkdtemp(prefix="failover-zknode-"))
        self.client_ports = [free_port() for _ in range(3)]
        self.peer_ports = [free_port() for _ in range(3)]
        self.peers = ",".join(f"{i + 1}=127.0.0.1:{p}" for i, p in enumerate(self.peer_ports))
        self.procs = [None, None, None]

    def start(self, i):
        log = open(self.base / f"n{i + 1}.log", "ab")
        self.procs[i] = subprocess.Popen(
            [
                self.binary,
                "--id", str(i + 1),
                "--peers", self.peers,
                "--peer-listen", f"127.0.0.1:{self.peer_ports[i]}",
                "--client-addr", f"127.0.0.1:{self.client_ports[i]}",
                "--data-dir", str(self.base / f"n{i + 1}"),
                "--tick-ms", str(self.tick_ms),
                "--max-connections-per-ip", "0",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        )

    def start_all(self):
        for i in range(3):
            self.start(i)

    def hosts(self):
        return [f"127.0.0.1:{p}" for p in self.client_ports]

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()
        self.procs[i] = None

    def restart_down(self):
        for i in range(3):
            if self.procs[i] is None:
                self.start(i)

    def stop(self):
        for p in self.procs:
            if p is not None:
                p.kill()
                p.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class AnchorEnsemble:
    """Apache ZooKeeper 3.8, three nodes, through ../shared/tools/zk-anchor.sh."""

    name = "zookeeper"

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="failover-zk-"))
        self.client_ports = [21811, 21812, 21813]

    def _anchor(self, *args):
        return subprocess.run(
            ["bash", str(ANCHOR), *args], check=True, capture_output=True, text=True
        ).stdout

    def start_all(self):
        self._anchor("start3", str(self.base))

    def hosts(self):
        return [f"127.0.0.1:{p}" for p in self.client_ports]

    def kill(self, i):
        pid = (self.base / f"n{i + 1}" / "pid").read_text().strip()
        os.kill(int(pid), signal.SIGKILL)

    def restart_down(self):
        self._anchor("restart-down", str(self.base))

    def stop(self):
        subprocess.run(["bash", str(ANCHOR), "stop", str(self.base)], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def wait_healthy(ens, deadline_s=60.0):
    """Until one node leads and the other two follow; the leader's index."""
    end = time.monotonic() + deadline_s
    while True:
        modes = [mode_of(p) for p in ens.client_ports]
        if modes.count("leader") == 1 and modes.count("follower") == 2:
            return modes.index("leader")
        if time.monotonic() > end:
            raise RuntimeError(f"{ens.name}: no healthy ensemble: {modes}")
        time.sleep(0.05)  # polling processes


def client(hosts, expired):
    retry = KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5, max_jitter=0.0)
    c = KazooClient(
        hosts=",".join(hosts), timeout=SESSION_TIMEOUT_S, randomize_hosts=False,
        connection_retry=retry, command_retry=None,
    )
    c.add_listener(lambda state: expired.set() if state == KazooState.LOST else None)
    c.start(timeout=20)
    return c


def one_run(ens, run, log=print):
    """One kill -9 of the leader; returns a dict of measurements (raises on a violation)."""
    leader = wait_healthy(ens)
    hosts = ens.hosts()
    others = [h for i, h in enumerate(hosts) if i != leader]
    expired = threading.Event()
    # The writer may be anywhere; the bystander sits on the leader with an ephemeral.
    writer = client(others + [hosts[leader]], expired)
    bystander = client([hosts[leader]] + others, expired)
    try:
        writer.ensure_path("/failover")
        eph = f"/failover/eph-{run}"
        bystander.create(eph, b"mine", ephemeral=True)
        session = bystander.client_id[0]
        acked = []  # (monotonic time, path)
        stop = threading.Event()
        connected = threading.Event()
        connected.set()

        def on_state(state):
            (connected.set if state == KazooState.CONNECTED else connected.clear)()

        writer.add_listener(on_state)

        def write_loop():
            while not stop.is_set():
                try:
                    path = writer.create(f"/failover/r{run}-", b"x", sequence=True)
                    acked.append((time.monotonic(), path))
                except Exception:  # ConnectionLoss & co: the write may or may not exist
                    connected.wait(timeout=1.0)

        t = threading.Thread(target=write_loop, daemon=True)
        t.start()
        end = time.monotonic() + 20.0
        while len(acked) < 50:
            if time.monotonic() > end:
                raise AssertionError(f"{ens.name}: fewer than 50 writes in 20 s before the kill")
            time.sleep(0.01)  # letting the load run
        killed_at = time.monotonic()
        ens.kill(leader)
        end = killed_at + 20.0
        while sum(1 for a in acked if a[0] > killed_at) < 50:
            if time.monotonic() > end:
                raise AssertionError(f"{ens.name}: writes did not resume within 20 s")
            time.sleep(0.01)
        stop.set()
        t.join(timeout=15)
        times = [a[0] for a in acked]
        gaps = [b - a for a, b in zip(times, times[1:])]
        resumed = min(a[0] for a in acked if a[0] > killed_at) - killed_at
        # The bystander was on the killed node: same session elsewhere, ephemeral kept.
        t0 = time.monotonic()
        while bystander.state != KazooState.CONNECTED:
            if time.monotonic() - t0 > 20:
                raise AssertionError("the bystander never reconnected")
            time.sleep(0.01)
        if bystander.client_id[0] != session:
            raise AssertionError("the bystander got a new session")
        if bystander.exists(eph) is None:
            raise AssertionError("the bystander's ephemeral is gone")
        writer.sync("/failover")
        present = set(writer.get_children("/failover"))
        lost = [p for _, p in acked if p.rsplit("/", 1)[1] not in present]
        if lost:
            raise AssertionError(f"acknowledged writes lost: {lost[:10]}")
        if expired.is_set():
            raise AssertionError("a session expired")
        result = {
            "target": ens.name,
            "run": run,
            "longest_gap_ms": round(max(gaps) * 1000, 1),
            "resumed_after_kill_ms": round(resumed * 1000, 1),
            "acked": len(acked),
        }
        log(json.dumps(result))
        return result
    finally:
        writer.stop()
        writer.close()
        bystander.stop()
        bystander.close()
        ens.restart_down()


def measure(ens, runs, log=print):
    ens.start_all()
    try:
        return [one_run(ens, r, log) for r in range(runs)]
    finally:
        ens.stop()


def summary(results):
    gaps = [r["longest_gap_ms"] for r in results]
    resumed = [r["resumed_after_kill_ms"] for r in results]
    return {
        "target": results[0]["target"],
        "runs": len(results),
        "gap_median_ms": statistics.median(gaps),
        "gap_max_ms": max(gaps),
        "resumed_median_ms": statistics.median(resumed),
        "resumed_max_ms": max(resumed),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", choices=["zk-node", "zookeeper", "both"], default="both")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "zk-node"))
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    summaries = []
    targets = ["zk-node", "zookeeper"] if args.target == "both" else [args.target]
    for target in targets:
        ens = ZkNodeEnsemble(args.bin) if target == "zk-node" else AnchorEnsemble()
        summaries.append(summary(measure(ens, args.runs)))
    for s in summaries:
        print(json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
