"""What every command shares: the console, settings with CLI overrides, the user's store.

`--user` and `--store` (alias `--db`) are declared once here and mean the same on every
command: `--store` takes a SQLite file or a `postgresql://` URL and overrides both
`HIPPOGRAPH_DB` and `HIPPOGRAPH_STORE_URL`.
"""

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
StoreOption = typer.Option(
    None,
    "--store",
    "--db",
    help="Memory store: a SQLite file or a postgresql:// URL "
    "(default: HIPPOGRAPH_STORE_URL, else HIPPOGRAPH_DB).",
)


def load_settings(
    *, user: str | None = None, store: str | None = None, model: str | None = None
) -> Settings:
    """`Settings.from_env()` with the command line's overrides."""
    return Settings.from_env().with_overrides(user_id=user, model=model).with_store(store)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error and return the `Exit` to raise."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def open_manager(
    *, user: str | None = None, store: str | None = None, origin: str = "cli"
) -> Iterator[MemoryManager]:
    """A `MemoryManager` for the `--user` on the `--store` (defaults from the environment)."""
    from hippograph.backends import open_store
    from hippograph.memories import MemoryManager

    settings = load_settings(user=user, store=store)
    with open_store(settings=settings) as opened:
        yield MemoryManager(opened, settings.user_id, origin=origin)
