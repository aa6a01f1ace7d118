"""How the CLI fails: one line on stderr (what went wrong, what to do) and a documented exit code.

Core pieces:
    - `ExitCode`: every exit status `hippograph` returns (the README lists them).
    - `CliError`: a failure carrying that message and code.
    - `translate(exc)`: the `CliError` for a known failure (store, extra, model, data),
      or `None` for a bug, which keeps its traceback.

`hippograph.cli.group.HippographGroup` applies `translate` to whatever any command raises.
"""

from __future__ import annotations

import sqlite3
import sys
from enum import IntEnum

from rich.console import Console
from rich.markup import escape


class ExitCode(IntEnum):
    """Exit statuses of the `hippograph` command."""

    OK = 0
    FAILED = 1
    """A command did not do all it was asked (e.g. some keys were not found), or a bug."""
    USAGE = 2
    """Bad option, argument, user id or store URL (click's own code for usage errors)."""
    NOT_FOUND = 3
    """No such memory, store file, input file or directory."""
    INVALID_INPUT = 4
    """Data refused: content over the limit, a bad JSONL file, a binary file."""
    STORE_UNAVAILABLE = 5
    """The store cannot do it: it cannot be opened or written (read-only, not a database,
    server down), or its backend lacks the feature (links or history on PostgreSQL)."""
    MISSING_EXTRA = 6
    """The command needs an extra that is not installed (`pip install 'hippograph[...]'`)."""
    REFUSED = 7
    """Nothing done without consent: an existing file without --force, a destructive
    command without --yes when not interactive, or a confirmation answered no."""
    MODEL_UNAVAILABLE = 8
    """The chat model cannot be loaded or called."""


_errors = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A user-facing failure: printed as `error: <message>` on one line, exit `code`
    (`HippographGroup` prints it and exits; the message never spans lines)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        self.message = " ".join(message.split())
        self.exit_code = int(code)
        super().__init__(self.message)

    def show(self) -> None:
        """Print the one-line message to stderr."""
        _errors.print(f"[bold red]error:[/] {escape(self.message)}")


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The exception classes `names` of `module` if it is imported (else none can have been
    raised), without importing it: a failure must not pay for loading the store or models."""
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names) if loaded else ()


def translate(exc: BaseException) -> CliError | None:
    """The `CliError` a known failure becomes, or `None` (an unexpected error: a bug)."""
    if isinstance(exc, CliError):
        return exc
    known = [
        (_loaded("hippograph.extras", "MissingExtraError"), ExitCode.MISSING_EXTRA),
        (_loaded("hippograph.config", "StoreTargetError"), ExitCode.USAGE),
        (_loaded("hippograph.backends", "StoreNotFoundError"), ExitCode.NOT_FOUND),
        (_loaded("hippograph.backends", "StoreUnavailableError"), ExitCode.STORE_UNAVAILABLE),
        (
            _loaded("hippograph.memory.chat_models", "ModelUnavailableError", "ModelCallError"),
            ExitCode.MODEL_UNAVAILABLE,
        ),
    ]
    for kinds, code in known:
        if kinds and isinstance(exc, kinds):
            return CliError(str(exc).splitlines()[0], code)
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
        return CliError(
            f"cannot write to the store ({exc}): make the store file and its directory "
            "writable, or point --store / HIPPOGRAPH_DB at a writable location",
            ExitCode.STORE_UNAVAILABLE,
        )
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return CliError(
            f"the store is not a hippograph store (SQLite: {exc}): point --store / "
            "HIPPOGRAPH_DB at a store file",
            ExitCode.STORE_UNAVAILABLE,
        )
    return None
