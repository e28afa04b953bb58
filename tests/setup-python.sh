#!/usr/bin/env bash
# Create the Python venv for the kazoo integration tests (tests/kazoo) and install
# tests/kazoo/requirements.txt into it.
#
#   bash tests/setup-python.sh        # venv at $VENV, default <repo>/.venv
#
# Idempotent and quick when already done (a stamp in the venv records the requirements'
# hash and the interpreter). Needs Python >= 3.8 (PYTHON, default python3) and PyPI; no stdin.
# If the interpreter has no ensurepip (Debian without python3-venv), the venv is made without
# pip and pip is bootstrapped from the system's pip or, failing that, from PyPI's pip wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${VENV:-$REPO/.venv}
case $VENV in /*) ;; *) VENV=$REPO/$VENV ;; esac
REQ=$REPO/tests/kazoo/requirements.txt
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

command -v "$PYTHON" >/dev/null 2>&1 || { echo "setup-python: $PYTHON not found" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 8))' \
  || { echo "setup-python: need Python >= 3.8 ($("$PYTHON" -V 2>&1))" >&2; exit 1; }

want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
stamp=$VENV/.kazoo-tests-stamp
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$VENV/bin/python" -c 'import kazoo, pytest, pytest_timeout' 2>/dev/null; then
  echo "setup-python: $VENV is up to date"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup-python: creating $VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    "$PYTHON" -m venv --without-pip "$VENV"
  fi
fi

if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "setup-python: bootstrapping pip into $VENV"
  if "$PYTHON" -m pip --version >/dev/null 2>&1 \
    && "$PYTHON" -m pip --python "$VENV/bin/python" install -q pip 2>/dev/null; then
    :
  else
    # pip's own wheel from the package index (PEP 503 simple page), run in place to
    # install pip into the venv
    "$VENV/bin/python" - <<'PY'
import os, re, subprocess, sys, tempfile, urllib.parse, urllib.request
index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
page_url = index + "/pip/"
page = urllib.request.urlopen(page_url, timeout=60).read().decode()
links = [urllib.parse.urljoin(page_url, h) for h in re.findall(r'href="([^"]+)"', page)]
wheels = [u for u in links if re.search(r"/pip-[0-9.]+-py3-none-any\.whl(#|$)", u)]
url = wheels[-1].split("#")[0]
path = os.path.join(tempfile.mkdtemp(), url.rsplit("/", 1)[1])
with urllib.request.urlopen(url, timeout=120) as r, open(path, "wb") as f:
    f.write(r.read())
subprocess.check_call([sys.executable, os.path.join(path, "pip"), "install", "-q", path])
PY
  fi
fi

echo "setup-python: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')"
"$VENV/bin/python" -m pip install -q -r "$REQ"
"$VENV/bin/python" -c 'import kazoo, pytest, pytest_timeout'
echo "$want" >"$stamp"
echo "setup-python: $VENV ready"
