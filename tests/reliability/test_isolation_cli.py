"""Every `hippograph memories` read command run as user A shows none of user B's memories,
for user ids built to collide."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hippograph.backends import open_checkpointer
from hippograph.cli import app
from hippograph.config import Settings
from hippograph.recalls import RecallLog

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


def test_nothing_one_user_supplies_reaches_another_users_data(tmp_path: Path) -> None:
    """Bob knows Alice's memory keys and thread id and uses them everywhere the CLI takes
    one — import (keys, links, provenance), link, edit, delete, history, links, chat — and
    is then erased: Alice's memories, links, history, recall counts and conversation are
    exactly as before."""
    db = str(tmp_path / "data" / "m.db")

    def cli(user: str, *args: str, input: str | None = None) -> Any:
        return runner.invoke(app, [*args, "--user", user, "--db", db], input=input)

    said = "My locker code is zqxalice.\nI keep bees in Lisbon.\nWhere do I keep bees?\n/exit"
    assert cli("alice", "chat", "--thread", "alice-t", input=said).exit_code == 0
    listed = json.loads(
        "[" + ",".join(cli("alice", "memories", "export", "-").output.splitlines()) + "]"
    )
    keys = [line["key"] for line in listed]
    assert cli("alice", "memories", "link", keys[0], keys[1], "-r", "same_person").exit_code == 0
    before = _alice_view(cli, db, keys)

    crafted = tmp_path / "bob.jsonl"
    lines = [
        {"key": keys[0], "content": "Bob owns zzbtaken", "links": [{"key": keys[1]}]},
        {"content": "Bob's note", "source": {"thread_id": "alice-t"}},
    ]
    crafted.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    imported = cli("bob", "memories", "import", str(crafted))
    assert imported.exit_code == 0, imported.output
    bob_key = next(m["key"] for m in _export(cli, "bob") if m["content"] == "Bob's note")
    for args in (
        ("memories", "link", bob_key, keys[1]),
        ("memories", "edit", keys[1], "--content", "zzb"),
        ("memories", "delete", keys[1], "--yes"),
        ("memories", "unlink", keys[0], keys[1]),
    ):
        refused = cli("bob", *args)
        assert refused.exit_code != 0 and "Traceback" not in refused.output, args
    for args in (("memories", "history", keys[1]), ("memories", "links", keys[0])):
        assert "zqxalice" not in cli("bob", *args).output and "bees" not in cli("bob", *args).output
    assert cli("bob", "chat", "--thread", "alice-t", input="hi\n/exit").exit_code == 7
    assert cli("bob", "memories", "delete", "--all", "--yes").exit_code == 0

    assert _alice_view(cli, db, keys) == before


def _export(cli: Any, user: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli(user, "memories", "export", "-").output.splitlines()]


def _alice_view(cli: Any, db: str, keys: list[str]) -> dict[str, Any]:
    """What Alice sees of her data through the CLI, plus her conversation and counts."""
    settings = Settings(db_path=Path(db))
    with open_checkpointer(settings=settings) as saver:
        checkpoint = saver.get_tuple({"configurable": {"thread_id": "alice-t"}})
    assert checkpoint is not None
    log = RecallLog.for_settings(settings)
    try:
        counts = [(c.key, c.count) for c in log.top("alice")]
    finally:
        log.close()
    assert counts, "the question recalled something"
    return {
        "export": _export(cli, "alice"),
        "history": cli("alice", "memories", "history").output,
        "links": [cli("alice", "memories", "links", key).output for key in keys],
        "conversation": [m.content for m in checkpoint.checkpoint["channel_values"]["messages"]],
        "recalls": counts,
    }
