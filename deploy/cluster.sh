#!/usr/bin/env bash
# A three-member zk-node ensemble in Docker: zk1, zk2, zk3 from deploy/docker-compose.yml.
# Run `deploy/cluster.sh help` for the commands; docs/deployment.md explains the whole setup.
set -euo pipefail

DEPLOY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DEPLOY/.." && pwd)

PROJECT=${ZKNODE_PROJECT:-zknode}
IMAGE=${ZKNODE_IMAGE:-zknode/zk-node:local}
PORT_BASE=${ZKNODE_PORT_BASE:-2181}
UP_TIMEOUT=${ZKNODE_UP_TIMEOUT:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target-deploy}
case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR=$REPO/$CARGO_TARGET_DIR ;; esac
export ZKNODE_IMAGE=$IMAGE
export ZKNODE_PORT_1=$PORT_BASE ZKNODE_PORT_2=$((PORT_BASE + 1)) ZKNODE_PORT_3=$((PORT_BASE + 2))
NODES=(zk1 zk2 zk3)
PORTS=("$ZKNODE_PORT_1" "$ZKNODE_PORT_2" "$ZKNODE_PORT_3")

usage() {
  cat <<EOF
Usage: deploy/cluster.sh COMMAND [ARGS]

A three-member zk-node ensemble (zk1, zk2, zk3) in Docker, docker-compose project '$PROJECT'.

Commands:
  up                 build the static zk-node and the image when they are out of date, start
                     the three containers, and wait (at most ZKNODE_UP_TIMEOUT=$UP_TIMEOUT s) until
                     every node answers ruok and serves, with one leader
  status             each node's container state and mode (srvr on its published port);
                     exit status 0 only if all three serve and one of them leads
  logs [ARGS]        docker-compose logs (ARGS are passed on, e.g. logs -f --tail=50 zk1)
  down [--keep-data] stop and remove the containers, the network AND the data volumes
                     (docker-compose down -v); --keep-data keeps the volumes
  build              only build the binary and the image
  help               this message

Client ports: 127.0.0.1:${PORTS[0]} (zk1), 127.0.0.1:${PORTS[1]} (zk2), 127.0.0.1:${PORTS[2]} (zk3).

Environment:
  ZKNODE_PROJECT     docker-compose project name (default zknode)
  ZKNODE_IMAGE       image tag (default zknode/zk-node:local)
  ZKNODE_PORT_BASE   first host port; the nodes get BASE, BASE+1, BASE+2 (default 2181)
  ZKNODE_UP_TIMEOUT  seconds 'up' waits for the ensemble (default 90)
  CARGO_TARGET_DIR   where the static binary is built (default <repo>/target-deploy)
EOF
}

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

# docker compose v2 if the CLI has it, else docker-compose (v1).
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  COMPOSE=()
fi

compose() {
  [ ${#COMPOSE[@]} -gt 0 ] || die "neither 'docker compose' nor 'docker-compose' is installed"
  "${COMPOSE[@]}" -p "$PROJECT" --project-directory "$DEPLOY" -f "$DEPLOY/docker-compose.yml" "$@"
}

# fourlw PORT WORD: the reply of 127.0.0.1:PORT to a four-letter word (at most 3 s); fails if
# nothing listens there.
fourlw() {
  # shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf %s "$1" >&3 && cat <&3' \
    "$1" "$2" 2>/dev/null
}

# mode PORT: leader, follower, standalone, "not serving" or "down".
mode() {
  local reply
  if ! reply=$(fourlw "$1" srvr) || [ -z "$reply" ]; then
    echo down
  elif [[ $reply == *"not currently serving"* ]]; then
    echo "not serving"
  else
    sed -n 's/^Mode: //p' <<<"$reply"
  fi
}

# ensemble_ready: all three answer ruok, serve, and exactly one leads.
ensemble_ready() {
  local i leaders=0 m
  for i in 0 1 2; do
    [ "$(fourlw "${PORTS[$i]}" ruok || true)" = imok ] || return 1
    m=$(mode "${PORTS[$i]}")
    case $m in
      leader) leaders=$((leaders + 1)) ;;
      follower) ;;
      *) return 1 ;;
    esac
  done
  [ "$leaders" = 1 ]
}

