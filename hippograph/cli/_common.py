"""What every command shares: the console, settings with CLI overrides, the user's store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from hippograph.config import Settings

if TYPE_CHECKING:
    from hippograph.memories import MemoryManager

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False)

UserOption = typer.Option(None, "--user", "-u", help="User id (default: HIPPOGRAPH_USER or you).")
DbOption = typer.Option(None, "--db", help="SQLite store file (default: HIPPOGRAPH_DB).")


def load_settings(
    *, user: str | None = None, db: str | None = None, model: str | None = None
) -> Settings:
    """`Settings.from_env()` with the command line's overrides."""
    from pathlib import Path

    return Settings.from_env().with_overrides(
        user_id=user, db_path=Path(db).expanduser() if db else None, model=model
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error and return the `Exit` to raise."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def open_manager(settings: Settings, origin: str = "cli") -> Iterator[MemoryManager]:
    """A `MemoryManager` for `settings.user_id` on the configured store."""
    from hippograph.backends import open_store
    from hippograph.memories import MemoryManager

    with open_store(settings=settings) as store:
        yield MemoryManager(store, settings.user_id, origin=origin)
