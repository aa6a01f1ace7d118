"""What every command shares: the console, settings with CLI overrides, the user's store.

`--user` and `--store` (alias `--db`) are declared once here and mean the same on every
command: `--store` takes a SQLite file or a `postgresql://` URL and overrides both
`HIPPOGRAPH_DB` and `HIPPOGRAPH_STORE_URL`. Read-only commands open the store with
`create=False`, so a mistyped path is reported instead of created.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from hippograph.cli.errors import CliError, ExitCode
from hippograph.config import Settings

if TYPE_CHECKING:
    from hippograph.memories import MemoryManager

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

UserOption = typer.Option(
    None,
    "--user",
    "-u",
    help="User id whose memories to use (default: HIPPOGRAPH_USER, else your OS user name).",
    show_default=False,
)
StoreOption = typer.Option(
    None,
    "--store",
    "--db",
    metavar="PATH|URL",
    help="Memory store: a SQLite file or a postgresql:// URL "
    "(default: HIPPOGRAPH_STORE_URL, else HIPPOGRAPH_DB, else the user data dir).",
    show_default=False,
)


def load_settings(
    *, user: str | None = None, store: str | None = None, model: str | None = None
) -> Settings:
    """`Settings.from_env()` with the command line's overrides, the user id checked."""
    settings = Settings.from_env().with_overrides(model=model).with_store(store)
    if user is not None:
        settings = settings.with_overrides(user_id=user) if user else settings
        if not user.strip() or "\x00" in user:
            raise CliError(
                f"--user must be a non-empty user id without NUL bytes, got {user!r}",
                ExitCode.USAGE,
            )
    return settings


SHORT_KEY = 8
"""Characters of a key shown in tables; any unique prefix is accepted back."""


def short_key(key: str) -> str:
    """A key as tables show it (its first `SHORT_KEY` characters)."""
    return key[:SHORT_KEY]


def resolve_key(manager: MemoryManager, key: str) -> str:
    """The full key `key` (or a unique start of it) names; else a one-line error (exit 3
    when nothing matches, 2 when several keys start with it)."""
    from hippograph.memories import AmbiguousKeyError, MemoryNotFoundError

    try:
        return manager.resolve_key(key)
    except MemoryNotFoundError as exc:
        raise fail(
            f"no memory {key!r} for user {manager.user_id!r}: see `hippograph memories list`",
            ExitCode.NOT_FOUND,
        ) from exc
    except AmbiguousKeyError as exc:
        raise fail(f"{key!r} {exc.problem}: give more characters", ExitCode.USAGE) from exc


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> CliError:
    """The `CliError` to raise: `message` on one line, exit `code`."""
    return CliError(message, code)


def warn(message: str) -> None:
    """Print a one-line warning on stderr."""
    errors.print(f"[bold yellow]warning:[/] {message}")


@contextmanager
def open_manager(
    *, user: str | None = None, store: str | None = None, origin: str = "cli", create: bool = True
) -> Iterator[MemoryManager]:
    """A `MemoryManager` for the `--user` on the `--store` (defaults from the environment).

    Args:
        create: `False` for read-only commands: a store that does not exist is reported
            (`StoreNotFoundError`, exit 3), never created.
    """
    settings = load_settings(user=user, store=store)  # bad input fails before heavy imports
    from hippograph.backends import open_store
    from hippograph.memories import MemoryManager

    with open_store(settings=settings, create=create) as opened:
        yield MemoryManager(opened, settings.user_id, origin=origin)
