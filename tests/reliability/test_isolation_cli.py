"""Every `hippograph memories` read command run as user A shows none of user B's memories,
for user ids built to collide."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hippograph.cli import app

runner = CliRunner(env={"COLUMNS": "250"})
PAIRS = [("alice", "alice2"), ("*", "alice"), ("alice.x", "alice%2Ex"), ("al_ce", "alice")]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=["prefix", "wildcard", "dots", "underscore"])
def test_cli_reads_only_the_users_memories(tmp_path: Path, a: str, b: str) -> None:
    db = str(tmp_path / "m.db")

    def cli(user: str, *args: str) -> str:
        result = runner.invoke(app, ["memories", *args, "--user", user, "--db", db])
        assert result.exit_code == 0, result.output
        return result.output

    cli(a, "add", "Drinks green tea every morning")
    added = cli(b, "add", "Drinks zzbsecret tea at night")
    b_key = added.split()[1].rstrip(":")
    for args in (
        ("list",),
        ("list", "--text", "zzbsecret"),
        ("search", "zzbsecret tea at night"),
        ("history",),
        ("export", "-"),
    ):
        out = cli(a, *args)
        assert "zzbsecret" not in out and b_key not in out, args
    assert "green tea" in cli(a, "list")
    missing = runner.invoke(app, ["memories", "history", b_key, "--user", a, "--db", db])
    assert "zzbsecret" not in missing.output
    gone = runner.invoke(app, ["memories", "delete", b_key, "--user", a, "--db", db, "--yes"])
    assert gone.exit_code == 3 and "no memory" in gone.output  # ExitCode.NOT_FOUND
    assert "zzbsecret" in cli(b, "list")
