#!/usr/bin/env bash
# bench/compare.sh — zk-node against Apache ZooKeeper 3.8 with the same load generator
# (zk-bench), three nodes each on loopback, and writes docs/benchmarks.md + docs/benchmarks.png.
#
#   bash bench/compare.sh            # full: 3 rounds, 8 s windows, 100k-znode fill, 10 kills (~20 min)
#   bash bench/compare.sh --quick    # smoke: 1 round, 2 s windows, 10k fill, 1 kill (~2-3 min)
#
# Options: --rounds N, --out-dir DIR (default <repo>/docs), --note TEXT (printed on top of the
# page, e.g. that the machine was busy), --keep (keep the work dir with data and logs).
# Env: CARGO_TARGET_DIR (release builds of zk-node and zk-bench go there; default
# <repo>/target), BENCH_JOBS (cargo -j, default 2), ZK_ANCHOR (default
# <repo>/../shared/tools/zk-anchor.sh), ZK_HEAP_MB (ZooKeeper's -Xmx, zk-anchor's default 1000).
#
# What it does, per round: start ZooKeeper (zk-anchor.sh start3: tickTime 2000, forceSync=yes),
# run every workload, stop it; then start zk-node (three processes, --tick-ms 2000; it flushes
# its log to disk on every write), run the same workloads, stop it. The two never run at the same
# time, so they do not compete for the cores; the data dirs are fresh each round. zk-bench
# reads utime+stime of the three server processes and of itself from /proc over each measured
# window (--watch-pids) and each node's VmRSS after the fill. Every result is one JSON line in
# WORK/results.jsonl; zk-bench-report turns them into the page and the chart. The failover
# fault is `zk-anchor.sh kill-leader` for ZooKeeper and this script's own
# `__kill-leader-zknode DIR` for zk-node (srvr on each node, kill -9 of the one in Mode: leader).
# Needs: bash, cargo, and Debian's zookeeper + a Java runtime + fonts-dejavu-core (installed
# here with apt-get if missing; root or passwordless sudo).
set -uo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
ANCHOR=${ZK_ANCHOR:-$REPO/../shared/tools/zk-anchor.sh}
ZKN_CLIENT_PORTS=(0 22811 22812 22813)
ZKN_PEER_PORTS=(0 22888 22889 22890)
TICK_MS=2000
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

die() { echo "compare: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

fourlw() { # PORT CMD -> reply (empty on failure)
  timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1; printf %s '"$2"' >&3; cat <&3' 2>/dev/null
}
mode_of() { fourlw "$1" srvr | sed -n 's/^Mode: //p'; }

# ---------------------------------------------------------------- zk-node ensemble (DIR)
zkn_pid() { # DIR N -> pid if alive and ours
  local f=$1/n$2/pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--data-dir $1/n$2/data" || return 1
  echo "$pid"
}

zkn_launch() { # DIR N
  local dir=$1 i=$2 peers="" k
  for k in 1 2 3; do peers="$peers${peers:+,}$k=127.0.0.1:${ZKN_PEER_PORTS[$k]}"; done
  mkdir -p "$dir/n$i"
  rm -f "$dir/n$i/pid"
  # setsid: its own session; the inner bash writes its pid, then execs zk-node (as zk-anchor.sh).
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/n$i/pid" \
    "$ZK_NODE" --id "$i" --peers "$peers" \
    --peer-listen "127.0.0.1:${ZKN_PEER_PORTS[$i]}" \
    --client-addr "127.0.0.1:${ZKN_CLIENT_PORTS[$i]}" \
    --data-dir "$dir/n$i/data" --tick-ms "$TICK_MS" --max-connections-per-ip 0 \
    --log-level warn >>"$dir/n$i/log" 2>&1 </dev/null &
  disown $! 2>/dev/null # no "Killed" notice from this shell when the fault kills it
  local t=0
  while [ ! -s "$dir/n$i/pid" ] && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
}

zkn_wait_ready() { # DIR
  local dir=$1 deadline=$((SECONDS + 60)) i leaders followers modes
  while [ $SECONDS -lt $deadline ]; do
    leaders=0; followers=0; modes=""
    for i in 1 2 3; do
      zkn_pid "$dir" "$i" >/dev/null || die "zk-node $i died; see $dir/n$i/log"
      m=$(mode_of "${ZKN_CLIENT_PORTS[$i]}")
      modes="$modes ${ZKN_CLIENT_PORTS[$i]}:${m:-?}"
      case $m in leader) leaders=$((leaders + 1)) ;; follower) followers=$((followers + 1)) ;; esac
    done
    if [ $leaders = 1 ] && [ $followers = 2 ]; then echo "ready:$modes" >&2; return 0; fi
    sleep 0.2
  done
  die "zk-node ensemble not ready after 60 s:$modes"
}

