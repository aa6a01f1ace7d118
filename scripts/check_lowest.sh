#!/usr/bin/env bash
# Lowest-versions check: a fresh venv with the lowest versions pyproject.toml's floors allow
# (uv --resolution lowest-direct) for the core dependencies and the test extra, then the
# core tests (no UI, eval, bench or PostgreSQL: those extras are not installed; the CLI's
# subprocess suite, tests/cli/test_bad_input.py, runs in the main job only, to keep CI short).
# Needs ./.venv with uv (scripts/test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(mktemp -d "${TMPDIR:-/tmp}/hippograph-lowest.XXXXXX")
trap 'rm -rf "$VENV"' EXIT

echo "== lowest versions: install the floors into $VENV"
"${PYTHON:-python3}" -m venv "$VENV"
.venv/bin/python -m uv pip install --quiet --python "$VENV/bin/python" \
  --resolution lowest-direct -e ".[test]"
.venv/bin/python -m uv pip list --python "$VENV/bin/python" 2>/dev/null |
  grep -E '^(langgraph|langgraph-checkpoint|langgraph-checkpoint-sqlite|langchain|langchain-core|faiss-cpu|numpy|onnxruntime|pydantic|typer) ' |
  awk '{printf "%s==%s  ", $1, $2} END {print ""}'

echo "== lowest versions: core tests"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not postgres" \
  --ignore=tests/store/test_postgres.py --ignore=tests/store/test_expect.py \
  --ignore=tests/cli/test_bad_input.py \
  tests/store tests/graph tests/nodes tests/cli \
  tests/test_api.py tests/test_config.py tests/test_memories.py tests/test_memory_links.py \
  tests/test_recalls.py tests/test_scripted.py tests/test_turns.py
