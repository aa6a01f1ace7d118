"""`hippograph memories …` and `hippograph doctor` through typer's CliRunner, on a SQLite
file and on a PostgreSQL URL given with `--store` (or its alias `--db`)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from hippograph.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def _run(db: str, *args: str, input: str | None = None, option: str = "--store"):
    result = runner.invoke(app, [*args, "--user", "alice", option, db], input=input)
    return result


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path) -> str:
    """What `--store` is given: a SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "m.db")
    return str(request.getfixturevalue("pg_url"))


def test_memories_commands(store_target, tmp_path):
    db = store_target
    added = _run(db, "memories", "add", "Uses NeoVim daily", "-c", "tools", "-i", "0.7")
    assert added.exit_code == 0, added.output
    match = re.search(r"added (\S+):", added.output)
    assert match, added.output
    key = match.group(1)
    _run(db, "memories", "add", "Lives in Lisbon", "-c", "personal")

    listed = _run(db, "memories", "list", "--category", "tools")
    assert "Uses NeoVim daily" in listed.output and "Lisbon" not in listed.output
    found = _run(db, "memories", "search", "text editor")
    assert found.output.index("NeoVim") < found.output.index("Lisbon")

    edited = _run(db, "memories", "edit", key, "--importance", "0.9", "--content", "Uses NeoVim")
    assert "updated" in edited.output and "0.90" in edited.output
    bad = _run(db, "memories", "edit", key, "--importance", "3")
    assert bad.exit_code == 4 and "importance" in bad.output

    history = _run(db, "memories", "history", key)
    assert "UPDATE" in history.output and "Uses NeoVim daily → Uses NeoVim" in history.output

    exported = tmp_path / "out.jsonl"
    assert _run(db, "memories", "export", str(exported)).exit_code == 0
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {line["content"] for line in lines} == {"Uses NeoVim", "Lives in Lisbon"}

    refused = _run(db, "memories", "delete", key, "nope", "--yes")
    assert refused.exit_code == 3 and "no memory 'nope'" in refused.output  # nothing deleted
    deleted = _run(db, "memories", "delete", key, "--yes")
    assert deleted.exit_code == 0 and f"deleted {key}" in deleted.output

    reimported = _run(db, "memories", "import", str(exported))  # the deleted one comes back
    assert "imported 1 memories, 1 kept as stored" in reimported.output
    assert "already stored (same updated_at)" in reimported.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"content": "ok"}\n{oops\n')
    failed = _run(db, "memories", "import", str(broken))
    assert failed.exit_code == 4 and "line 2:" in failed.output
    assert "nothing imported" in failed.output


def test_doctor(tmp_path):
    db = str(tmp_path / "d.db")
    _run(db, "memories", "add", "Has a cat", option="--db")
    result = _run(db, "doctor", option="--db")
    assert result.exit_code == 0, result.output
    assert "offline: no model configured" in result.output
    assert re.search(r"memories of alice\s+1", result.output)
    assert db in result.output and str(tmp_path / "d-checkpoints.db") in result.output
    assert re.search(r"backend\s+SQLite \(FaissSqliteStore\)", result.output)
    assert re.search(r"hybrid search\s+yes", result.output)


def test_doctor_on_postgres_names_the_backend_and_its_extras(pg_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HIPPOGRAPH_DB", str(tmp_path / "never-opened.db"))
    _run(pg_url, "memories", "add", "Has a cat")
    result = _run(pg_url, "doctor")
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"backend\s+PostgreSQL \(PostgresMemoryStore\)", out)
    assert re.search(r"checkpoints\s+PostgresSaver, in the store's database", out)
    assert re.search(r"memories of alice\s+1", out)
    for extra in ("history", "count", "erasure", "links", "verify", "hybrid search"):
        assert re.search(rf"{extra}\s+yes", out), extra
    assert re.search(r"index snapshots\s+no: .*vectors live in the database", out)
    assert not (tmp_path / "never-opened.db").exists()


def test_store_overrides_the_environment(pg_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HIPPOGRAPH_STORE_URL", pg_url)
    assert _run(pg_url, "memories", "add", "Lives in Porto").exit_code == 0
    local = str(tmp_path / "local.db")
    assert _run(local, "memories", "add", "Lives in Lisbon").exit_code == 0
    listed_local = _run(local, "memories", "list").output  # --store beats the URL
    assert "1 shown, 1 stored" in listed_local and "Lisbon" in listed_local
    listed = runner.invoke(app, ["memories", "list", "--user", "alice"])  # the URL from the env
    assert "Lives in Porto" in listed.output


def test_add_refuses_a_near_duplicate_unless_asked(tmp_path):
    """`memories add` follows chat's and the UI's duplicate rule (exact cosine ≥ 0.95): a
    near-duplicate is refused with exit 7 and the stored memory named; `--allow-duplicate`
    stores it; another user's identical memory is not a duplicate."""
    db = str(tmp_path / "m.db")
    first = _run(db, "memories", "add", "I live in Lisbon")
    key = re.search(r"added (\S+):", first.output).group(1)  # type: ignore[union-attr]
    again = _run(db, "memories", "add", "I live in Lisbon.")
    assert again.exit_code == 7
    assert again.output.strip() == (
        f"error: not added: already remembered as “I live in Lisbon” (similarity 0.98) "
        f"(key {key}); add --allow-duplicate to store it anyway"
    )
    assert _run(db, "memories", "add", "I live in Lisbon.", "--allow-duplicate").exit_code == 0
    other = runner.invoke(
        app, ["memories", "add", "I live in Lisbon", "--user", "bob", "--store", db]
    )
    assert other.exit_code == 0, other.output
    listed = _run(db, "memories", "list")
    assert listed.output.count("I live in Lisbon") == 2
