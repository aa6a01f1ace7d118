"""`hippograph eval …`: the evaluation commands (registered by the main CLI as `eval`).

hippograph eval locomo --data DIR --out DIR [--mode verbatim|extract] [--baselines]
                       [--conversations 26,30] [--sessions N] [--k 1,5,10,20]
                       [--model provider:model|local]
                       [--expand-links/--no-expand-links] [--compare-links] [--store URL]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hippograph.config import Settings
from hippograph.extras import require_extra

if TYPE_CHECKING:
    from hippograph.eval.runner import Answerer
    from hippograph.store.links import LinkExpansion

# The evaluation's own modules (graph, store, matplotlib) load inside the command, so
# `hippograph --help` stays fast.

app = typer.Typer(
    help="Evaluate hippograph's long-term memory on benchmarks.", no_args_is_help=True
)
console = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Evaluate hippograph's long-term memory on benchmarks."""


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(f"k values must be positive integers, got {text!r}")
    return values


def _answerer(model: str | None, settings: Settings) -> Answerer | None:
    if model is None:
        return None
    from hippograph.eval.judge import LLMJudge
    from hippograph.memory.chat_models import ModelUnavailableError, resolve_chat_model

    try:
        chat = resolve_chat_model(model, base_url=settings.base_url)
    except ModelUnavailableError as exc:
        raise typer.BadParameter(f"cannot load model {model!r}: {exc}") from exc
    assert chat is not None
    return LLMJudge(chat)


def _summary_table(report: dict[str, Any]) -> Table:
    from hippograph.eval.runner import OURS

    table = Table(title="LoCoMo evidence recall (categories 1–4)")
    for column in ("system", "R@1", "R@5", "R@10", "R@20", "R_all@10", "MRR"):
        table.add_column(column)
    rows = {OURS: report["overall"], **report["baselines"]}
    for name, row in rows.items():
        keys = ("recall_any@1", "recall_any@5", "recall_any@10", "recall_any@20")
        values = [row[k] for k in (*keys, "recall_all@10", "mrr")]
        table.add_row(name, *(f"{v:.3f}" for v in values))
    return table


def _expansion(wanted: bool | None) -> LinkExpansion | None:
    """What `--expand-links/--no-expand-links` asks for (nothing given: as shipped)."""
    from hippograph.backends import MEMORY_LINKS
    from hippograph.store.links import LinkExpansion

    if wanted is None:
        return MEMORY_LINKS
    return (MEMORY_LINKS or LinkExpansion()) if wanted else None


def _links_table(section: dict[str, Any], categories: dict[str, str]) -> Table:
    table = Table(title="Link expansion: R@10 off → on (same run)")
    for column in ("category", "n", "off", "on", "Δ"):
        table.add_column(column)
    rows = [("all (1–4)", section["off"], section["on"])]
    rows += [
        (f"{c} {categories[c]}", section["off"]["by_category"][c], section["on"]["by_category"][c])
        for c in section["off"]["by_category"]
    ]
    for label, off, on in rows:
        before, after = off["recall_any@10"], on["recall_any@10"]
        table.add_row(
            label, str(off["questions"]), f"{before:.3f}", f"{after:.3f}", f"{after - before:+.3f}"
        )
    return table


@app.command("locomo")
def locomo(
    *,
    data: Annotated[Path, typer.Option(help="Folder of LoCoMo-shaped *.json conversations.")],
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md and plots.")],
    mode: Annotated[
        str, typer.Option(help="verbatim (no LLM) or extract (the configured model).")
    ] = "verbatim",
    baselines: Annotated[
        bool, typer.Option("--baselines", help="Also run BM25, dense and RRF over raw turns.")
    ] = False,
    conversations: Annotated[
        str | None, typer.Option(help="Comma-separated conversation ids (file stems).")
    ] = None,
    k: Annotated[str, typer.Option("--k", help="Comma-separated k for recall@k.")] = "1,5,10,20",
    model: Annotated[
        str | None,
        typer.Option(help="provider:model to answer and judge (default: HIPPOGRAPH_MODEL)."),
    ] = None,
    judge: Annotated[
        bool, typer.Option(help="Answer and grade with the model when one is configured.")
    ] = True,
    expand_links: Annotated[
        bool | None,
        typer.Option(
            "--expand-links/--no-expand-links",
            help="Whether our searches follow links between memories (default: as shipped).",
        ),
    ] = None,
    compare_links: Annotated[
        bool,
        typer.Option(
            "--compare-links",
            help="Also ask every question with link expansion off and on (same stores).",
        ),
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Run on this store (a postgresql:// URL or a SQLite file): each conversation "
            "in its own namespace, erased after. Default: a fresh SQLite file per conversation.",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    sessions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Only the first N sessions of each conversation and the questions they "
            "answer (a slice for model-driven runs).",
        ),
    ] = None,
) -> None:
    """Ingest each conversation into a fresh store, ask its questions, write the report."""
    require_extra("eval", "hippograph eval")
    from hippograph.eval.dataset import DatasetError
    from hippograph.eval.report import REPORT_JSON, REPORT_MD, write_report
    from hippograph.eval.runner import EvalConfig, run_locomo

    if mode not in ("verbatim", "extract"):
        raise typer.BadParameter(f"--mode must be verbatim or extract, got {mode!r}")
    settings = Settings.from_env()
    model = model or settings.model
    if mode == "extract" and model is None:
        raise typer.BadParameter("--mode extract needs a model (HIPPOGRAPH_MODEL or --model)")
    config = EvalConfig(
        data=data,
        conversations=tuple(c.strip() for c in conversations.split(",") if c.strip())
        if conversations
        else None,
        mode="extract" if mode == "extract" else "verbatim",
        ks=_ints(k),
        baselines=baselines,
        model=model if judge else None,
        extract_model=model if mode == "extract" else None,
        embeddings=settings.embeddings,
        store=store,
        expand_links=_expansion(expand_links),
        compare_links=compare_links,
        progress=progress,
        sessions=sessions,
    )
    if config.model is None:
        console.print("[yellow]No model configured: scoring retrieval only (no LLM judge).")
    if "local" in (config.model, config.extract_model):
        from hippograph.cli.local_progress import start_local_model

        start_local_model()
    try:
        results = run_locomo(config, _answerer(config.model, settings))
    except DatasetError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    report = write_report(results, out)
    console.print(_summary_table(report))
    if "link_expansion" in report:
        console.print(_links_table(report["link_expansion"], report["categories"]))
    console.print(f"Wrote {out / REPORT_JSON} and {out / REPORT_MD} ({results.wall_s:.0f} s).")
    if results.traced_as:
        console.print(f"Traced as experiment {results.traced_as} (the session.id of its spans).")
