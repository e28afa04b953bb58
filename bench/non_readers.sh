#!/usr/bin/env bash
# bench/non_readers.sh — issue 18's slow-reader benchmark: zk-bench's `non-readers` workload
# against a three-node zk-node ensemble and a three-node Apache ZooKeeper 3.8 in the same run.
#
#   bash bench/non_readers.sh                 # 2 rounds of: 1 and 60 clients, on a follower
#                                             # and on the leader (~7 min)
#   bash bench/non_readers.sh --rounds 3 --clients "1 60" --on follower
#
# Each measurement: a fresh ensemble (ZooKeeper via zk-anchor.sh start3, tickTime 2000; zk-node
# via compare.sh's __start-zknode, --tick-ms 2000), then
#   zk-bench --servers FIRST,SECOND,THIRD non-readers --clients N --requests 3000
#            --value-size 102400 --session-timeout-ms 4000 --readers 4 --in-flight 1
#            --warmup 2 --duration 3 --watch-pids PIDS
# (FIRST is the member under test, a follower or the leader as --on says; every silent
# connection and every reader goes to it; the readers' getData latency,
# the nodes' RSS before/peak/after, and each silent connection's close after its session's
# timeout), then the ensemble is stopped. ZooKeeper and zk-node alternate, so they never run at
# the same time. ZooKeeper's fixed ports are shared: its whole start-measure-stop runs under
# `flock /tmp/zk-ports.lock`.
#
# Options: --rounds N (default 2), --clients "LIST" (default "1 60"), --on "ROLES" (the member
# under test: "follower", "leader" or both, default "follower leader"), --out FILE (the summary,
# markdown; default WORK/summary.md), --keep (keep data dirs).
# Env: CARGO_TARGET_DIR (release builds of zk-node and zk-bench), BENCH_JOBS (cargo -j,
# default 2), ZK_ANCHOR (default <repo>/../shared/tools/zk-anchor.sh), ZK_HEAP_MB (ZooKeeper's
# -Xmx, zk-anchor's default 1000).
# Writes WORK/results.jsonl (one zk-bench JSON line per measurement) and the summary.
set -uo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
ANCHOR=${ZK_ANCHOR:-$REPO/../shared/tools/zk-anchor.sh}
COMPARE=$REPO/bench/compare.sh
LOCK=/tmp/zk-ports.lock

die() { echo "non_readers: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

fourlw() { # PORT CMD
  timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1; printf %s '"$2"' >&3; cat <&3' 2>/dev/null
}

# One measurement: start SYS in DIR, run zk-bench, stop; the JSON line goes to RESULTS.
# Internal entry point, so ZooKeeper's part can run whole under flock.
one() { # SYS DIR CLIENTS ROUND ROLE
  local sys=$1 dir=$2 clients=$3 round=$4 role=$5 hosts pids port mode line rc h first="" rest=""
  case $sys in
    zookeeper)
      bash "$ANCHOR" start3 "$dir" >&2 || { bash "$ANCHOR" stop "$dir" >&2; return 1; }
      hosts=$(bash "$ANCHOR" hosts "$dir"); pids=$(bash "$ANCHOR" pids "$dir") ;;
    zk-node)
      bash "$COMPARE" __start-zknode "$dir" "$ZK_NODE" || { bash "$COMPARE" __stop-zknode "$dir"; return 1; }
      hosts=127.0.0.1:22811,127.0.0.1:22812,127.0.0.1:22813
      pids=$(bash "$COMPARE" __pids-zknode "$dir") ;;
  esac
  # The member under test first (the ensemble is settled: its start waited for one leader).
  for h in ${hosts//,/ }; do
    mode=$(fourlw "${h##*:}" srvr | sed -n 's/^Mode: //p')
    if [ -z "$first" ] && [ "$mode" = "$role" ]; then first=$h; else rest="$rest,$h"; fi
  done
  if [ -z "$first" ]; then
    log "!! $sys r$round: no $role found"
    first=${hosts%%,*}; rest=,${hosts#*,}
  fi
  hosts=$first$rest
  port=${first##*:}
  mode=$(fourlw "$port" srvr | sed -n 's/^Mode: //p')
  line=$(timeout 300 "$ZK_BENCH" --servers "$hosts" --json --quiet \
    --tag "system=$sys" --tag "round=$round" --tag "first_mode=${mode:-unknown}" \
    --tag "first=$first" \
    --watch-pids "$pids" non-readers --clients "$clients" --requests 3000 \
    --value-size 102400 --session-timeout-ms 4000 --readers 4 --in-flight 1 \
    --warmup 2 --duration 3 2>>"$WORK/zk-bench.stderr")
  rc=$?
  # Which nodes are still alive (ZooKeeper may die of an OutOfMemoryError: zk-anchor runs it
  # with -XX:OnOutOfMemoryError=kill -9).
  local alive
  case $sys in
    zookeeper) alive=$(bash "$ANCHOR" pids "$dir"); bash "$ANCHOR" stop "$dir" >&2 ;;
    zk-node) alive=$(bash "$COMPARE" __pids-zknode "$dir"); bash "$COMPARE" __stop-zknode "$dir" ;;
  esac
  rm -rf "$dir"/n*/data
  if [ $rc != 0 ] || [ -z "$line" ]; then
    echo "$sys r$round clients=$clients: zk-bench exit $rc" >>"$WORK/failures"
    log "!! $sys r$round $clients clients: zk-bench exit $rc (see $WORK/zk-bench.stderr)"
    return 0
  fi
  [ "$alive" = "$pids" ] || line="${line%\}},\"alive_after\":\"$alive\",\"pids\":\"$pids\"}"
  echo "$line" >>"$RESULTS"
  log "   $sys r$round $clients clients (on $first, $mode): $(summary_line "$line")"
}

