"""`hippograph memories …`: list, search, add, edit, delete, history, prune, and
(from `cli/links.py`) links, link, unlink, (from `cli/jsonl.py`) export, import,
(from `cli/profile.py`) profile.

Read-only commands (`list`, `search`, `history`, `export`) never create a store; destructive
ones ask at a terminal and need `--yes` otherwise; `export` never overwrites without
`--force`. Keys may be given shortened, as `list` shows them (a unique prefix).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from hippograph.cli import jsonl as jsonl_commands
from hippograph.cli import links as link_commands
from hippograph.cli import profile as profile_commands
from hippograph.cli._common import (
    StoreOption,
    UserOption,
    console,
    fail,
    load_settings,
    open_manager,
    resolve_key,
    short_key,
)
from hippograph.cli.errors import CliError, ExitCode
from hippograph.store.ranking.explain import describe

if TYPE_CHECKING:
    from hippograph.store import HistoryEntry, Memory

app = typer.Typer(help="Browse and change one user's memories.", no_args_is_help=True)
app.command("links")(link_commands.show)
app.command("link")(link_commands.link)
app.command("unlink")(link_commands.unlink)
app.command("export")(jsonl_commands.export_memories)
app.command("import")(jsonl_commands.import_memories)
app.command("profile")(profile_commands.show_profile)

CATEGORY_NAMES = "tools, skills, preferences, personal, work, habits, goals, other"
"""`hippograph.store.CATEGORIES` for help texts (a test keeps them equal; importing the
store here would slow every `--help`)."""

CONTENT_LIMIT = "8,000"
"""`hippograph.store.memory.MAX_CONTENT_CHARS`, for help texts (kept equal by a test)."""

_KEYS = typer.Argument(
    None, help="Keys (or unique key prefixes) of the memories to delete.", show_default=False
)
_CATEGORY_HELP = f"One of: {CATEGORY_NAMES}."


def _table(memories: list[Memory], scores: list[float] | None = None) -> Table:
    table = Table(show_lines=False, header_style="bold")
    table.add_column("key", no_wrap=True, style="dim")
    if scores is not None:
        table.add_column("score", justify="right", no_wrap=True)
    table.add_column("content", overflow="fold", ratio=1)
    table.add_column("category", no_wrap=True)
    table.add_column("imp.", justify="right", no_wrap=True)
    table.add_column("stated", no_wrap=True)
    for n, memory in enumerate(memories):
        row = [short_key(memory.id)]
        if scores is not None:
            row.append(f"{scores[n]:.2f}")
        row += [
            escape(memory.content),
            memory.category,
            f"{memory.importance:.2f}",
            memory.timestamp.strftime("%Y-%m-%d"),
        ]
        table.add_row(*row)
    return table


def _date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(
            f"{option} must be an ISO date such as 2024-05-01, got {value!r}", ExitCode.USAGE
        ) from exc


def _category(value: str | None) -> str | None:
    """`value` as a known category (synonyms accepted), or a usage error listing them."""
    if value is None:
        return None
    from hippograph.store.memory import CATEGORIES, normalize_category

    category = normalize_category(value)
    if category == "other" and value.strip().lower() != "other":
        raise fail(
            f"unknown category {value!r}: choose one of {', '.join(CATEGORIES)}", ExitCode.USAGE
        )
    return category


def _invalid(exc: ValueError) -> CliError:
    """A refused value (content, importance…) as a one-line error, exit 4."""
    message = str(exc)
    if "limit is" in message:
        message += " (a memory is one fact: shorten it or split it into several)"
    return fail(message, ExitCode.INVALID_INPUT)


def _confirm_or_refuse(question: str, yes: bool, what: str) -> None:
    """Go on with `--yes`; ask at a terminal; refuse (exit 7) otherwise or on "no"."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise fail(
            f"{what} needs --yes when not run interactively; nothing deleted", ExitCode.REFUSED
        )
    if not typer.confirm(question, default=False):
        raise fail("not confirmed; nothing deleted", ExitCode.REFUSED)


