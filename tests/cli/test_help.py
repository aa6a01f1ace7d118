"""The CLI's help, for every command: readable, complete, and true to the store's rules.

In-process through typer's runner (every command), plus once through the real executable.
It also runs in the lowest-versions CI job, where typer renders help differently.
"""

from __future__ import annotations

from collections.abc import Iterator

from tests.cli.test_bad_input import run


def test_help_has_no_type_placeholders_and_every_option_explained() -> None:
    from typer.main import get_command
    from typer.testing import CliRunner

    from hippograph.cli import app

    def walk(command: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    runner = CliRunner(env={"COLUMNS": "80"})
    for path, command in walk(get_command(app), []):
        undocumented = [
            param.name
            for param in getattr(command, "params", [])
            if param.param_type_name == "option" and not getattr(param, "help", None)
        ]
        assert not undocumented, (path, undocumented)
        shown = runner.invoke(app, [*path, "--help"]).output
        usage = next(line for line in shown.splitlines() if "Usage:" in line)
        assert "<bool>" not in shown and "{" not in usage, (path, shown)
    shown = run("memories", "search", "--help").stdout  # and the real executable
    assert "Usage: hippograph memories search [OPTIONS] QUERY" in shown and "<bool>" not in shown
    from hippograph.cli.memories import CATEGORY_NAMES, CONTENT_LIMIT
    from hippograph.store.memory import CATEGORIES, MAX_CONTENT_CHARS

    assert ", ".join(CATEGORIES) == CATEGORY_NAMES  # the help texts' copies stay true
    assert f"{MAX_CONTENT_CHARS:,}" == CONTENT_LIMIT
    wide = CliRunner(env={"COLUMNS": "250"})  # one line per option: no box edges in between
    categories = " ".join(wide.invoke(app, ["memories", "add", "--help"]).output.split())
    assert "tools, skills, preferences, personal, work, habits, goals, other" in categories
