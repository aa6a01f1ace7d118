"""`hippograph memories …`: list, search, add, edit, delete, history, export, import, and
(from `cli/links.py`) links, link, unlink."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from hippograph.cli import links as link_commands
from hippograph.cli._common import (
    StoreOption,
    UserOption,
    console,
    fail,
    load_settings,
    open_manager,
)
from hippograph.store.ranking.explain import describe

if TYPE_CHECKING:
    from hippograph.store import Memory

app = typer.Typer(help="Browse and change one user's memories.", no_args_is_help=True)
app.command("links")(link_commands.show)
app.command("link")(link_commands.link)
app.command("unlink")(link_commands.unlink)

_KEYS = typer.Argument(None, help="Keys of the memories to delete.", show_default=False)


def _table(memories: list[Memory], scores: list[float] | None = None) -> Table:
    table = Table(show_lines=False, header_style="bold")
    table.add_column("key", no_wrap=True, style="dim")
    if scores is not None:
        table.add_column("score", justify="right")
    table.add_column("content", overflow="fold")
    table.add_column("category")
    table.add_column("importance", justify="right")
    table.add_column("stated")
    for n, memory in enumerate(memories):
        row = [memory.id]
        if scores is not None:
            row.append(f"{scores[n]:.3f}")
        row += [
            escape(memory.content),
            memory.category,
            f"{memory.importance:.2f}",
            memory.timestamp.strftime("%Y-%m-%d %H:%M"),
        ]
        table.add_row(*row)
    return table


def _date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{option} must be an ISO date such as 2024-05-01, got {value!r}") from exc


@app.command("list")
def list_memories(
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    category: str | None = typer.Option(None, "--category", "-c"),
    min_importance: float | None = typer.Option(None, "--min-importance"),
    max_importance: float | None = typer.Option(None, "--max-importance"),
    since: str | None = typer.Option(None, "--since", help="ISO date, inclusive."),
    until: str | None = typer.Option(None, "--until", help="ISO date, inclusive."),
    text: str | None = typer.Option(None, "--text", help="Substring of the content."),
    limit: int = typer.Option(50, "--limit", "-n"),
) -> None:
    """List memories, newest first, filtered by category, importance, date or text."""
    with open_manager(user=user, store=store) as manager:
        found = manager.list(
            category=category,
            min_importance=min_importance,
            max_importance=max_importance,
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            text=text,
            limit=limit,
        )
        total = manager.count()
    console.print(_table(found))
    console.print(f"[dim]{len(found)} shown, {total} stored for {escape(manager.user_id)}[/]")


@app.command()
def search(
    query: str,
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    limit: int = typer.Option(10, "--limit", "-n"),
    category: str | None = typer.Option(None, "--category", "-c"),
    explain: bool = typer.Option(False, "--explain", help="Show what each score is made of."),
) -> None:
    """Search memories by meaning; shows similarity scores (and with --explain, why)."""
    with open_manager(user=user, store=store) as manager:
        hits = manager.search(query, limit=limit, category=category, explain=explain)
    console.print(_table([h.memory for h in hits], [h.score for h in hits]))
    if explain:
        for hit in hits:
            console.print(f"[dim]{hit.memory.id}[/] {escape(describe(hit.explain or {}))}")


@app.command()
def add(
    content: str,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    category: str = typer.Option("other", "--category", "-c"),
    importance: float = typer.Option(0.5, "--importance", "-i"),
) -> None:
    """Add a memory by hand."""
    with open_manager(user=user, store=store) as manager:
        try:
            memory = manager.add(content, category=category, importance=importance)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    console.print(f"[green]added[/] {memory.id}: {escape(memory.content)}")


@app.command()
def edit(
    key: str,
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    content: str | None = typer.Option(None, "--content"),
    category: str | None = typer.Option(None, "--category", "-c"),
    importance: float | None = typer.Option(None, "--importance", "-i"),
) -> None:
    """Change a memory's content, category or importance."""
    from hippograph.memories import MemoryNotFoundError

    if content is None and category is None and importance is None:
        raise fail("nothing to change: give --content, --category and/or --importance")
    with open_manager(user=user, store=store) as manager:
        try:
            memory = manager.edit(key, content=content, category=category, importance=importance)
        except MemoryNotFoundError as exc:
            raise fail(f"no memory {key!r} for this user") from exc
        except ValueError as exc:
            raise fail(str(exc)) from exc
    console.print(
        f"[yellow]updated[/] {memory.id}: {escape(memory.content)} "
        f"[dim]({memory.category}, {memory.importance:.2f})[/]"
    )


