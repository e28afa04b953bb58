#!/usr/bin/env bash
# bench/profile.sh — where a three-node zk-node ensemble spends its CPU under one zk-bench load.
#
#   bash bench/profile.sh set                 # 32 clients x 16 in flight, 100 B, 10 s
#   bash bench/profile.sh create --seconds 6 --clients 8 --in-flight 1
#
# Starts the ensemble of bench/compare.sh (same ports, flags and fsync) with a zk-node built
# with frame pointers (its own target dir, <target>/fp), warms up for 2 s, then samples every
# node with `perf record -e cpu-clock -g` (software clock: no hardware counters needed; frame
# pointers: cheap enough not to change what it measures, unlike dwarf unwinding) while zk-bench
# runs, and prints per node where the CPU went in a few buckets (bench/profile_buckets.py:
# sled's I/O pool, the flush thread, replication, the gRPC server, Raft's core, apply, client
# connections, ...), the top functions by self and by inclusive time, the CPU each node used
# and the throughput. glibc has no frame pointers: time in malloc/free and in system calls
# whose callers are lost lands in "other". perf.data files stay in the work dir (--keep-dir
# DIR; default a temp dir, removed).
# Options: --seconds N (default 10), --clients N (32), --in-flight N (16), --value-size B (100),
# --fill N (first create N znodes, unmeasured, as compare.sh's fill does before its windows:
# what a write costs on a large tree; default 0), --top N (25), --keep-dir DIR, and any other
# zk-bench flag after `--`.
# Env: ZK_NODE (another zk-node binary to profile), CARGO_TARGET_DIR.
# Needs: perf (Debian's linux-perf; installed if missing), a release build (built here).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPARE=$REPO/bench/compare.sh
die() { echo "profile: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: profile.sh WORKLOAD [--seconds N] [--clients N] [--in-flight N] [-- zk-bench flags]"
WORKLOAD=$1; shift
SECS=10 CLIENTS=32 INFLIGHT=16 VALUE=100 TOP=25 KEEP="" FILL=0
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --in-flight) INFLIGHT=$2; shift ;;
    --value-size) VALUE=$2; shift ;;
    --top) TOP=$2; shift ;;
    --fill) FILL=$2; shift ;;
    --keep-dir) KEEP=$2; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
  shift
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
command -v perf >/dev/null || as_root apt-get install -y -qq linux-perf >/dev/null || die "no perf"
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
(cd "$REPO" && cargo build --release -q -p zk-node -p zk-bench) || die "cargo build failed"
if [ -z "${ZK_NODE:-}" ]; then
  (cd "$REPO" && CARGO_TARGET_DIR=$TARGET/fp RUSTFLAGS="-C force-frame-pointers=yes" \
    cargo build --release -q -p zk-node) || die "cargo build (frame pointers) failed"
  ZK_NODE=$TARGET/fp/release/zk-node
fi

WORK=${KEEP:-$(mktemp -d /tmp/zkn-profile.XXXXXX)}
mkdir -p "$WORK"
cleanup() {
  bash "$COMPARE" __stop-zknode "$WORK" >/dev/null 2>&1
  [ -n "$KEEP" ] || rm -rf "$WORK"
}
trap cleanup EXIT

bash "$COMPARE" __start-zknode "$WORK" "$ZK_NODE" || die "ensemble did not start"
PIDS=$(bash "$COMPARE" __pids-zknode "$WORK")
HOSTS=127.0.0.1:22811,127.0.0.1:22812,127.0.0.1:22813

if [ "$FILL" -gt 0 ]; then
  "$TARGET/release/zk-bench" fill --servers "$HOSTS" --spread --clients 32 --in-flight 16 \
    --value-size "$VALUE" --count "$FILL" >"$WORK/fill.txt" 2>&1 || { cat "$WORK/fill.txt"; die "fill failed"; }
  echo "fill: $FILL znodes created"
fi

"$TARGET/release/zk-bench" "$WORKLOAD" --servers "$HOSTS" --spread --clients "$CLIENTS" \
  --in-flight "$INFLIGHT" --value-size "$VALUE" --warmup 2 --duration $((SECS + 1)) \
  --watch-pids "$PIDS" "${EXTRA[@]}" >"$WORK/bench.txt" 2>&1 &
BENCH=$!
sleep 2.5 # the bench's warm-up; perf starts inside the measured window

PERFS=()
i=0
for pid in ${PIDS//,/ }; do
  i=$((i + 1))
  perf record -q -e cpu-clock -F 499 -g -p "$pid" \
    -o "$WORK/n$i.perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
  PERFS+=($!)
done
wait "${PERFS[@]}"
wait "$BENCH"
cat "$WORK/bench.txt"

i=0
for pid in ${PIDS//,/ }; do
  i=$((i + 1))
  mode=$(bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$((22810 + i))"'; printf srvr >&3; cat <&3' 2>/dev/null | sed -n 's/^Mode: //p')
  echo
  echo "=== node $i (pid $pid, $mode): where the CPU went ==="
  perf script -i "$WORK/n$i.perf.data" 2>/dev/null | python3 "$REPO/bench/profile_buckets.py"
  echo "--- node $i: self time ---"
  perf report -i "$WORK/n$i.perf.data" --no-children --stdio --sort symbol -g none \
    --percent-limit 0.7 2>/dev/null | grep -E '^ +[0-9]' | head -"$TOP"
  echo "--- node $i: inclusive time ---"
  perf report -i "$WORK/n$i.perf.data" --children --stdio --sort symbol -g none \
    --percent-limit 3 2>/dev/null | grep -E '^ +[0-9]' | head -"$TOP"
done