summary_line() { # JSON-LINE
  python3 - "$1" <<'EOF'
import json, sys
v = json.loads(sys.argv[1])
mib = lambda k: k / 1024
print("RSS growth max %.1f MiB, peak max %.1f MiB; closed %s of %s, %s ms past the timeout (median, max %s); readers p50 %.2f p99 %.2f ms (worst second %.2f), errors %d" % (
    mib(v.get("rss_growth_kib_max", 0)), mib(v.get("rss_peak_kib_max", 0)),
    v.get("non_readers_closed"), v.get("non_readers_connected"),
    v.get("close_after_timeout_ms_median"), v.get("close_after_timeout_ms_max"),
    v["p50_us"] / 1000, v["p99_us"] / 1000, v.get("worst_second_p99_us", 0) / 1000, v["failed"]))
EOF
}

if [ "${1:-}" = __one ]; then
  shift
  WORK=$1 RESULTS=$1/results.jsonl ZK_NODE=$2 ZK_BENCH=$3; shift 3
  one "$@"
  exit $?
fi

ROUNDS=2
CLIENTS="1 60"
ROLES="follower leader"
OUT=""
KEEP=0
ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --on) ROLES=$2; shift ;;
    --out) OUT=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,27p' "$SELF"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
for c in $CLIENTS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "--clients takes positive integers"; done
for o in $ROLES; do [[ $o =~ ^(follower|leader)$ ]] || die "--on takes follower and/or leader"; done
[ -f "$ANCHOR" ] || die "zk-anchor.sh not found at $ANCHOR (set ZK_ANCHOR)"
[ -f /usr/share/java/zookeeper.jar ] || die "Debian's zookeeper package is not installed"
command -v python3 >/dev/null || die "python3 is needed for the summary"

TARGET=${CARGO_TARGET_DIR:-$REPO/target}
log "building zk-node and zk-bench (release) into $TARGET"
(cd "$REPO" && cargo build --release -j "${BENCH_JOBS:-2}" -p zk-node -p zk-bench) || die "cargo build failed"
ZK_NODE=$TARGET/release/zk-node
ZK_BENCH=$TARGET/release/zk-bench
for b in "$ZK_NODE" "$ZK_BENCH"; do [ -x "$b" ] || die "missing $b"; done

