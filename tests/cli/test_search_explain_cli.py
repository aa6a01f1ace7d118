"""`hippograph memories search --explain` through the installed `hippograph` executable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

EXECUTABLE = Path(sys.executable).with_name("hippograph")


def _hippograph(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "HIPPOGRAPH_MODEL": "", "OPENAI_API_KEY": ""}
    return subprocess.run(
        [str(EXECUTABLE), *args, "--user", "alice", "--store", db],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_search_explain_shows_what_each_score_is_made_of(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    rows = [
        {"content": text, "category": "other"}
        for text in ("My support ticket is QX-4471", "I live in Lisbon", "I drink green tea")
    ]
    source = tmp_path / "memories.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    imported = _hippograph("memories", "import", str(source), db=db)
    assert imported.returncode == 0, imported.stderr
    result = _hippograph("memories", "search", "ticket QX-4471", "--explain", db=db)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "score " in line and " = " in line]
    assert len(lines) == 3
    assert re.search(
        r"score 0\.\d\d = cosine 0\.\d\d, keyword 0\.\d\d \(bm25 \d+\.\d\d\)", lines[0]
    )
    scores = [float(line.split("score ", 1)[1].split(" ", 1)[0]) for line in lines]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert "keyword 0.00 (bm25 0.00)" in lines[-1]  # shares no word with the query
