"""`HippographGroup`: the root command group, so every command fails and documents itself alike.

Two jobs, for every command group registered on the app (memories, eval, bench, ui, migrate…):
    - failures: a known exception from any command becomes a one-line `CliError` with its
      exit code (`hippograph.cli.errors.translate`); unknown ones (bugs) keep their traceback;
    - help: flags show no `<bool>` type, arguments show their name in capitals (`QUERY`),
      not `{query}` — typer's defaults, set once here instead of on every parameter.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from hippograph.cli.errors import translate


def _tidy(command: Any) -> None:
    """Give every parameter of `command` (and its subcommands) a readable metavar."""
    params = list(command.params)
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if param.metavar is not None:
            continue
        if param.param_type_name == "option" and getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = (param.name or "value").upper()
            if param.required and hasattr(param, "_usage_display_name"):
                # typer >= 0.20 writes required arguments as {NAME}; click's convention
                # (and ours) is a bare NAME, optional ones in brackets.
                suffix = "..." if param.nargs != 1 else ""
                param._usage_display_name = lambda name=param.metavar + suffix: name
    for sub in getattr(command, "commands", {}).values():
        _tidy(sub)


class HippographGroup(TyperGroup):
    """The root group: tidy help for every command, one-line errors for known failures."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a known failure prints one line and exits with its code."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            error.show()
            raise typer.Exit(error.exit_code) from exc
