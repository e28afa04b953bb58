#!/usr/bin/env python3
"""Where a zk-node's CPU goes, in a few buckets, from `perf script` output on stdin.

Each sample is put in the first bucket whose rule matches its thread name or any frame of its
call stack (rules in order; the stack is searched from the root, so a sample inside, say,
sled code called by openraft's core counts as sled only where sled's own thread runs it).
Prints one line per bucket: share of the samples and the count. Used by bench/profile.sh.
"""

import re
import sys

# (bucket, thread-name regex or None, frame regex or None); the first match wins.
RULES = [
    # sled holds only the cluster-meta and snapshot records now: any sled bucket under a write
    # load is a defect (docs/storage.md).
    ("sled I/O thread pool (sled-io-*: buffer writes, wake-ups)", r"^sled-io", None),
    ("sled metadata sync thread (snapshot records)", r"^raft-meta-sync", None),
    ("log sync thread (pwrite + fdatasync of the WAL)", r"^raft-log-sync", None),
    ("snapshot encoding (blocking threads)", None, r"snapshot|Snapshot"),
    ("openraft replication + gRPC client (AppendEntries out)", None,
     r"ReplicationCore|grpc::client|grpc::inflight|hyper::proto::h2::client|h2::client"),
    ("gRPC server (peer RPCs in: appends, forwarding)", None,
     r"tonic::transport::server|hyper::proto::h2::server|grpc::server|grpc::forward_in"),
    ("openraft core (log append, commit, apply dispatch)", None, r"RaftCore"),
    ("state machine apply + apply hook", None, r"core::sm::worker|state_machine|zk_node::hub"),
    ("client connections (decode, reads, pipeline, replies)", None,
     r"zk_node::connection|zk_node::server|zk_node::request"),
    ("forwarding to the leader (follower side)", None, r"forward_out|submitter"),
    ("tokio scheduler idle/park", None, r"park_internal|Driver::park|epoll_wait"),
]


def classify(comm, frames):
    for bucket, thread_re, frame_re in RULES:
        if thread_re and re.search(thread_re, comm):
            return bucket
        if frame_re and any(re.search(frame_re, f) for f in frames):
            return bucket
    return "other (runtime, timers, allocator, kernel entry)"


def samples(lines):
    comm, frames = None, []
    for line in lines:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line.startswith((" ", "\t")):
            comm = line.split()[0]
        else:
            parts = line.split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
    if comm is not None:
        yield comm, frames


def main():
    counts = {}
    total = 0
    for comm, frames in samples(sys.stdin):
        # perf lists the leaf first; search from the root.
        b = classify(comm, list(reversed(frames)))
        counts[b] = counts.get(b, 0) + 1
        total += 1
    if total == 0:
        print("  (no samples)")
        return
    for b, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {100.0 * n / total:5.1f}%  {n:6d}  {b}")


if __name__ == "__main__":
    main()
