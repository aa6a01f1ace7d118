"""`hippograph memories links|link|unlink`: see and change the links between memories.

Registered on the `memories` app (`hippograph/cli/memories.py`); links are kept by
hippograph's stores (SQLite and PostgreSQL), and other backends say so.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from hippograph.cli._common import (
    StoreOption,
    UserOption,
    console,
    fail,
    open_manager,
    resolve_key,
    short_key,
)
from hippograph.cli.errors import ExitCode


def describe_link_change(entry: Any) -> str:
    """A history entry of a link change (LINK / UNLINK) in words: `→ key (relation)`."""
    link = entry["new"] or entry["old"] or {}
    weight = link.get("weight")
    shown = f", weight {weight:.2f}" if isinstance(weight, int | float) and weight != 1 else ""
    return f"→ {short_key(str(link.get('dst', '?')))} ({link.get('relation', '?')}{shown})"


def show(
    key: str = typer.Argument(..., help="The memory's key, or a unique start of it."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
) -> None:
    """Show a memory's links, both ways, with the text at the other end."""
    from hippograph.memory_links import LinksUnavailableError

    with open_manager(user=user, store=store, create=False) as manager:
        try:
            links = manager.links(resolve_key(manager, key))
        except LinksUnavailableError as exc:
            raise fail(str(exc), ExitCode.STORE_UNAVAILABLE) from exc
    table = Table(header_style="bold")
    table.add_column("way")
    table.add_column("relation")
    table.add_column("key", no_wrap=True, style="dim")
    table.add_column("content", overflow="fold")
    table.add_column("weight", justify="right")
    for link in links:
        table.add_row(
            "→" if link.outgoing else "←",
            escape(link.relation),
            short_key(link.key),
            escape(link.content),
            f"{link.weight:.2f}",
        )
    console.print(table)
    console.print(f"[dim]{len(links)} link{'s' if len(links) != 1 else ''}[/]")


def link(
    src: str = typer.Argument(..., help="Key (or unique start) of the memory it starts from."),
    dst: str = typer.Argument(..., help="Key (or unique start) of the memory it points to."),
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    relation: str = typer.Option("related", "--relation", "-r", help="e.g. located_in."),
    weight: float = typer.Option(1.0, "--weight", "-w", help="0..1; searches follow by it."),
) -> None:
    """Link two memories (linking again with the same relation sets the weight)."""
    from hippograph.memory_links import LinksUnavailableError

    with open_manager(user=user, store=store, create=False) as manager:
        ends = resolve_key(manager, src), resolve_key(manager, dst)
        try:
            made = manager.link(*ends, relation, weight=weight)
        except LinksUnavailableError as exc:
            raise fail(str(exc), ExitCode.STORE_UNAVAILABLE) from exc
        except ValueError as exc:
            raise fail(str(exc), ExitCode.INVALID_INPUT) from exc
    console.print(
        f"[green]linked[/] {short_key(made.src)} → {short_key(made.dst)} ({escape(made.relation)})"
    )


def unlink(
    a: str = typer.Argument(..., help="Key (or unique start) of one memory."),
    b: str = typer.Argument(..., help="Key (or unique start) of the other."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    relation: str | None = typer.Option(None, "--relation", "-r", help="Only this relation."),
) -> None:
    """Remove the links between two memories, either way."""
    from hippograph.memory_links import LinksUnavailableError

    with open_manager(user=user, store=store, create=False) as manager:
        ends = resolve_key(manager, a), resolve_key(manager, b)
        try:
            removed = manager.unlink(*ends, relation)
        except LinksUnavailableError as exc:
            raise fail(str(exc), ExitCode.STORE_UNAVAILABLE) from exc
        except ValueError as exc:
            raise fail(str(exc), ExitCode.INVALID_INPUT) from exc
    if not removed:
        raise fail(
            f"no link between {a} and {b}" + (f" ({relation})" if relation else ""),
            ExitCode.NOT_FOUND,
        )
    for gone in removed:
        console.print(
            f"[red]unlinked[/] {short_key(gone.src)} → {short_key(gone.dst)} "
            f"({escape(gone.relation)})"
        )