zkn_start() { # DIR
  local i
  for i in 1 2 3; do
    if fourlw "${ZKN_CLIENT_PORTS[$i]}" ruok | grep -q imok; then
      die "port ${ZKN_CLIENT_PORTS[$i]} already serves something; stop it first"
    fi
  done
  for i in 1 2 3; do zkn_launch "$1" "$i"; done
  zkn_wait_ready "$1"
}

zkn_restart_down() { # DIR
  local i
  for i in 1 2 3; do zkn_pid "$1" "$i" >/dev/null || zkn_launch "$1" "$i"; done
  zkn_wait_ready "$1"
}

zkn_stop() { # DIR
  local i pid t
  for i in 1 2 3; do
    if pid=$(zkn_pid "$1" "$i"); then
      kill -TERM "$pid" 2>/dev/null
      t=0
      while kill -0 "$pid" 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$1/n$i/pid"
  done
}

zkn_kill_leader() { # DIR -> "nN PORT PID"
  local i pid
  for i in 1 2 3; do
    pid=$(zkn_pid "$1" "$i") || continue
    if [ "$(mode_of "${ZKN_CLIENT_PORTS[$i]}")" = leader ]; then
      kill -KILL "$pid"
      echo "n$i ${ZKN_CLIENT_PORTS[$i]} $pid"
      return 0
    fi
  done
  echo "no leader found" >&2
  return 1
}

zkn_pids() { # DIR -> comma-separated
  local i out="" pid
  for i in 1 2 3; do pid=$(zkn_pid "$1" "$i") && out="$out${out:+,}$pid"; done
  echo "$out"
}

# Internal entry points: zk-bench's --fault-cmd, and the ensembles of bench/profile.sh and
# bench/ab.sh.
case "${1:-}" in
  __kill-leader-zknode) zkn_kill_leader "$2"; exit $? ;;
  __start-zknode) ZK_NODE=$3; zkn_start "$2"; exit $? ;;
  __restart-down-zknode) ZK_NODE=$3; zkn_restart_down "$2"; exit $? ;;
  __stop-zknode) zkn_stop "$2"; exit $? ;;
  __pids-zknode) zkn_pids "$2"; exit $? ;;
esac

# ---------------------------------------------------------------- options
MODE=full
ROUNDS=""
OUT_DIR=$REPO/docs
NOTE=""
KEEP=0
ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --quick) MODE=quick ;;
    --rounds) ROUNDS=$2; shift ;;
    --out-dir) OUT_DIR=$2; shift ;;
    --note) NOTE=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,24p' "$SELF"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

if [ $MODE = quick ]; then
  : "${ROUNDS:=1}"; DUR=2; WARM=0.5; FILL=10000; EPH_ROUNDS=2; KILLS=1; FO_AT=1.5; FO_DUR=5
else
  : "${ROUNDS:=3}"; DUR=8; WARM=2; FILL=100000; EPH_ROUNDS=5; KILLS=10; FO_AT=2; FO_DUR=8
fi
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"

