#!/usr/bin/env bash
# Runs kazoo's OWN test suite (a peer's suite, shipped in the kazoo 2.11 wheel) against
# zk-node, through ../shared/tools/kazoo-suite/run_kazoo_suite.sh in external mode, with
# kill -9 / restart commands so the suite's server-restart tests run too.
#
#   bash tests/kazoo-suite.sh [pytest args]            # a one-node ensemble
#   NODES=3 bash tests/kazoo-suite.sh [pytest args]    # a three-node ensemble on loopback
#
# Env: ZK_NODE_BIN (default target/release/zk-node, built if missing), KAZOO_SUITE (the
# run_kazoo_suite.sh path), ACCEPT_VENV (a venv with the suite's requirements.txt; made at
# /tmp/accept-venv if missing), PORT (default 22281). Not part of tests/run.sh: it takes
# about two minutes and some of its tests are timing-sensitive.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SUITE=${KAZOO_SUITE:-$REPO/../shared/tools/kazoo-suite/run_kazoo_suite.sh}
export ACCEPT_VENV=${ACCEPT_VENV:-/tmp/accept-venv}
PORT=${PORT:-22281}
NODES=${NODES:-1}
BIN=${ZK_NODE_BIN:-$REPO/target/release/zk-node}
[ -x "$BIN" ] || cargo build --release --locked -p zk-node
if [ ! -x "$ACCEPT_VENV/bin/python" ]; then
  python3 -m venv "$ACCEPT_VENV"
  "$ACCEPT_VENV/bin/pip" install -q -r "$(dirname "$SUITE")/requirements.txt"
fi
WORK=$(mktemp -d /tmp/kazoo-suite.XXXXXX)
PEERS=""
if [ "$NODES" -gt 1 ]; then
  for n in $(seq "$NODES"); do PEERS="$PEERS${PEERS:+,}$n=127.0.0.1:$((PORT + 100 + n))"; done
fi
HOSTS=""
for n in $(seq "$NODES"); do
  port=$((PORT + n - 1))
  HOSTS="$HOSTS${HOSTS:+,}127.0.0.1:$port"
  ensemble=""
  [ -n "$PEERS" ] && ensemble="--id $n --peers $PEERS --peer-listen 127.0.0.1:$((PORT + 100 + n))"
  cat >"$WORK/start$n.sh" <<SH
#!/bin/sh
# kazoo's maxClientCnxns=0, as its own harness and zk-anchor.sh configure ZooKeeper.
setsid "$BIN" $ensemble --client-addr 127.0.0.1:$port --data-dir "$WORK/data$n" \
  --max-connections-per-ip 0 >>"$WORK/node$n.log" 2>&1 </dev/null &
echo \$! >"$WORK/pid$n"
SH
  chmod +x "$WORK/start$n.sh"
done
cleanup() { for n in $(seq "$NODES"); do kill "$(cat "$WORK/pid$n" 2>/dev/null)" 2>/dev/null || true; done; }
trap cleanup EXIT
for n in $(seq "$NODES"); do "$WORK/start$n.sh"; done
for n in $(seq "$NODES"); do
  port=$((PORT + n - 1))
  for _ in $(seq 100); do
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf srvr >&3; cat <&3" 2>/dev/null | grep -q '^Mode:' && break
    sleep 0.1
  done
done
echo "zk-node logs: $WORK/node*.log"
ZK_HOSTS=$HOSTS \
ZK_KILL_CMD="kill -9 \$(cat $WORK/pid{n})" \
ZK_RESTART_CMD="$WORK/start{n}.sh" \
  bash "$SUITE" external -q --timeout 120 "$@"
