#!/usr/bin/env bash
# Chaos against the docker-compose cluster: deploy/chaos.sh --duration SECONDS [--seed N]
#
# Brings the cluster up (deploy/cluster.sh up), runs zk-chaos against it: a recorded workload
# (compare-and-set registers, sequential creates, sessions owning ephemerals, an observer)
# while seeded faults hit the containers one at a time (docker kill of a member and of the
# leader, docker pause, docker network disconnect, kill of all three), then repairs
# everything, reads the final state and checks the record. Prints the faults injected, the
# operations checked and a last line `verdict: PASS` or `verdict: FAIL <reason>`; the exit
# status matches (0 pass, 1 fail, 2 could not run). docs/chaos.md explains what is checked.
#
# Options: --duration S (default 60), --seed N (default: from the clock, printed),
#          --faults LIST (kill,kill-leader,pause,partition,restart-all,quorum-loss), --history FILE,
#          --keep-up (leave the cluster running afterwards; default: cluster.sh down).
# Environment: ZK_CHAOS_BIN (a built zk-chaos; default: built here), ZKNODE_PROJECT,
#              ZKNODE_PORT_BASE (as cluster.sh).
set -euo pipefail

DEPLOY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DEPLOY/.." && pwd)
PROJECT=${ZKNODE_PROJECT:-zknode}
PORT_BASE=${ZKNODE_PORT_BASE:-2181}

duration=60
seed=$(( $(date +%s) % 100000 ))
keep_up=0
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=${2:?--duration needs seconds}; shift 2 ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    --faults) extra+=(--faults "${2:?--faults needs a list}"); shift 2 ;;
    --history) extra+=(--history "${2:?--history needs a file}"); shift 2 ;;
    --keep-up) keep_up=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $duration$seed in *[!0-9]*) echo "chaos.sh: --duration and --seed take whole numbers" >&2; exit 2 ;; esac

bin=${ZK_CHAOS_BIN:-}
if [ -z "$bin" ]; then
  (cd "$REPO" && cargo build --quiet --locked -p zk-chaos --bin zk-chaos)
  bin=${CARGO_TARGET_DIR:-$REPO/target}/debug/zk-chaos
fi

cleanup() {
  if [ "$keep_up" = 0 ]; then
    "$DEPLOY/cluster.sh" down >/dev/null 2>&1 || echo "chaos.sh: cluster.sh down failed" >&2
  fi
}
trap cleanup EXIT

echo "chaos.sh: seed $seed, ${duration} s (rerun with --seed $seed)"
# cluster.sh builds into its own target dir; keep the caller's for zk-chaos only.
env -u CARGO_TARGET_DIR "$DEPLOY/cluster.sh" up
status=0
"$bin" docker --project "$PROJECT" \
  --ports "$PORT_BASE,$((PORT_BASE + 1)),$((PORT_BASE + 2))" \
  --duration "$duration" --seed "$seed" "${extra[@]}" || status=$?
exit "$status"
