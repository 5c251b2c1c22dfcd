#!/usr/bin/env bash
# Install everything the test suite needs and run it. Used by the README and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[test]'
if [ -f package.json ] && command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund || npm install --silent --no-audit --no-fund
fi
ruff check src tests bench scripts
lint-imports
mypy
pytest "$@"