# ---------------------------------------------------------------- prerequisites
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
need=()
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper zookeeper-bin)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
[ -f "$FONT" ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  as_root apt-get update -q || die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" || die "apt-get install failed"
fi
[ -f "$ANCHOR" ] || die "zk-anchor.sh not found at $ANCHOR (set ZK_ANCHOR)"

TARGET=${CARGO_TARGET_DIR:-$REPO/target}
log "building zk-node, zk-bench and zk-bench-report (release) into $TARGET"
(cd "$REPO" && cargo build --release -j "${BENCH_JOBS:-2}" -p zk-node -p zk-bench) || die "cargo build failed"
ZK_NODE=$TARGET/release/zk-node
ZK_BENCH=$TARGET/release/zk-bench
ZK_REPORT=$TARGET/release/zk-bench-report
for b in "$ZK_NODE" "$ZK_BENCH" "$ZK_REPORT"; do [ -x "$b" ] || die "missing $b"; done

WORK=$(mktemp -d /tmp/zk-compare.XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
CURRENT_SYS=""
CURRENT_DIR=""

cleanup() {
  local d
  trap - EXIT INT TERM
  for d in "$WORK"/zk-r*; do [ -d "$d" ] && bash "$ANCHOR" stop "$d" >/dev/null 2>&1; done
  for d in "$WORK"/zkn-r*; do [ -d "$d" ] && zkn_stop "$d"; done
  if [ $KEEP = 1 ]; then
    echo "compare: work dir kept: $WORK" >&2
  else
    # Keep the results and logs, drop the data.
    rm -rf "$WORK"/zk-r*/n*/data "$WORK"/zkn-r*/n*/data
    echo "compare: results and logs in $WORK" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- one system
sys_start() { # SYS DIR
  CURRENT_SYS=$1; CURRENT_DIR=$2
  case $1 in
    zookeeper) bash "$ANCHOR" start3 "$2" >&2 || die "ZooKeeper did not start (logs in $2)"
               HOSTS=$(bash "$ANCHOR" hosts "$2") ;;
    zk-node) zkn_start "$2"
             HOSTS="127.0.0.1:${ZKN_CLIENT_PORTS[1]},127.0.0.1:${ZKN_CLIENT_PORTS[2]},127.0.0.1:${ZKN_CLIENT_PORTS[3]}" ;;
  esac
}
sys_stop() {
  case $CURRENT_SYS in
    zookeeper) bash "$ANCHOR" stop "$CURRENT_DIR" >&2 ;;
    zk-node) zkn_stop "$CURRENT_DIR" ;;
  esac
}
sys_pids() {
  case $CURRENT_SYS in
    zookeeper) bash "$ANCHOR" pids "$CURRENT_DIR" ;;
    zk-node) zkn_pids "$CURRENT_DIR" ;;
  esac
}
sys_fault_cmd() {
  case $CURRENT_SYS in
    zookeeper) echo "bash '$ANCHOR' kill-leader '$CURRENT_DIR'" ;;
    zk-node) echo "bash '$SELF' __kill-leader-zknode '$CURRENT_DIR'" ;;
  esac
}
sys_restart_down() {
  case $CURRENT_SYS in
    zookeeper) bash "$ANCHOR" restart-down "$CURRENT_DIR" >&2 || die "ZooKeeper did not come back" ;;
    zk-node) zkn_restart_down "$CURRENT_DIR" ;;
  esac
}

field() { # JSON-LINE NAME -> value (numbers and strings; no jq needed)
  sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[-0-9.e]*\).*/\1/p" <<<"$1" | head -1
}

run_bench() { # ROUND FIGURE ZK-BENCH-ARGS...
  local round=$1 figure=$2 line rc limit=600 pids watch=()
  shift 2
  pids=$(sys_pids)
  [ -n "$pids" ] && watch=(--watch-pids "$pids")
  line=$(timeout "$limit" "$ZK_BENCH" --servers "$HOSTS" --json --quiet \
    --tag "system=$CURRENT_SYS" --tag "round=$round" --tag "figure=$figure" \
    "${watch[@]}" "$@" 2>>"$WORK/zk-bench.stderr")
  rc=$?
  if [ $rc != 0 ] || [ -z "$line" ]; then
    log "!! $CURRENT_SYS r$round $figure: zk-bench exit $rc (see $WORK/zk-bench.stderr)"
    echo "$CURRENT_SYS r$round $figure: exit $rc: zk-bench $*" >>"$WORK/failures"
    return 0
  fi
  echo "$line" >>"$RESULTS"
  local extra=""
  case $figure in
    failover) extra=" gap $(field "$line" longest_gap_ms) ms, failed $(field "$line" failed), expired $(field "$line" expired)" ;;
    ephemeral) extra=" gone median $(field "$line" gone_ms_median) ms" ;;
    stale | stale_follower) extra=" stale $(field "$line" stale_reads) of $(field "$line" stale_rounds), lag mean $(field "$line" stale_lag_ms_mean) ms" ;;
    fill) extra=" rss $(grep -o '"rss_kib":[0-9]*' <<<"$line" | cut -d: -f2 | tr '\n' ' ')KiB" ;;
  esac
  log "   $CURRENT_SYS r$round $figure: $(field "$line" ops_per_s) ops/s, p99 $(field "$line" p99_us) us, errors $(field "$line" failed)$extra"
}

