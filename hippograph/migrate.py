"""`hippograph migrate --from sqlite:///memories.db --to postgresql://…`: the CLI of the move.

`app` is a typer app whose callback is the command, so `hippograph migrate …` works once the
main CLI registers it (`main.add_typer(app, name="migrate")`), and
`python -m hippograph.migrate …` works on its own. The work is `hippograph.migration`'s.

Exit codes: 0 copied and verified; 1 verification found a mismatch; 2 nothing or part copied
(bad source, non-empty target, a text without a stored vector) — rerun to resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from hippograph.migration import MigrationReport

app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    help="Copy a SQLite memory store into PostgreSQL: items, vectors (not re-embedded), links "
    "and history. Resumable: rerun the same command after an interruption.",
)
console = Console(stderr=True)


@app.callback()
def migrate(
    *,
    source: Annotated[
        str, typer.Option("--from", help="Source store: sqlite:///path.db or a file path.")
    ],
    target: Annotated[str, typer.Option("--to", help="Target database: postgresql://…")],
    merge: Annotated[
        bool, typer.Option(help="Allow a target that already holds other items.")
    ] = False,
    reembed_missing: Annotated[
        bool,
        typer.Option(help="Embed texts the source has no vector for, instead of stopping."),
    ] = False,
    embeddings: Annotated[
        str, typer.Option(help="Embedder for --reembed-missing ('local' or provider:model).")
    ] = "local",
    chunk_size: Annotated[int, typer.Option(min=1, help="Items per transaction.")] = 1000,
    sample: Annotated[
        int, typer.Option(min=0, help="Items compared value by value at the end.")
    ] = 100,
) -> None:
    """Copy the store at --from into the database at --to, then verify the copy."""
    from hippograph.migration import (  # heavy: keeps `hippograph --help` fast
        MissingVectorError,
        SourceError,
        TargetNotEmptyError,
        migrate_store,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"copying {phase}", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        try:
            report = migrate_store(
                source,
                target,
                merge=merge,
                reembed_missing=reembed_missing,
                embeddings=embeddings,
                chunk_size=chunk_size,
                sample=sample,
                on_progress=on_progress,
            )
        except (SourceError, TargetNotEmptyError, MissingVectorError, ValueError) as exc:
            console.print(f"[red]migration stopped:[/red] {exc}")
            raise typer.Exit(2) from exc
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: MigrationReport) -> None:
    state = (
        "already complete; verified again"
        if report.already_complete
        else "resumed and finished"
        if report.resumed
        else "finished"
    )
    console.print(f"migration of {report.source}: {state} in {report.seconds:.1f}s")
    table = Table("check", "source", "target", "ok")
    for check in report.verification.checks:
        mark = "[green]yes[/green]" if check.ok else "[red]NO[/red]"
        table.add_row(check.name, f"{check.expected:,}", f"{check.found:,}", mark)
    console.print(table)
    console.print(
        f"vectors reused: {report.vectors_reused:,}; re-embedded: {report.vectors_reembedded:,}; "
        f"links copied: {report.links_copied:,}; "
        f"sampled items compared: {report.verification.sampled:,}"
    )
    for mismatch in report.verification.mismatches[:20]:
        console.print(f"[red]mismatch:[/red] {mismatch}")
    if report.ok:
        console.print("[green]verified: the target matches the source[/green]")
    else:
        console.print("[red]verification failed: the target does not match the source[/red]")


if __name__ == "__main__":
    app()
