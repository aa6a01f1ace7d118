"""`hippograph bench …`: the store benchmark and the FAISS index-type study, as a typer app.

The lead registers `app` as `hippograph bench`; `benchmarks/store_bench.py` runs it directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hippograph.bench.backends import BACKENDS, resolve_backends
from hippograph.bench.measure import parse_size, parse_sizes
from hippograph.extras import require_extra

if TYPE_CHECKING:
    from hippograph.bench.vectors import VectorKind

# The benchmarks themselves (FAISS, numpy, the stores) load inside the commands, so
# `hippograph --help` stays fast.

app = typer.Typer(
    help="Benchmarks: the store against its baselines; FAISS index types at scale.",
    no_args_is_help=True,
)


_VECTORS = ("embedding", "uniform")
Vectors = Annotated[str, typer.Option(help="embedding (MiniLM-like) or uniform (worst case).")]
Queries = Annotated[int, typer.Option(min=1, help="Timed searches per run (and per setting).")]
OutDir = Annotated[Path, typer.Option(help="Report directory.")]
WorkDir = Annotated[Path | None, typer.Option(help="Scratch directory (default: system temp).")]


def _vector_kind(value: str) -> VectorKind:
    if value not in _VECTORS:
        raise typer.BadParameter(f"choose one of {', '.join(_VECTORS)}")
    return value  # type: ignore[return-value]


def _sizes(value: str) -> list[int]:
    try:
        return parse_sizes(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@app.command("store")
def store(
    *,
    sizes: Annotated[str, typer.Option(help="Items per run, e.g. 1k,10k,100k,1M.")] = "1k,10k,100k",
    backends: Annotated[
        str, typer.Option(help=f"Comma-separated, from: {', '.join(BACKENDS)}.")
    ] = "faiss-sqlite,inmemory",
    queries: Queries = 200,
    batch_size: Annotated[int, typer.Option(min=1, help="Puts per batch() call.")] = 1000,
    vectors: Vectors = "embedding",
    real_texts: Annotated[
        int, typer.Option(min=0, help="LoCoMo turns for the real-embedder run (0: skip).")
    ] = 2000,
    real_queries: Annotated[
        int, typer.Option(min=1, help="LoCoMo questions timed in the real-embedder run.")
    ] = 200,
    locomo: Annotated[Path | None, typer.Option(help="LoCoMo *.json directory.")] = None,
    out: OutDir = Path("benchmarks/results"),
    name: Annotated[str, typer.Option(help="Report file stem.")] = "store_bench",
    workdir: WorkDir = None,
    isolate: Annotated[bool, typer.Option(help="One fresh process per run.")] = True,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            envvar="HIPPOGRAPH_BENCH_POSTGRES_URL",
            help="PostgreSQL server for the postgres backend (a role with CREATEDB; "
            "each run gets a fresh database, dropped after).",
        ),
    ] = None,
    tenant_sizes: Annotated[
        str,
        typer.Option(
            help="Also fill each size with many users of these sizes (e.g. 100,1k,10k) and "
            "time searches per user size; two sizes or more add a 1M projection.",
        ),
    ] = "",
) -> None:
    """Put/search/get/open/memory/disk/recall per backend and size, with baselines and ratios."""
    require_extra("bench", "hippograph bench")
    from hippograph.bench.report import store_markdown
    from hippograph.bench.store import StoreBenchConfig, run_store_bench

    config = StoreBenchConfig(
        sizes=_sizes(sizes),
        backends=_names(backends),
        queries=queries,
        batch_size=batch_size,
        vectors=_vector_kind(vectors),
        real_texts=real_texts,
        real_queries=real_queries,
        locomo_dir=locomo,
        out_dir=out,
        name=name,
        workdir=workdir,
        isolate=isolate,
        postgres_url=postgres_url,
        tenant_sizes=_sizes(tenant_sizes) if tenant_sizes else (),
    )
    try:
        resolve_backends(config.backends)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--backends") from exc
    if "postgres" in config.backends and not postgres_url:
        raise typer.BadParameter(
            "the postgres backend needs a server: --postgres-url postgresql://…",
            param_hint="--postgres-url",
        )
    report = run_store_bench(config)
    typer.echo(store_markdown(report))
    typer.echo(f"Report: {out / name}.json|.md|.png")


@app.command("index")
def index(
    *,
    size: Annotated[str, typer.Option(help="Vectors, e.g. 100k or 1M.")] = "100k",
    candidates: Annotated[
        str, typer.Option(help="Comma-separated, from: flat, hnsw16, hnsw32, ivf.")
    ] = "flat,hnsw16,hnsw32,ivf",
    queries: Queries = 200,
    vectors: Vectors = "embedding",
    out: OutDir = Path("benchmarks/results"),
    name: Annotated[str | None, typer.Option(help="Report file stem.")] = None,
    workdir: WorkDir = None,
) -> None:
    """Build time, memory, latency and recall@10 of flat / HNSW / IVF at one size."""
    require_extra("bench", "hippograph bench")
    from hippograph.bench.index_study import CANDIDATES, index_markdown, run_index_study

    try:
        count = parse_size(size)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--size") from exc
    names = _names(candidates)
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown:
        raise typer.BadParameter(
            f"unknown candidate(s) {', '.join(unknown)}; available: {', '.join(CANDIDATES)}",
            param_hint="--candidates",
        )
    report = run_index_study(
        count,
        names,
        queries=queries,
        vectors=_vector_kind(vectors),
        out_dir=out,
        name=name,
        workdir=workdir,
    )
    typer.echo(index_markdown(report))
