"""`hippograph ui`: the command line it runs, and its options."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hippograph.cli import app
from hippograph.config import Settings
from hippograph.ui import APP_PATH
from hippograph.ui.cli import streamlit_command


def test_runs_streamlit_on_the_configured_store_without_telemetry(monkeypatch):
    monkeypatch.setenv("HIPPOGRAPH_MODEL", "stale:model")
    settings = Settings(db_path=Path("/data/m.db"), user_id="alice")
    argv, env = streamlit_command(settings, host="127.0.0.1", port=8601)
    assert argv[1:5] == ["-m", "streamlit", "run", str(APP_PATH)]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8601"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--server.headless"] == "true"  # no browser unless asked
    assert env["HIPPOGRAPH_DB"] == "/data/m.db" and env["HIPPOGRAPH_USER"] == "alice"
    assert "HIPPOGRAPH_MODEL" not in env  # offline settings stay offline in the app
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"

    online = settings.with_overrides(model="openai:gpt-4o-mini")
    argv, env = streamlit_command(online, host="0.0.0.0", port=80, open_browser=True)
    assert env["HIPPOGRAPH_MODEL"] == "openai:gpt-4o-mini"
    assert argv[argv.index("--server.headless") + 1] == "false"


def test_help_and_bad_options():
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    for option in ("--user", "--db", "--model", "--host", "--port", "--open", "--demo"):
        assert option in result.output
    assert runner.invoke(app, ["ui", "--port", "0"]).exit_code == 2