@app.command("list")
def list_memories(
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    category: str | None = typer.Option(None, "--category", "-c", help=_CATEGORY_HELP),
    min_importance: float | None = typer.Option(
        None, "--min-importance", min=0.0, max=1.0, help="Only memories at least this important."
    ),
    max_importance: float | None = typer.Option(
        None, "--max-importance", min=0.0, max=1.0, help="Only memories at most this important."
    ),
    since: str | None = typer.Option(None, "--since", help="Stated on or after this ISO date."),
    until: str | None = typer.Option(None, "--until", help="Stated on or before this ISO date."),
    text: str | None = typer.Option(None, "--text", help="Case-insensitive substring."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Show at most this many."),
) -> None:
    """List memories, newest first, filtered by category, importance, date or text."""
    wanted = _category(category)
    with open_manager(user=user, store=store, create=False) as manager:
        found = manager.list(
            category=wanted,
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
    query: str = typer.Argument(..., help="What to look for, in your own words."),
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    limit: int = typer.Option(10, "--limit", "-n", min=1, help="Show at most this many."),
    category: str | None = typer.Option(None, "--category", "-c", help=_CATEGORY_HELP),
    explain: bool = typer.Option(False, "--explain", help="Show what each score is made of."),
) -> None:
    """Search memories by meaning; shows each match's score (higher is closer) and, with
    --explain, what it is made of."""
    wanted = _category(category)
    with open_manager(user=user, store=store, create=False) as manager:
        hits = manager.search(query, limit=limit, category=wanted, explain=explain)
    console.print(_table([h.memory for h in hits], [h.score for h in hits]))
    if explain:
        for hit in hits:
            console.print(f"[dim]{hit.memory.id}[/] {escape(describe(hit.explain or {}))}")


@app.command()
def add(
    content: str = typer.Argument(
        ..., help=f"The memory: one fact, at most {CONTENT_LIMIT} characters."
    ),
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    category: str = typer.Option("other", "--category", "-c", help=_CATEGORY_HELP),
    importance: float = typer.Option(0.5, "--importance", "-i", help="From 0 to 1."),
    allow_duplicate: bool = typer.Option(
        False,
        "--allow-duplicate",
        help="Store it even if a memory this similar is already stored (as chat and the UI "
        "refuse, cosine ≥ 0.95).",
    ),
) -> None:
    """Add a memory by hand (a near-duplicate of a stored one is refused, as in chat)."""
    from hippograph.memories import DuplicateMemoryError

    wanted = _category(category) or "other"
    with open_manager(user=user, store=store) as manager:
        try:
            memory = manager.add(
                content, category=wanted, importance=importance, allow_duplicate=allow_duplicate
            )
        except DuplicateMemoryError as exc:
            raise fail(
                f"not added: {exc} (key {short_key(exc.existing.memory.id)}); add "
                "--allow-duplicate to store it anyway",
                ExitCode.REFUSED,
            ) from exc
        except ValueError as exc:
            raise _invalid(exc) from exc
    console.print(f"[green]added[/] {short_key(memory.id)}: {escape(memory.content)}")


@app.command()
def edit(
    key: str = typer.Argument(..., help="The memory's key, or a unique start of it."),
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    content: str | None = typer.Option(
        None, "--content", help=f"New text (at most {CONTENT_LIMIT} characters)."
    ),
    category: str | None = typer.Option(None, "--category", "-c", help=_CATEGORY_HELP),
    importance: float | None = typer.Option(None, "--importance", "-i", help="From 0 to 1."),
) -> None:
    """Change a memory's content, category or importance."""
    if content is None and category is None and importance is None:
        raise fail(
            "nothing to change: give --content, --category and/or --importance", ExitCode.USAGE
        )
    wanted = _category(category)
    with open_manager(user=user, store=store, create=False) as manager:
        full = resolve_key(manager, key)
        try:
            memory = manager.edit(full, content=content, category=wanted, importance=importance)
        except ValueError as exc:
            raise _invalid(exc) from exc
    console.print(
        f"[yellow]updated[/] {short_key(memory.id)}: {escape(memory.content)} "
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
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do not ask (required when stdin is not a terminal)."
    ),
) -> None:
    """Delete memories by key, or erase all of a user's memories (--all)."""
    if all_memories:
        if keys:
            raise fail("give either keys or --all, not both", ExitCode.USAGE)
        _erase_all(user=user, store=store, keep_threads=keep_threads, yes=yes)
        return
    if not keys:
        raise fail("give the keys of the memories to delete, or --all", ExitCode.USAGE)
    if not yes and not sys.stdin.isatty():  # refuse before opening anything
        raise fail(
            "deleting memories needs --yes when not run interactively; nothing deleted",
            ExitCode.REFUSED,
        )
    with open_manager(user=user, store=store, create=False) as manager:
        full = [resolve_key(manager, key) for key in keys]
        count = len(set(full))
        _confirm_or_refuse(
            f"Delete {count} memor{'y' if count == 1 else 'ies'} of {manager.user_id!r}?",
            yes,
            "deleting memories",
        )
        deleted = manager.delete(full)
    for key in deleted:
        console.print(f"[red]deleted[/] {short_key(key)}")


