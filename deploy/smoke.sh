#!/usr/bin/env bash
# Smoke test of the Docker deployment (docs/deployment.md): brings the three-member ensemble
# up through deploy/cluster.sh, then with kazoo from the host
#   1. writes through zk1's port and reads it back through zk3's,
#   2. docker-kills the leader: the other two elect a leader and take writes; the killed
#      member, started again, catches up (read through its own port after a sync),
#   3. SIGKILLs a member's process from the host (a crash): the restart policy brings it
#      back, and it catches up,
# and finally checks that `cluster.sh down` leaves no container, network or volume.
# Every wait is bounded (ZKNODE_SMOKE_TIMEOUT, default 60 s each). Exit status 0 on success.
#
# Runs as docker-compose project zknode-smoke (ZKNODE_PROJECT) on 127.0.0.1:2181-2183
# (ZKNODE_PORT_BASE); kazoo comes from a venv at /tmp/deploy-venv (ZKNODE_SMOKE_VENV), made
# by tests/setup-python.sh. Step 3 needs permission to signal the container's process (root,
# or the same user); without it, it is skipped with a note.
set -euo pipefail

DEPLOY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DEPLOY/.." && pwd)
CLUSTER=$DEPLOY/cluster.sh

export ZKNODE_PROJECT=${ZKNODE_PROJECT:-zknode-smoke}
PORT_BASE=${ZKNODE_PORT_BASE:-2181}
export ZKNODE_PORT_BASE=$PORT_BASE
TIMEOUT=${ZKNODE_SMOKE_TIMEOUT:-60}
VENV=${ZKNODE_SMOKE_VENV:-/tmp/deploy-venv}
export SMOKE_DEADLINE=$TIMEOUT

NODES=(zk1 zk2 zk3)
PORTS=("$PORT_BASE" $((PORT_BASE + 1)) $((PORT_BASE + 2)))
T0=$SECONDS

log() { printf '[smoke %4ss] %s\n' $((SECONDS - T0)) "$*"; }
fail() {
  log "FAILED: $*" >&2
  exit 1
}

# fourlw PORT WORD: the reply to a four-letter word (at most 3 s), empty if none.
fourlw() {
  # shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf %s "$1" >&3 && cat <&3' \
    "$1" "$2" 2>/dev/null || true
}
mode() { fourlw "$1" srvr | sed -n 's/^Mode: //p'; }

# container NODE: the id of the node's container (running or not).
container() {
  docker ps -aq --filter "label=com.docker.compose.project=$ZKNODE_PROJECT" \
    --filter "label=com.docker.compose.service=$1"
}

# wait_for WHAT CMD...: poll CMD every 0.2 s until it succeeds, at most TIMEOUT seconds.
wait_for() {
  local what=$1 start=$SECONDS
  shift
  until "$@"; do
    [ $((SECONDS - start)) -lt "$TIMEOUT" ] || fail "$what: not within ${TIMEOUT}s"
    sleep 0.2
  done
  log "$what ($((SECONDS - start))s)"
}

# serving PORT: answers ruok and is leader or follower.
serving() {
  [ "$(fourlw "$1" ruok)" = imok ] || return 1
  case $(mode "$1") in leader | follower) return 0 ;; *) return 1 ;; esac
}

# one_leader_among PORT...: all of them serve and exactly one leads.
one_leader_among() {
  local p leaders=0
  for p in "$@"; do
    serving "$p" || return 1
    [ "$(mode "$p")" != leader ] || leaders=$((leaders + 1))
  done
  [ "$leaders" = 1 ]
}

# restarted CONTAINER COUNT: docker restarted the container since its restart count was COUNT,
# and it runs.
restarted() {
  [ "$(docker inspect -f '{{ .RestartCount }}' "$1")" -gt "$2" ] &&
    [ "$(docker inspect -f '{{ .State.Running }}' "$1")" = true ]
}

