#!/usr/bin/env bash
# Packaging check: build the sdist and, from it, the wheel; install the wheel (not editable)
# with the core dependencies only into a fresh venv outside the checkout; then use it as a
# new user would: --help, add, search, one offline chat turn, and the one-line error of a
# missing extra. Needs ./.venv with uv (scripts/test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hippograph-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== wheel: build sdist, then the wheel from the sdist"
.venv/bin/python -m uv build --quiet --out-dir "$WORK/dist" "$ROOT"
WHEEL=$(ls "$WORK"/dist/hippograph-*.whl)

echo "== wheel: install $(basename "$WHEEL") into a fresh venv in $WORK"
"${PYTHON:-python3}" -m venv "$WORK/venv"
.venv/bin/python -m uv pip install --quiet --python "$WORK/venv/bin/python" "$WHEEL"

cd "$WORK"  # outside the checkout: nothing can be imported from it
export HIPPOGRAPH_DB="$WORK/data/memories.db" HIPPOGRAPH_USER=smoke
unset HIPPOGRAPH_MODEL HIPPOGRAPH_BASE_URL HIPPOGRAPH_STORE_URL HIPPOGRAPH_EMBEDDINGS OPENAI_API_KEY
BIN="$WORK/venv/bin"

"$BIN/python" - <<'PY'
import importlib.util
import hippograph
from hippograph import build_agent  # noqa: F401  (public API resolves)

assert "site-packages" in hippograph.__file__, hippograph.__file__
for name in ("hippograph.cli", "hippograph.store", "hippograph.graph", "hippograph.nodes",
             "hippograph.prompts", "hippograph.ui", "hippograph.eval", "hippograph.bench"):
    assert importlib.util.find_spec(name) is not None, f"{name} missing from the wheel"
for name in ("hippograph.reliability", "hippograph.pgserver", "tests", "benchmarks"):
    assert importlib.util.find_spec(name) is None, f"{name} must not be installed"
print("wheel contents: ok")
PY

expect() {  # expect TEXT OUTPUT: fail unless OUTPUT contains TEXT
  if [[ "$2" != *"$1"* ]]; then
    echo "wheel smoke test: expected '$1' in:" >&2
    echo "$2" >&2
    exit 1
  fi
}
expect "memories" "$("$BIN/hippograph" --help)"
expect "added" "$("$BIN/hippograph" memories add "I live in Lisbon and work at Acme" -c personal)"
expect "Lisbon" "$("$BIN/hippograph" memories search "Where do I live?")"
chat=$(printf 'I use NeoVim every day.\nWhich editor do I use?\n' | "$BIN/hippograph" chat)
expect "ADDED" "$chat"
expect "NeoVim" "$chat"
expect_missing_extra() {  # expect_missing_extra EXTRA COMMAND...: exit 6 naming the extra
  local extra=$1 out code
  shift
  set +e
  out=$("$BIN/hippograph" "$@" 2>&1)
  code=$?
  set -e
  [ "$code" = 6 ] || { echo "hippograph $*: exit $code, expected 6:" >&2; echo "$out" >&2; exit 1; }
  expect "pip install 'hippograph[$extra]'" "$out"
}
expect_missing_extra ui ui
expect_missing_extra postgres memories list --store "postgresql://u:secret@127.0.0.1:1/db"
echo "wheel smoke test: ok ($(du -sh "$WORK/venv" | cut -f1) venv with core dependencies)"