def _erase_all(*, user: str | None, store: str | None, keep_threads: bool, yes: bool) -> None:
    from hippograph.erasure import erase_user

    settings = load_settings(user=user, store=store)
    who = escape(settings.user_id)
    if not yes:
        if not sys.stdin.isatty():
            raise fail(
                "erasing every memory of a user needs --yes when not run interactively",
                ExitCode.REFUSED,
            )
        with open_manager(user=user, store=store, create=False) as manager:
            count = manager.count()
        _confirm_or_refuse(
            f"Erase all {count} memories of {settings.user_id!r}, their history"
            + ("" if keep_threads else " and conversations")
            + "? This cannot be undone.",
            yes,
            "erasing every memory of a user",
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


def describe_change(entry: HistoryEntry) -> str:
    """What a history entry changed, in words: new text, old → new, or which field moved."""
    if entry["op"] in ("LINK", "UNLINK"):
        return link_commands.describe_link_change(entry)
    old: dict[str, Any] = entry["old"] or {}
    new: dict[str, Any] = entry["new"] or {}
    text = new.get("content") or old.get("content") or ""
    if not (old and new):
        return str(text)
    if old.get("content") != new.get("content"):
        return f"{old.get('content', '')} → {new.get('content', '')}"
    changes = []
    for name in ("category", "importance"):
        before, after = old.get(name), new.get(name)
        if before != after:
            shown = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in (before, after)]
            changes.append(f"{name} {shown[0]} → {shown[1]}")
    if old.get("source") != new.get("source"):
        changes.append("said again: source added")
    return f"{text} ({'; '.join(changes) or 'no change'})"


@app.command()
def history(
    key: str | None = typer.Argument(
        None, help="One memory's key or a unique start of it (default: all).", show_default=False
    ),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Show at most this many."),
) -> None:
    """Show the audit trail: every add, update, delete and link change, with old and new
    text and source."""
    from hippograph.memories import HistoryUnavailableError

    with open_manager(user=user, store=store, create=False) as manager:
        full = resolve_key(manager, key) if key else None
        try:
            entries = manager.history(full, limit=limit)
        except HistoryUnavailableError as exc:
            raise fail(str(exc), ExitCode.STORE_UNAVAILABLE) from exc
    table = Table(header_style="bold")
    table.add_column("at", no_wrap=True)
    table.add_column("op", no_wrap=True)
    table.add_column("key", no_wrap=True, style="dim")
    table.add_column("change", overflow="fold", ratio=1)
    table.add_column("source", overflow="fold")
    for entry in entries:
        source = entry["source"] or {}
        origin = source.get("origin") or f"thread {source.get('thread_id')}"
        table.add_row(
            entry["at"].strftime("%Y-%m-%d %H:%M"),
            entry["op"],
            short_key(entry["key"]),
            escape(describe_change(entry)),
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
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Delete without asking (else: ask, or list only)."
    ),
) -> None:
    """Forget minor, old memories; without --yes, lists them and asks (or only lists)."""
    from datetime import timedelta

    age = timedelta(days=older_than)
    with open_manager(user=user, store=store, create=False) as manager:
        doomed = manager.prune(below_importance=below_importance, older_than=age, dry_run=True)
        if not doomed:
            console.print("nothing to prune")
            return
        console.print(_table(doomed))
        if not yes and not sys.stdin.isatty():
            console.print(f"dry run: {len(doomed)} memories would be pruned; add --yes")
            return
        _confirm_or_refuse(f"Delete these {len(doomed)} memories?", yes, "pruning")
        deleted = manager.delete([memory.id for memory in doomed])
    console.print(f"[red]pruned[/] {len(deleted)} memories")