WORK=$(mktemp -d /tmp/zk-nonreaders.XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
[ -n "$OUT" ] || OUT=$WORK/summary.md
cleanup() {
  local d
  trap - EXIT INT TERM
  for d in "$WORK"/zk-*; do [ -d "$d" ] && flock "$LOCK" bash "$ANCHOR" stop "$d" >/dev/null 2>&1; done
  for d in "$WORK"/zkn-*; do [ -d "$d" ] && bash "$COMPARE" __stop-zknode "$d"; done
  [ $KEEP = 1 ] || rm -rf "$WORK"/zk-*/n*/data "$WORK"/zkn-*/n*/data
  echo "non_readers: results and logs in $WORK" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= ROUNDS; r++)); do
  for o in $ROLES; do
    for c in $CLIENTS; do
      log "== round $r, $c client(s) on a $o: ZooKeeper"
      flock "$LOCK" bash "$SELF" __one "$WORK" "$ZK_NODE" "$ZK_BENCH" zookeeper "$WORK/zk-r$r-$o-c$c" "$c" "$r" "$o" \
        || log "!! ZooKeeper did not start (r$r, $c clients)"
      log "== round $r, $c client(s) on a $o: zk-node"
      bash "$SELF" __one "$WORK" "$ZK_NODE" "$ZK_BENCH" zk-node "$WORK/zkn-r$r-$o-c$c" "$c" "$r" "$o" \
        || log "!! zk-node did not start (r$r, $c clients)"
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

cmd="bash bench/non_readers.sh"
for a in "${ARGS[@]}"; do cmd="$cmd '${a//\'/\'\\\'\'}'"; done
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
zk_version=$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo unknown)
python3 - "$RESULTS" "$cmd" "$commit" "$zk_version" "${ZK_HEAP_MB:-1000}" "$LOAD_START" "$LOAD_END" \
  "$((SECONDS - START))" "$(nproc)" >"$OUT" <<'EOF'
import json, sys
results, cmd, commit, zkv, heap, l0, l1, wall, cpus = sys.argv[1:]
rows = [json.loads(l) for l in open(results) if l.strip()]
mib = lambda k: "%.1f" % (k / 1024) if k is not None else "-"
ms = lambda v: "%.0f" % v if v is not None else "-"
print("Command: `%s` at %s; Apache ZooKeeper %s (zk-anchor.sh: tickTime 2000, -Xmx%sm), "
      "zk-node release build (--tick-ms 2000); %s CPUs; load average (1, 5, 15 min) %s at the "
      "start, %s at the end; wall time %s s.\n" % (cmd, commit, zkv, heap, cpus, l0, l1, wall))
print("| system | round | silent clients | node under test | RSS MiB base / peak / after (node with the largest growth) | growth MiB | largest peak MiB | closed | close after the timeout ms (median, max) | readers' getData p50 / p99 / worst second's p99 / max ms | reader errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for v in sorted(rows, key=lambda v: (v["clients"], v["tags"].get("first_mode", ""), v["tags"].get("system", ""), v["tags"].get("round", ""))):
    ph = max(v.get("rss_phases", []), key=lambda p: p["peak_kib"] - p["baseline_kib"], default=None)
    rss = "%s / %s / %s" % (mib(ph["baseline_kib"]), mib(ph["peak_kib"]), mib(ph.get("after_kib")) if ph.get("after_kib") is not None else "gone") if ph else "-"
    errs = ", ".join("%s %d" % kv for kv in v.get("errors", {}).items()) or "0"
    alive = v.get("alive_after")
    note = "" if alive is None else " (alive after: %s of %s)" % (alive or "none", v.get("pids"))
    print("| %s | %s | %d | %s | %s | %s | %s | %s of %s (%s) | %s, %s | %.2f / %.2f / %.2f / %.2f | %s%s |" % (
        v["tags"].get("system"), v["tags"].get("round"), v["clients"], v["tags"].get("first_mode"),
        rss, mib(v.get("rss_growth_kib_max")), mib(v.get("rss_peak_kib_max")),
        v.get("non_readers_closed"), v.get("non_readers_connected"),
        ", ".join("%s %d" % kv for kv in (v.get("close_seen_by") or {}).items()),
        ms(v.get("close_after_timeout_ms_median")), ms(v.get("close_after_timeout_ms_max")),
        v["p50_us"] / 1000, v["p99_us"] / 1000, v.get("worst_second_p99_us", 0) / 1000,
        v["max_us"] / 1000, errs, note))
EOF
if [ -s "$WORK/failures" ]; then
  echo >>"$OUT"
  echo "Failed measurements: $(tr '\n' ';' <"$WORK/failures")" >>"$OUT"
fi
cat "$OUT"
log "done in $((SECONDS - START)) s: $OUT"
