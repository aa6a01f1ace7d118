"""`hippograph memories …` and `hippograph doctor` through typer's CliRunner."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from hippograph.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def _run(db: str, *args: str, input: str | None = None):
    result = runner.invoke(app, [*args, "--user", "alice", "--db", db], input=input)
    return result


def test_memories_commands(tmp_path):
    db = str(tmp_path / "m.db")
    added = _run(db, "memories", "add", "Uses NeoVim daily", "-c", "tools", "-i", "0.7")
    assert added.exit_code == 0, added.output
    key = re.search(r"added (\S+):", added.output).group(1)
    _run(db, "memories", "add", "Lives in Lisbon", "-c", "personal")

    listed = _run(db, "memories", "list", "--category", "tools")
    assert "Uses NeoVim daily" in listed.output and "Lisbon" not in listed.output
    found = _run(db, "memories", "search", "text editor")
    assert found.output.index("NeoVim") < found.output.index("Lisbon")

    edited = _run(db, "memories", "edit", key, "--importance", "0.9", "--content", "Uses NeoVim")
    assert "updated" in edited.output and "0.90" in edited.output
    bad = _run(db, "memories", "edit", key, "--importance", "3")
    assert bad.exit_code == 1 and "importance" in bad.output

    history = _run(db, "memories", "history", key)
    assert "UPDATE" in history.output and "Uses NeoVim daily → Uses NeoVim" in history.output

    exported = tmp_path / "out.jsonl"
    assert _run(db, "memories", "export", str(exported)).exit_code == 0
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {line["content"] for line in lines} == {"Uses NeoVim", "Lives in Lisbon"}

    deleted = _run(db, "memories", "delete", key, "nope", "--yes")
    assert f"deleted {key}" in deleted.output and "not found: nope" in deleted.output
    assert deleted.exit_code == 1

    reimported = _run(db, "memories", "import", str(exported))
    assert "imported 2 memories" in reimported.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"content": "ok"}\n{oops\n')
    failed = _run(db, "memories", "import", str(broken))
    assert failed.exit_code == 1 and "line 2:" in failed.output
    assert "nothing imported" in failed.output


def test_doctor(tmp_path):
    db = str(tmp_path / "d.db")
    _run(db, "memories", "add", "Has a cat")
    result = _run(db, "doctor")
    assert result.exit_code == 0, result.output
    assert "offline (no model)" in result.output
    assert re.search(r"memories of alice\s+1", result.output)
    assert db in result.output