@app.command()
def delete(
    keys: list[str] | None = _KEYS,
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    all_memories: bool = typer.Option(
        False,
        "--all",
        help="Erase every memory of the user with its history, recall counts and the "
        "user's conversation threads (right to erasure).",
    ),
    keep_threads: bool = typer.Option(
        False, "--keep-threads", help="With --all: keep the conversation checkpoints."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete memories by key, or erase all of a user's memories (--all)."""
    if all_memories:
        if keys:
            raise fail("give either keys or --all, not both")
        _erase_all(user=user, store=store, keep_threads=keep_threads, yes=yes)
        return
    if not keys:
        raise fail("give the keys of the memories to delete, or --all")
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Delete {len(keys)} memor{'y' if len(keys) == 1 else 'ies'}?", abort=True)
    with open_manager(user=user, store=store) as manager:
        deleted = manager.delete(keys)
    for key in deleted:
        console.print(f"[red]deleted[/] {key}")
    missing = [k for k in keys if k not in deleted]
    if missing:
        raise fail(f"not found: {', '.join(missing)}")


def _erase_all(*, user: str | None, store: str | None, keep_threads: bool, yes: bool) -> None:
    from hippograph.erasure import erase_user

    settings = load_settings(user=user, store=store)
    who = escape(settings.user_id)
    if not yes:
        if not sys.stdin.isatty():
            raise fail("erasing every memory of a user needs --yes when not run interactively")
        with open_manager(user=user, store=store) as manager:
            count = manager.count()
        typer.confirm(
            f"Erase all {count} memories of {settings.user_id!r}, their history"
            + ("" if keep_threads else " and conversations")
            + "? This cannot be undone.",
            abort=True,
        )
    report = erase_user(settings.user_id, settings=settings, threads=not keep_threads, origin="cli")
    console.print(
        f"[red]erased[/] {report.store.items} memories of {who} "
        f"({report.store.history} history rows, {report.recall_counts} recall counts, "
        f"{len(report.threads)} conversation threads)"
    )
    if not report.store.compacted:
        console.print(
            "[yellow]the store could not be compacted now (another process was reading); "
            "the erased bytes are overwritten at its next checkpoint[/]"
        )


@app.command()
def history(
    key: str | None = typer.Argument(None, help="One memory's key (default: all)."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    limit: int = typer.Option(50, "--limit", "-n"),
) -> None:
    """Show the audit trail: every add, update, delete and link change, with old and new
    text and source."""
    from hippograph.memories import HistoryUnavailableError

    with open_manager(user=user, store=store) as manager:
        try:
            entries = manager.history(key, limit=limit)
        except HistoryUnavailableError as exc:
            raise fail(str(exc)) from exc
    table = Table(header_style="bold")
    table.add_column("at", no_wrap=True)
    table.add_column("op")
    table.add_column("key", no_wrap=True, style="dim")
    for column in ("old → new", "source"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        old = (entry["old"] or {}).get("content", "")
        new = (entry["new"] or {}).get("content", "")
        if entry["op"] in ("LINK", "UNLINK"):
            change = link_commands.describe_link_change(entry)
        elif old and new and old != new:
            change = f"{old} → {new}"
        elif old and new:
            change = f"{new} (sources merged)"
        else:
            change = new or old
        source = entry["source"] or {}
        origin = source.get("origin") or f"thread {source.get('thread_id')}"
        table.add_row(
            entry["at"].strftime("%Y-%m-%d %H:%M:%S"),
            entry["op"],
            entry["key"],
            escape(str(change)),
            escape(str(origin)),
        )
    console.print(table)


@app.command()
def prune(
    below_importance: float = typer.Option(
        ..., "--below-importance", min=0.0, max=1.0, help="Prune memories less important."
    ),
    older_than: float = typer.Option(
        ..., "--older-than", min=0.0, help="…and stated more than this many days ago."
    ),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
) -> None:
    """Forget minor, old memories; without --yes, lists them and asks (or only lists)."""
    from datetime import timedelta

    age = timedelta(days=older_than)
    with open_manager(user=user, store=store) as manager:
        doomed = manager.prune(below_importance=below_importance, older_than=age, dry_run=True)
        if not doomed:
            console.print("nothing to prune")
            return
        console.print(_table(doomed))
        if not yes:
            if not sys.stdin.isatty():
                console.print(f"dry run: {len(doomed)} memories would be pruned; add --yes")
                return
            typer.confirm(f"Delete these {len(doomed)} memories?", abort=True)
        deleted = manager.delete([memory.id for memory in doomed])
    console.print(f"[red]pruned[/] {len(deleted)} memories")


@app.command("export")
def export_memories(
    path: str = typer.Argument("-", help="Output file, or - for stdout."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
) -> None:
    """Export memories as JSONL (one memory per line)."""
    with open_manager(user=user, store=store) as manager:
        count = manager.export_jsonl(sys.stdout if path == "-" else path)
    if path != "-":
        console.print(f"exported {count} memories to {escape(path)}")


@app.command("import")
def import_memories(
    path: str = typer.Argument(..., help="JSONL file, or - for stdin."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid lines even if some are invalid."
    ),
) -> None:
    """Import memories from JSONL; a file with invalid lines imports nothing unless told."""
    from hippograph.memories import ImportValidationError

    with open_manager(user=user, store=store) as manager:
        try:
            report = manager.import_jsonl(
                sys.stdin if path == "-" else path, skip_invalid=skip_invalid
            )
        except ImportValidationError as exc:
            for error in exc.errors:
                console.print(f"[red]line {error.line}:[/] {escape(error.error)}")
            raise fail(f"{len(exc.errors)} invalid line(s); nothing imported") from exc
        except UnicodeDecodeError as exc:  # stdin; files name the bad line instead
            raise fail(f"input is not valid UTF-8 ({exc.reason}); nothing imported") from exc
        except OSError as exc:
            raise fail(str(exc)) from exc
    for error in report.skipped:
        console.print(f"[yellow]skipped line {error.line}:[/] {escape(error.error)}")
    console.print(f"imported {report.imported} memories")
