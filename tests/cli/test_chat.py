"""`hippograph chat` driven through stdin, the way a script (or CI) uses it."""

from __future__ import annotations

from typer.testing import CliRunner

from hippograph.cli import app
from hippograph.cli.chat import render_ops

runner = CliRunner(env={"COLUMNS": "200"})


def test_offline_chat_session(tmp_path):
    db = str(tmp_path / "chat.db")
    turns = [
        "I live in Berlin, near the river.",
        "I code mostly in Python.",
        "Where do I live?",
        "I code mostly in Python.",
        "Please forget where I live.",
        "Where do I live?",
        "/exit",
        "never read",
    ]
    result = runner.invoke(
        app, ["chat", "--user", "alice", "--db", db, "--thread", "s1"], input="\n".join(turns)
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "No chat model is configured" in out and "HIPPOGRAPH_MODEL=openai:gpt-4o-mini" in out
    assert out.count("+ ADDED") == 2
    assert "I live in Berlin, near the river. (0." in out  # recalled with a score
    assert "= NOOP    I code mostly in Python. (duplicate)" in out
    assert "- DELETED I live in Berlin, near the river." in out
    last_answer = out.rsplit("you › Where do I live?", 1)[1]
    assert "Berlin" not in last_answer
    assert "never read" not in out

    listed = runner.invoke(app, ["memories", "list", "--user", "alice", "--db", db])
    assert "I code mostly in Python." in listed.output and "Berlin" not in listed.output


def test_unknown_provider_is_a_clear_error(tmp_path):
    result = runner.invoke(
        app, ["chat", "--db", str(tmp_path / "x.db"), "--model", "nosuchprovider:model"], input=""
    )
    assert result.exit_code == 8  # ExitCode.MODEL_UNAVAILABLE
    assert "Cannot initialise model 'nosuchprovider:model'" in result.output


def test_render_ops_shows_updates(capsys):
    render_ops(
        {
            "recalled": [{"content": "Codes in Python", "score": 0.71}],
            "ops": [{"op": "UPDATE", "content": "Codes in Java", "old_content": "Codes in Python"}],
        }
    )
    out = capsys.readouterr().out
    assert "recalled: Codes in Python (0.71)" in out
    assert "~ UPDATED Codes in Python → Codes in Java" in out
