"""The `hippograph` command line: one typer app, one module per command group.

Core pieces:
    - `app`: the root typer app; `main()`: the console-script entry point.
    - `chat` (REPL), `memories …` (browse and edit), `doctor` (configuration check),
      `mcp` (serve the memories to MCP clients).

Other workstreams register their own typer apps here with one `add_typer` line each
(`hippograph eval …`, `bench`, `ui`, `migrate`). Command modules import heavy libraries
inside their functions, so `hippograph --help` stays fast.
"""

from __future__ import annotations

import typer

from hippograph import migrate
from hippograph.bench import cli as bench_cli
from hippograph.cli import chat, doctor, mcp_command, memories
from hippograph.cli.group import HippographGroup
from hippograph.eval import cli as eval_cli
from hippograph.ui import cli as ui_cli

app = typer.Typer(
    name="hippograph",
    cls=HippographGroup,
    help="Long-term memory for LLM agents: chat, browse memories, check the setup.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("chat")(chat.chat)
app.command("doctor")(doctor.doctor)
app.add_typer(memories.app, name="memories")
app.command("migrate")(migrate.migrate)
app.command("ui")(ui_cli.ui)
app.command("mcp")(mcp_command.mcp)
app.add_typer(eval_cli.app, name="eval")
app.add_typer(bench_cli.app, name="bench")


def _start_tracing() -> None:
    """`HIPPOGRAPH_TRACING=otlp`: trace every command's runs (a bad setting exits with 2, a
    missing `tracing` extra with 6)."""
    from hippograph.cli._common import fail
    from hippograph.cli.errors import ExitCode
    from hippograph.config import TracingConfigError
    from hippograph.tracing import TracingUnavailableError, setup_tracing

    try:
        setup_tracing()
    except (TracingConfigError, TracingUnavailableError) as exc:
        code = ExitCode.USAGE if isinstance(exc, TracingConfigError) else ExitCode.MISSING_EXTRA
        error = fail(str(exc), code)
        error.show()
        raise SystemExit(error.exit_code) from None


def main() -> None:
    """Entry point of the `hippograph` console script."""
    _start_tracing()
    app()