leftovers() {
  local kind
  for kind in container volume network; do
    case $kind in
      container) docker ps -aq --filter "label=com.docker.compose.project=$ZKNODE_PROJECT" ;;
      *) docker "$kind" ls -q --filter "label=com.docker.compose.project=$ZKNODE_PROJECT" ;;
    esac | sed "s/^/$kind /"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" != 0 ]; then
    log "state at the failure:"
    "$CLUSTER" status || true
    "$CLUSTER" logs --no-color --tail=40 || true
  fi
  "$CLUSTER" down >/dev/null 2>&1 || log "cluster.sh down failed"
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    log "left behind after cluster.sh down:"
    echo "$left"
    [ "$rc" != 0 ] || rc=1
  fi
  if [ "$rc" = 0 ]; then
    log "PASSED: nothing left behind (containers, networks, volumes of $ZKNODE_PROJECT)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

hosts() {
  local p out=
  for p in "$@"; do out=${out:+$out,}127.0.0.1:$p; done
  echo "$out"
}
# The kazoo half; SMOKE_DEADLINE bounds each operation, timeout(1) the whole call.
client() { timeout $((TIMEOUT * 3)) "$VENV/bin/python" "$DEPLOY/smoke_client.py" "$@"; }

log "kazoo venv at $VENV"
VENV=$VENV bash "$REPO/tests/setup-python.sh" >/dev/null

log "a leftover $ZKNODE_PROJECT cluster, if any, goes first"
"$CLUSTER" down >/dev/null 2>&1

log "cluster.sh up"
start=$SECONDS
"$CLUSTER" up
log "cluster.sh up took $((SECONDS - start))s"

log "1. write via zk1 (127.0.0.1:${PORTS[0]}), read via zk3 (127.0.0.1:${PORTS[2]})"
client write "$(hosts "${PORTS[0]}")" /smoke/basic 10
client read "$(hosts "${PORTS[2]}")" /smoke/basic 10

log "2. docker kill the leader"
leader=
for i in 0 1 2; do [ "$(mode "${PORTS[$i]}")" != leader ] || leader=$i; done
[ -n "$leader" ] || fail "no node reports Mode: leader"
others=()
for i in 0 1 2; do [ "$i" = "$leader" ] || others+=("$i"); done
victim=$(container "${NODES[$leader]}")
log "leader is ${NODES[$leader]} (container ${victim:0:12}); docker kill"
docker kill "$victim" >/dev/null
p1=${PORTS[${others[0]}]} p2=${PORTS[${others[1]}]}
wait_for "${NODES[${others[0]}]} and ${NODES[${others[1]}]} elected a leader" \
  one_leader_among "$p1" "$p2"
client write "$(hosts "$p1" "$p2")" /smoke/leader-killed 20
log "the killed container: $(docker inspect -f '{{ .State.Status }}, exit code {{ .State.ExitCode }}, restarts {{ .RestartCount }}' "$victim") (unless-stopped does not restart a docker kill)"
docker start "$victim" >/dev/null
wait_for "${NODES[$leader]} serves again after docker start" serving "${PORTS[$leader]}"
client read "$(hosts "${PORTS[$leader]}")" /smoke/leader-killed 20
client read "$(hosts "${PORTS[$leader]}")" /smoke/basic 10

log "3. crash: SIGKILL a member's process from the host; the restart policy restarts it"
crashed=${others[0]}
c=$(container "${NODES[$crashed]}")
pid=$(docker inspect -f '{{ .State.Pid }}' "$c")
count=$(docker inspect -f '{{ .RestartCount }}' "$c")
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid"
  log "killed ${NODES[$crashed]}'s zk-node (host pid $pid)"
  wait_for "docker restarted ${NODES[$crashed]} (restart policy)" restarted "$c" "$count"
  wait_for "${NODES[$crashed]} serves again" serving "${PORTS[$crashed]}"
  client write "$(hosts "${PORTS[@]}")" /smoke/after-crash 10
  client read "$(hosts "${PORTS[$crashed]}")" /smoke/after-crash 10
  client read "$(hosts "${PORTS[$crashed]}")" /smoke/leader-killed 20
else
  log "SKIPPED: no permission to signal host pid $pid (run as root to test the restart policy)"
fi
wait_for "all three serve with one leader" one_leader_among "${PORTS[@]}"

log "4. cluster.sh down"
"$CLUSTER" down
left=$(leftovers)
[ -z "$left" ] || fail "left behind: $left"
