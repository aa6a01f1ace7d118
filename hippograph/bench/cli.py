"""`hippograph bench …`: the store benchmark and the FAISS index-type study, as a typer app.

The lead registers `app` as `hippograph bench`; `benchmarks/store_bench.py` runs it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hippograph.bench.backends import BACKENDS, resolve_backends
from hippograph.bench.measure import check_names, parse_size, parse_sizes
from hippograph.extras import require_extra

if TYPE_CHECKING:
    from hippograph.bench.vectors import VectorKind

# The benchmarks themselves (FAISS, numpy, the stores) load inside the commands, so
# `hippograph --help` stays fast.

app = typer.Typer(
    help="Benchmarks: the store against its baselines; FAISS index types at scale; bulk "
    "ingest; search latency while other users' indexes are rebuilt or snapshotted.",
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


def _choose(value: str, available: Sequence[str], what: str, hint: str) -> list[str]:
    """The comma-separated names in `value`, each one of `available` (else a usage error)."""
    try:
        return check_names(_names(value), available, what)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


def _size(value: str, hint: str) -> int:
    """A count such as `100k` or `1M` (else a usage error)."""
    try:
        return parse_size(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


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

    report = run_index_study(
        _size(size, "--size"),
        _choose(candidates, list(CANDIDATES), "candidate", "--candidates"),
        queries=queries,
        vectors=_vector_kind(vectors),
        out_dir=out,
        name=name,
        workdir=workdir,
    )
    typer.echo(index_markdown(report))


@app.command("ingest")
def ingest(
    *,
    size: Annotated[str, typer.Option(help="Items per load, e.g. 100k.")] = "100k",
    rounds: Annotated[int, typer.Option(min=1, help="Loads per variant (alternating).")] = 3,
    variants: Annotated[
        str, typer.Option(help="Comma-separated, from: inmemory, batch, bulk, bulk-hybrid.")
    ] = "inmemory,batch,bulk,bulk-hybrid",
    out: OutDir = Path("benchmarks/results"),
    name: Annotated[str, typer.Option(help="Report file stem.")] = "bulk_ingest",
    workdir: WorkDir = None,
    isolate: Annotated[bool, typer.Option(help="One fresh process per load.")] = True,
) -> None:
    """Bulk ingest of pre-embedded items: bulk_put vs batch vs InMemoryStore, same run."""
    require_extra("bench", "hippograph bench")
    from hippograph.bench.ingest import VARIANTS, IngestConfig, ingest_markdown, run_ingest_bench

    config = IngestConfig(
        size=_size(size, "--size"),
        rounds=rounds,
        variants=_choose(variants, VARIANTS, "variant", "--variants"),
        out_dir=out,
        name=name,
        workdir=workdir,
        isolate=isolate,
    )
    typer.echo(ingest_markdown(run_ingest_bench(config)))


@app.command("contention")
def contention(
    *,
    user_size: Annotated[str, typer.Option(help="Memories of the searching user A.")] = "10k",
    rebuild_size: Annotated[
        str, typer.Option(help="Memories of user B, whose HNSW graph is built.")
    ] = "100k",
    snapshot_size: Annotated[
        str, typer.Option(help="Memories of user C, whose snapshot is written.")
    ] = "1M",
    idle_seconds: Annotated[float, typer.Option(min=1, help="Length of each idle period.")] = 20,
    scenarios: Annotated[str, typer.Option(help="Comma-separated: rebuild, snapshot.")] = (
        "rebuild,snapshot"
    ),
    out: OutDir = Path("benchmarks/results"),
    name: Annotated[str, typer.Option(help="Report file stem.")] = "lock_scope",
    workdir: WorkDir = None,
) -> None:
    """A user's search latency while other users' indexes are rebuilt or snapshotted."""
    require_extra("bench", "hippograph bench")
    from hippograph.bench.contention import (
        SCENARIOS,
        ContentionConfig,
        contention_markdown,
        run_contention_bench,
    )

    config = ContentionConfig(
        user_size=_size(user_size, "--user-size"),
        rebuild_size=_size(rebuild_size, "--rebuild-size"),
        snapshot_size=_size(snapshot_size, "--snapshot-size"),
        idle_seconds=idle_seconds,
        scenarios=_choose(scenarios, SCENARIOS, "scenario", "--scenarios"),
        out_dir=out,
        name=name,
        workdir=workdir,
    )
    typer.echo(contention_markdown(run_contention_bench(config)))
