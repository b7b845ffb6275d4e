#!/usr/bin/env bash
# Make .venv and install a requirements file into it, only when that file changed.
# Usage: scripts/venv.sh requirements.txt|requirements-dev.txt
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
PYTHON=${PYTHON:-python3}

if [[ ! -x .venv/bin/python ]]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv in a package of its own.
    echo "== installing python3-venv"
    rm -rf .venv
    $(scripts/sudo.sh) apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $(scripts/sudo.sh) apt-get install -y -qq python3-venv >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi

stamp=.venv/.installed-$(basename "$requirements")
digest=$(cat "$requirements" requirements.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$digest" ]]; then
  echo "== installing $requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check uv 2>&1 | grep -v "is ignored" || true
  VIRTUAL_ENV=.venv .venv/bin/uv pip install -q -r "$requirements"
  echo "$digest" > "$stamp"
fi