run_round() { # SYS ROUND KILLS
  local sys=$1 r=$2 kills=$3 k dir
  case $sys in zookeeper) dir=$WORK/zk-r$r ;; zk-node) dir=$WORK/zkn-r$r ;; esac
  log "== $sys round $r: starting"
  sys_start "$sys" "$dir"
  local common=(--value-size 100 --spread)
  local timed=(--duration "$DUR" --warmup "$WARM")
  run_bench "$r" fill fill --count "$FILL" --clients 32 --in-flight 16 "${common[@]}"
  run_bench "$r" create create --clients 32 --in-flight 16 "${common[@]}" "${timed[@]}"
  run_bench "$r" set set --clients 32 --in-flight 16 "${common[@]}" "${timed[@]}"
  run_bench "$r" get get --clients 32 --in-flight 16 "${common[@]}" "${timed[@]}"
  run_bench "$r" mixed mixed --read-ratio 0.9 --clients 32 --in-flight 16 "${common[@]}" "${timed[@]}"
  run_bench "$r" sessions sessions --clients 32 "${common[@]}" "${timed[@]}"
  run_bench "$r" create_p99 create --clients 8 --in-flight 1 "${common[@]}" "${timed[@]}"
  run_bench "$r" get_p99 get --clients 8 --in-flight 1 "${common[@]}" "${timed[@]}"
  run_bench "$r" ephemeral ephemeral --clients 32 --ephemerals 10 --rounds "$EPH_ROUNDS" "${common[@]}"
  run_bench "$r" stale stale --rounds 200 --value-size 100 --writer-on leader
  run_bench "$r" stale_follower stale --rounds 200 --value-size 100 --writer-on follower
  for ((k = 1; k <= kills; k++)); do
    run_bench "$r" failover failover --clients 8 --in-flight 1 "${common[@]}" \
      --duration "$FO_DUR" --warmup 1 --fault-at "$FO_AT" --fault-cmd "$(sys_fault_cmd)"
    sys_restart_down
  done
  sys_stop
  rm -rf "$dir"/n*/data
  log "== $sys round $r: done"
}

# ---------------------------------------------------------------- main
START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "mode $MODE: $ROUNDS round(s), windows ${DUR}s after ${WARM}s warm-up, fill $FILL, $KILLS kill(s) per system; work dir $WORK"
for ((r = 1; r <= ROUNDS; r++)); do
  # Spread the kills over the rounds (10 over 3 rounds: 4, 3, 3).
  kills=$(( KILLS / ROUNDS + (r <= KILLS % ROUNDS ? 1 : 0) ))
  run_round zookeeper "$r" "$kills"
  run_round zk-node "$r" "$kills"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

cmd="bash bench/compare.sh"
for a in "${ARGS[@]}"; do
  if [[ $a =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then cmd="$cmd $a"; else cmd="$cmd '${a//\'/\'\\\'\'}'"; fi
done
zk_version=$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo unknown)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
meta=(
  --meta "command=$cmd"
  --meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  --meta "machine=$(nproc) CPUs ($cpu), $mem, kernel $(uname -r)"
  --meta "mode=$MODE: $ROUNDS round(s); throughput and latency windows of ${DUR} s after ${WARM} s of warm-up; fill of $FILL znodes; ephemeral: $EPH_ROUNDS rounds of 32 sessions x 10 per round; failover: $KILLS kill(s) per system (8 clients x 1 in flight, 10 s sessions, kill -9 of the leader ${FO_AT} s into a ${FO_DUR} s window, the killed node restarted after each); wall time $((SECONDS - START)) s"
  --meta "servers=Apache ZooKeeper $zk_version (Debian package, ../shared/tools/zk-anchor.sh: tickTime 2000, forceSync=yes, -Xmx${ZK_HEAP_MB:-1000}m) and zk-node at $commit (release build, --tick-ms 2000, its Raft log flushed on every write); three nodes each on 127.0.0.1, clients spread over the three (client i to node i mod 3 first)"
  --meta "load average=(1, 5, 15 min) $LOAD_START at the start, $LOAD_END at the end"
)
[ -n "$NOTE" ] && meta+=(--meta "note=$NOTE")
if [ -s "$WORK/failures" ]; then
  meta+=(--meta "failed runs=$(tr '\n' ';' <"$WORK/failures") (no figure from them)")
fi
mkdir -p "$OUT_DIR"
cp "$RESULTS" "$WORK/results-final.jsonl"
"$ZK_REPORT" --results "$RESULTS" --md "$OUT_DIR/benchmarks.md" --png "$OUT_DIR/benchmarks.png" \
  --font "$FONT" "${meta[@]}" || die "zk-bench-report failed"
log "done in $((SECONDS - START)) s: $OUT_DIR/benchmarks.md, $OUT_DIR/benchmarks.png"
