#!/usr/bin/env bash
# The project's test command (README names it; .ci/run calls it). It installs what the tests
# need on a fresh machine, then runs the format check, clippy and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Disk: CI once ran out of it linking a test. A full test build measured 6.7 GiB with full
# debuginfo and incremental state (2.2 GiB of it), 2.4 GiB with Cargo.toml's dev profile
# (line tables only) and no incremental state, which a clean CI machine that builds once has
# no use for (and 3m58 -> 2m47 to build).
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi

step "toolchain"
cargo --version
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

step "reference client packages, tmux"
# zkCli.sh (Debian's zookeeper package) drives zk-node in crates/node/tests/other_clients.rs,
# and tools/zk-anchor.sh runs the same package as the reference server. tmux is the real
# terminal zk-cli's interactive shell is driven in (crates/cli/tests/shell.rs).
# cli_mt (the C client) is zookeeper-bin's: a machine with only zookeeper installed gets it too.
# Prometheus (Debian's) scrapes a test ensemble in crates/node/tests/monitoring.rs.
if [ ! -x /usr/share/zookeeper/bin/zkCli.sh ] || [ ! -x /usr/lib/zookeeper/bin/cli_mt ] ||
  ! command -v tmux >/dev/null 2>&1 || [ ! -x /usr/bin/prometheus ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper zookeeper-bin tmux prometheus
  else
    sudo -n apt-get update -q
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper zookeeper-bin tmux \
      prometheus
  fi
fi

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "doc tests"
cargo test --workspace --doc --locked

step "kazoo integration tests (the real zk-node binary, driven by kazoo from PyPI)"
bash tests/setup-python.sh
cargo build --bin zk-node --locked
ZK_NODE_BIN="$(pwd)/target/debug/zk-node" \
  "${VENV:-.venv}/bin/python" -m pytest -p no:cacheprovider tests/kazoo -q

step "deployment smoke test (deploy/smoke.sh: the FROM-scratch image, three containers)"
# Needs Docker; it publishes 127.0.0.1:2181-2183 and removes everything it made before the
# tests below, one of which serves on 2181.
if docker info >/dev/null 2>&1; then
  bash deploy/smoke.sh
else
  echo "deploy smoke: no docker daemon here, skipped"
fi

step "chaos against the containers (deploy/chaos.sh, brief)"
# The same harness as the process-level chaos tests below, on the compose cluster: docker
# kill/pause/network disconnect under a recorded workload, then the verdict.
if docker info >/dev/null 2>&1; then
  cargo build --locked -p zk-chaos --bin zk-chaos
  ZK_CHAOS_BIN="$(pwd)/target/debug/zk-chaos" bash deploy/chaos.sh --duration 30 --seed 1
else
  echo "deploy chaos: no docker daemon here, skipped"
fi

step "the deliberately broken zk-node (test-only feature), for the checker's own test"
# crates/chaos/tests/process_chaos.rs shows the checker failing on a node that acknowledges
# before its log is durable. Cargo keeps both feature sets' artifacts, so switching back is
# a relink.
cargo build --locked -p zk-node --bin zk-node --features unsafe-ack-before-flush
cp target/debug/zk-node target/debug/zk-node-broken
cargo build --locked -p zk-node --bin zk-node

step "tests"
# nextest's closing summary line is what CI reads.
cargo nextest run --workspace --locked --no-fail-fast
