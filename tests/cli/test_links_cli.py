"""`hippograph memories links|link|unlink` through typer's CliRunner, on a SQLite file and on
PostgreSQL (the same commands, the same output)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from hippograph.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def _run(db: str, *args: str):
    return runner.invoke(app, [*args, "--user", "alice", "--store", db])


def _add(db: str, text: str) -> str:
    added = _run(db, "memories", "add", text)
    assert added.exit_code == 0, added.output
    match = re.search(r"added (\S+):", added.output)
    assert match, added.output
    return match.group(1)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    """Where the memories live: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "m.db")


def test_link_show_and_unlink(db):
    porto, daughter = _add(db, "Lives in Porto"), _add(db, "Has a daughter, Inês")

    linked = _run(db, "memories", "link", daughter, porto, "-r", "family", "-w", "0.8")
    assert linked.exit_code == 0, linked.output
    assert f"linked {daughter} → {porto} (family)" in linked.output
    shown = _run(db, "memories", "links", porto)
    assert (
        "←" in shown.output and "family" in shown.output and "Has a daughter, Inês" in shown.output
    )
    assert "0.80" in shown.output and "1 link" in shown.output

    history = _run(db, "memories", "history")
    assert "LINK" in history.output and f"→ {porto} (family, weight 0.80)" in history.output

    gone = _run(db, "memories", "unlink", porto, daughter)  # either way round
    assert gone.exit_code == 0 and f"unlinked {daughter} → {porto} (family)" in gone.output
    again = _run(db, "memories", "unlink", porto, daughter)
    assert again.exit_code == 3 and "no link between" in again.output
    assert "0 links" in _run(db, "memories", "links", porto).output


def test_bad_link_commands_fail_clearly(tmp_path):
    db = str(tmp_path / "m.db")
    one = _add(db, "Lives in Porto")
    missing = _run(db, "memories", "link", one, "nope")
    assert missing.exit_code == 3 and "no memory 'nope'" in missing.output
    two = _add(db, "Works at Acme")
    bad = _run(db, "memories", "link", one, two, "--weight", "3")
    assert bad.exit_code == 4 and "weight" in bad.output
    assert _run(db, "memories", "links", "nope").exit_code == 3
