"""`hippograph memories export|import`: JSONL out and in, without surprises.

Registered on the `memories` app (`hippograph/cli/memories.py`). `export` never overwrites a
file without `--force` and never truncates one (it writes beside it and renames); `import`
validates the whole input first, refuses binary input with one error, and resolves keys the
store already holds by `--on-conflict` (default: the newer `updated_at` wins).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from hippograph.cli._common import StoreOption, UserOption, console, fail, open_manager, warn
from hippograph.cli.errors import ExitCode

if TYPE_CHECKING:
    from hippograph.memories import ImportReport


def export_memories(
    path: str = typer.Argument("-", help="Output file, or - for stdout."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing file."),
) -> None:
    """Export memories as JSONL (one memory per line); never overwrites without --force."""
    target = None if path == "-" else Path(path).expanduser()
    if target is not None:
        if target.is_dir():
            raise fail(f"{path} is a directory: give a file name", ExitCode.USAGE)
        if not target.parent.is_dir():
            raise fail(f"directory {target.parent} does not exist", ExitCode.NOT_FOUND)
        if target.exists() and not force:
            raise fail(f"{path} exists: add --force to overwrite it", ExitCode.REFUSED)
    with open_manager(user=user, store=store, create=False) as manager:
        if target is not None and not manager.count():
            warn(f"user {manager.user_id!r} has no memories: nothing exported, {path} not written")
            return
        count = manager.export_jsonl(sys.stdout if target is None else target, overwrite=force)
    if target is not None:
        console.print(f"exported {count} memories to {escape(path)}")


_SHOWN_ERRORS = 10
"""Invalid lines listed before "… and N more"."""


def import_memories(
    path: str = typer.Argument(..., help="JSONL file (from `memories export`), or - for stdin."),
    user: str | None = UserOption,
    store: str | None = StoreOption,
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid lines even if some are invalid."
    ),
    on_conflict: str = typer.Option(
        "newer",
        "--on-conflict",
        help="A key already stored: keep the newer by updated_at (newer), let the file "
        "replace it (overwrite), or keep the stored one (skip).",
    ),
) -> None:
    """Import memories from JSONL; a file with invalid lines imports nothing unless told."""
    from hippograph.memories import CONFLICT_POLICIES, ImportValidationError, NotJsonlError

    if on_conflict not in CONFLICT_POLICIES:
        raise fail(
            f"--on-conflict must be one of {', '.join(CONFLICT_POLICIES)}, got {on_conflict!r}",
            ExitCode.USAGE,
        )
    if path != "-" and not Path(path).expanduser().is_file():
        what = "is a directory" if Path(path).expanduser().is_dir() else "does not exist"
        raise fail(f"{path} {what}: give a JSONL file", ExitCode.NOT_FOUND)
    with open_manager(user=user, store=store) as manager:
        try:
            report = manager.import_jsonl(
                sys.stdin if path == "-" else Path(path).expanduser(),
                skip_invalid=skip_invalid,
                on_conflict=on_conflict,
            )
        except NotJsonlError as exc:
            raise fail(f"{path}: {exc}; nothing imported", ExitCode.INVALID_INPUT) from exc
        except ImportValidationError as exc:
            for error in exc.errors[:_SHOWN_ERRORS]:
                console.print(f"[red]line {error.line}:[/] {escape(error.error)}")
            if len(exc.errors) > _SHOWN_ERRORS:
                console.print(f"[red]… and {len(exc.errors) - _SHOWN_ERRORS} more[/]")
            raise fail(
                f"{len(exc.errors)} invalid line(s); nothing imported "
                "(--skip-invalid imports the valid ones)",
                ExitCode.INVALID_INPUT,
            ) from exc
        except UnicodeDecodeError as exc:  # stdin; files name the bad line instead
            raise fail(
                f"input is not valid UTF-8 ({exc.reason}); nothing imported",
                ExitCode.INVALID_INPUT,
            ) from exc
    _print_import(report)


def _print_import(report: ImportReport) -> None:
    for error in report.skipped[:_SHOWN_ERRORS]:
        console.print(f"[yellow]skipped line {error.line}:[/] {escape(error.error)}")
    if len(report.skipped) > _SHOWN_ERRORS:
        console.print(f"[yellow]… and {len(report.skipped) - _SHOWN_ERRORS} more skipped[/]")
    for line in report.kept[:_SHOWN_ERRORS]:
        console.print(f"[yellow]kept the stored memory, line {line.line}:[/] {escape(line.error)}")
    if len(report.kept) > _SHOWN_ERRORS:
        console.print(f"[yellow]… and {len(report.kept) - _SHOWN_ERRORS} more kept[/]")
    kept = f", {len(report.kept)} kept as stored (--on-conflict)" if report.kept else ""
    console.print(f"imported {report.imported} memories{kept}")
