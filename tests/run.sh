#!/usr/bin/env bash
# The project's test command (README names it; .ci/run calls it). It installs what the tests
# need on a fresh machine, then runs the format check, clippy and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

step "reference client packages"
# zkCli.sh (Debian's zookeeper package) drives zk-node in crates/node/tests/other_clients.rs,
# and tools/zk-anchor.sh runs the same package as the reference server.
if [ ! -x /usr/share/zookeeper/bin/zkCli.sh ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper zookeeper-bin
  else
    sudo -n apt-get update -q
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper zookeeper-bin
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

step "tests"
# nextest's closing summary line is what CI reads.
cargo nextest run --workspace --locked --no-fail-fast
