#!/usr/bin/env bash
# bench/ab.sh — two zk-node builds, A and B, under the same zk-bench loads, alternated in one
# run (A B B A A B ...) so that the machine's drift hits both alike.
#
#   bash bench/ab.sh --a OLD/zk-node --b NEW/zk-node [--rounds 3] [--seconds 8] [--bench ZK_BENCH]
#                    [--figures "get set create create_8x1 mixed sessions"] [--fill N] [--kills K]
#
# Each round starts a fresh three-node ensemble of one build exactly as bench/compare.sh does
# (same ports, --tick-ms 2000, fsync on every write), runs get, set and create at 32 clients x
# 16 in flight, create at 8 x 1 and mixed (90 % getData, 10 % setData) at 32 x 16 (100-byte
# values, clients spread over the nodes) and sessions (32 loops opening and closing a session, as
# compare.sh's), each a timed window with zk-bench reading the
# servers' CPU from /proc (--watch-pids), then stops it and removes its data; --figures picks
# which of these windows run (default: all six); --fill N first creates N znodes (32 x 16,
# unmeasured), so the windows run on a tree as large as compare.sh's (its fill and create
# windows leave ~300k); --kills K adds K failover windows per round (kill -9 of the leader, as
# compare.sh's; the longest write gap in ms stands in the ops/s column). Prints one line per
# window and, at the end,
# the medians per build and figure with the ratio B/A. zk-bench: --bench, else
# <target>/release/zk-bench.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPARE=$REPO/bench/compare.sh
die() { echo "ab: $*" >&2; exit 1; }

A="" B="" ROUNDS=3 SECS=8 BENCH=${CARGO_TARGET_DIR:-$REPO/target}/release/zk-bench
FIGURES="get set create create_8x1 mixed sessions" FILL=0 KILLS=0
while [ $# -gt 0 ]; do
  case $1 in
    --a) A=$2; shift ;;
    --b) B=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --bench) BENCH=$2; shift ;;
    --figures) FIGURES=$2; shift ;;
    --fill) FILL=$2; shift ;;
    --kills) KILLS=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
for b in "$A" "$B" "$BENCH"; do [ -x "$b" ] || die "not an executable: '$b'"; done

WORK=$(mktemp -d /tmp/zk-ab.XXXXXX)
RESULTS=$WORK/results.tsv
CUR=""
cleanup() {
  [ -n "$CUR" ] && bash "$COMPARE" __stop-zknode "$CUR"
  rm -rf "$WORK"/*/n*/data
  echo "ab: results in $RESULTS" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HOSTS=127.0.0.1:22811,127.0.0.1:22812,127.0.0.1:22813
field() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" <<<"$1" | head -1; }

window() { # BUILD ROUND FIGURE ZK-BENCH-ARGS...
  local build=$1 round=$2 figure=$3 line
  shift 3
  [[ $figure == failover || " $FIGURES " == *" $figure "* ]] || return 0
  line=$(timeout 300 "$BENCH" --servers "$HOSTS" --json --quiet \
    --watch-pids "$(bash "$COMPARE" __pids-zknode "$CUR")" "$@" 2>>"$WORK/zk-bench.stderr")
  [ -n "$line" ] || { echo "ab: $build r$round $figure: no result" >&2; return 0; }
  local ops
  ops=$(field "$line" ops_per_s)
  [ "$figure" = failover ] && ops=$(field "$line" longest_gap_ms)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$build" "$round" "$figure" "$ops" \
    "$(field "$line" server_cpu_us_per_op)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" |
    tee -a "$RESULTS"
}

printf 'build\tround\tfigure\tops_per_s\tserver_cpu_us_per_op\tp50_us\tp99_us\n' | tee "$RESULTS"
for ((r = 1; r <= ROUNDS; r++)); do
  # A then B in odd rounds, B then A in even ones: a machine that drifts steadily through the
  # run (seen: sets 46.6k -> 40.6k over six windows) would otherwise count against B in every
  # round.
  order="A B"
  ((r % 2 == 0)) && order="B A"
  for build in $order; do
    bin=$A; [ $build = B ] && bin=$B
    CUR=$WORK/$build-r$r
    bash "$COMPARE" __start-zknode "$CUR" "$bin" || die "$build did not start (logs in $CUR)"
    common=(--value-size 100 --spread --duration "$SECS" --warmup 2)
    if [ "$FILL" -gt 0 ]; then
      timeout 300 "$BENCH" fill --servers "$HOSTS" --quiet --clients 32 --in-flight 16 \
        --value-size 100 --spread --count "$FILL" >/dev/null 2>>"$WORK/zk-bench.stderr" ||
        die "$build r$r: the fill failed (see $WORK/zk-bench.stderr)"
    fi
    window $build $r get get --clients 32 --in-flight 16 "${common[@]}"
    window $build $r set set --clients 32 --in-flight 16 "${common[@]}"
    window $build $r create create --clients 32 --in-flight 16 "${common[@]}"
    window $build $r create_8x1 create --clients 8 --in-flight 1 "${common[@]}"
    window $build $r mixed mixed --read-ratio 0.9 --clients 32 --in-flight 16 "${common[@]}"
    window $build $r sessions sessions --clients 32 "${common[@]}"
    for ((k = 1; k <= KILLS; k++)); do
      # As compare.sh's failover: kill -9 of the leader 2 s into an 8 s window, then the
      # killed member started again. The figure is the longest write gap (ms) in the
      # ops/s column's place.
      window $build $r failover failover --clients 8 --in-flight 1 --value-size 100 --spread \
        --duration 8 --warmup 1 --fault-at 2 --fault-cmd "bash '$COMPARE' __kill-leader-zknode '$CUR'"
      bash "$COMPARE" __restart-down-zknode "$CUR" "$bin" || die "$build did not restart (logs in $CUR)"
    done
    bash "$COMPARE" __stop-zknode "$CUR"
    rm -rf "$CUR"/n*/data
    CUR=""
  done
done

echo
echo "medians over $ROUNDS round(s) (B/A in brackets):"
awk -F'\t' 'NR > 1 { k = $3 "\t" $1; n[k]++; ops[k, n[k]] = $4; cpu[k, n[k]] = $5; p50[k, n[k]] = $6; p99[k, n[k]] = $7; figs[$3] = 1 }
  function med(arr, k, m,   v, i, j, t) {
    for (i = 1; i <= m; i++) v[i] = arr[k, i] + 0
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
  }
  END {
    for (f in figs) {
      a = f "\tA"; b = f "\tB"
      oa = med(ops, a, n[a]); ob = med(ops, b, n[b]); ca = med(cpu, a, n[a]); cb = med(cpu, b, n[b])
      pa = med(p50, a, n[a]); pb = med(p50, b, n[b]); qa = med(p99, a, n[a]); qb = med(p99, b, n[b])
      printf "%-11s ops/s A %8.0f B %8.0f (%.2f) | server CPU us/op A %6.1f B %6.1f (%.2f) | p50 us A %6.0f B %6.0f | p99 us A %6.0f B %6.0f\n",
        f, oa, ob, ob / oa, ca, cb, cb / ca, pa, pb, qa, qb
    }
  }' "$RESULTS"