# The host target's static zk-node (glibc, crt-static). Cargo decides whether it is stale.
BIN=
build_binary() {
  command -v cargo >/dev/null 2>&1 || die "cargo not found"
  local host
  host=$(rustc -vV | sed -n 's/^host: //p')
  echo "cluster.sh: building the static zk-node ($host, target dir $CARGO_TARGET_DIR)"
  # Static glibc; no debug info (the repository's release profile keeps line tables, which
  # would make the image about 75 MB instead of 16). Build scripts and proc macros are not
  # affected: with --target, RUSTFLAGS apply to the target only.
  (cd "$REPO" && env -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS='-C target-feature=+crt-static' \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    cargo build --release --locked --target "$host" -p zk-node --bin zk-node)
  BIN=$CARGO_TARGET_DIR/$host/release/zk-node
  [ -x "$BIN" ] || die "no binary at $BIN"
  if command -v readelf >/dev/null 2>&1 && readelf -l "$BIN" | grep -q 'program interpreter'; then
    die "$BIN is dynamically linked; the scratch image needs a static binary"
  fi
}

# The image, rebuilt whenever the binary, the Dockerfile or nsswitch.conf differ from what it
# was built from (their hashes are the image's io.zknode.build-id label).
build_image() {
  local id current old ctx=$CARGO_TARGET_DIR/docker-context
  id=$(cat "$BIN" "$DEPLOY/Dockerfile" "$DEPLOY/nsswitch.conf" | sha256sum | cut -d' ' -f1)
  current=$(docker image inspect -f '{{ index .Config.Labels "io.zknode.build-id" }}' "$IMAGE" \
    2>/dev/null || true)
  if [ "$current" = "$id" ]; then
    echo "cluster.sh: image $IMAGE is up to date"
    return
  fi
  old=$(docker image inspect -f '{{ .Id }}' "$IMAGE" 2>/dev/null || true)
  echo "cluster.sh: building image $IMAGE"
  rm -rf "$ctx"
  mkdir -p "$ctx/etc" "$ctx/data"
  chmod 0700 "$ctx/data"
  cp "$BIN" "$ctx/zk-node"
  install -m 0644 "$DEPLOY/nsswitch.conf" "$ctx/etc/nsswitch.conf"
  install -m 0644 "$DEPLOY/Dockerfile" "$ctx/Dockerfile"
  docker build --label "io.zknode.build-id=$id" --label io.zknode.project=zknode \
    -t "$IMAGE" "$ctx"
  # The previous build, now untagged; still in use by a container, it stays (error ignored).
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{ .Id }}' "$IMAGE")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
}

# Refuse a host port something else already listens on (our own containers excepted).
check_ports() {
  [ -z "$(compose ps -q 2>/dev/null)" ] || return 0
  local p
  for p in "${PORTS[@]}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "127.0.0.1:$p is already in use; stop what listens there or set ZKNODE_PORT_BASE"
    fi
  done
}

status() {
  local i c state m ok=0 leaders=0
  for i in 0 1 2; do
    c=$(compose ps -q "${NODES[$i]}" 2>/dev/null || true)
    if [ -n "$c" ]; then
      state=$(docker inspect -f '{{ .State.Status }}{{ if .State.Health }} ({{ .State.Health.Status }}){{ end }}, restarts {{ .RestartCount }}' "$c")
    else
      state="no container"
    fi
    m=$(mode "${PORTS[$i]}")
    case $m in
      leader) leaders=$((leaders + 1)) ;;
      follower) ;;
      *) ok=1 ;;
    esac
    printf '%s  127.0.0.1:%s  %-12s  container: %s\n' "${NODES[$i]}" "${PORTS[$i]}" "$m" "$state"
  done
  [ "$ok" = 0 ] && [ "$leaders" = 1 ]
}

up() {
  build_binary
  build_image
  check_ports
  compose up -d
  echo "cluster.sh: waiting up to ${UP_TIMEOUT}s for ruok on ${PORTS[*]} and a leader"
  local start=$SECONDS deadline=$((SECONDS + UP_TIMEOUT))
  until ensemble_ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: the ensemble is not ready after ${UP_TIMEOUT}s:" >&2
      status >&2 || true
      compose logs --no-color --tail=30 >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  status
  echo "cluster.sh: ready $((SECONDS - start))s after start; connect to 127.0.0.1:${PORTS[0]},127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]}"
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case $cmd in
  up)
    [ $# -eq 0 ] || die "up takes no arguments"
    up
    ;;
  build)
    [ $# -eq 0 ] || die "build takes no arguments"
    build_binary
    build_image
    ;;
  status)
    [ $# -eq 0 ] || die "status takes no arguments"
    status
    ;;
  logs)
    compose logs "$@"
    ;;
  down)
    case ${1:-} in
      "") compose down -v --remove-orphans ;;
      --keep-data) compose down --remove-orphans ;;
      *) die "down takes only --keep-data" ;;
    esac
    ;;
  help | -h | --help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
