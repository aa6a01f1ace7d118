"""Bulk ingest: pre-embedded items into one namespace, through each way in, in one run.

Every variant loads the same `size` memory-shaped values (content, category, importance)
with the same unit vectors (`hippograph.bench.vectors`) into a fresh store, in a fresh
process, and rounds alternate the variants so load on a shared machine hits them alike:

- `inmemory`: LangGraph's `InMemoryStore`, `batch` of `batch_size` puts — the baseline;
- `batch`: `FaissSqliteStore.batch` of `batch_size` puts (what callers did before);
- `bulk`: `FaissSqliteStore.bulk_put` with the vectors given (vector search only);
- `bulk-hybrid`: the same with hybrid search on, as the agent's memory store is (full-text
  rows are written too).

Where a store embeds (the first two), the time spent inside the pre-computed embedder is
taken out, so every variant is measured on the same work: items in, durable. After each
load of ours, the benchmark also times the first search (the group is loaded from SQLite
and searched exactly) and the wait until its HNSW graph is built and snapshotted in the
background — what a user sees next.

Core pieces: `IngestConfig`, `run_ingest_bench(config)` (writes `<name>.json|.md|.png`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.store.base import PutOp

from hippograph.bench.embedders import PrecomputedEmbeddings
from hippograph.bench.measure import (
    call,
    check_names,
    machine_info,
    progress,
    scratch_dir,
    size_label,
)
from hippograph.bench.report import (
    fmt,
    fmt_ratio,
    markdown_table,
    pyplot,
    run_report,
    save_figure,
    write_json,
)
from hippograph.bench.vectors import make_vectors

NAMESPACE = ("memories", "bench-user")
VARIANTS = ("inmemory", "batch", "bulk", "bulk-hybrid")
BASELINE = "inmemory"
TARGET_PER_S = 20_000
_CATEGORIES = ("tools", "skills", "preferences", "personal", "work", "habits", "goals", "other")


@dataclass(slots=True)
class IngestConfig:
    """What `run_ingest_bench` runs.

    Attributes:
        size: Items per load (one namespace: one FAISS group, the worst case).
        rounds: Times each variant runs (alternating); the report gives the median.
        variants: From `VARIANTS`.
        batch_size: Puts per `batch()` call (the `inmemory` and `batch` variants).
        chunk_size: Items per transaction of `bulk_put` (`None`: its default).
        dims: Vector dimension.
        out_dir: Where the report goes.
        name: Report file stem.
        workdir: Scratch space for databases (default: the system temp dir).
        isolate: Run each load in a fresh process.
        seed: Seed for the vectors.
    """

    size: int = 100_000
    rounds: int = 3
    variants: Sequence[str] = VARIANTS
    batch_size: int = 1_000
    chunk_size: int | None = None
    dims: int = 384
    out_dir: Path = Path("benchmarks/results")
    name: str = "bulk_ingest"
    workdir: Path | None = None
    isolate: bool = True
    seed: int = 0


@dataclass(slots=True)
class LoadResult:
    """One load of one variant."""

    variant: str
    round: int
    size: int
    seconds: float
    """Wall time of the load, time inside the embedder excluded."""
    per_s: float
    cpu_seconds: float
    """CPU time of the process during the load (all its threads), the embedder's excluded."""
    stage_cpu_s: tuple[float, float] | None = None
    """`bulk_put`: CPU seconds of its two overlapping stages (prepare, write)."""
    first_search_s: float | None = None
    index_ready_s: float | None = None
    """After the first search: until the HNSW graph was built and the snapshot written."""
    notes: list[str] = field(default_factory=list)


def memory_value(i: int) -> dict[str, Any]:
    """The `i`-th benchmark memory (its content is the text the embedder knows as doc i)."""
    return {
        "content": f"doc {i}",
        "category": _CATEGORIES[i % len(_CATEGORIES)],
        "importance": (i % 10) / 10,
    }


def _puts(size: int, batch_size: int) -> Iterator[list[PutOp]]:
    for lo in range(0, size, batch_size):
        yield [
            PutOp(NAMESPACE, f"k{i}", memory_value(i))
            for i in range(lo, min(size, lo + batch_size))
        ]


def _load(variant: str, data_path: Path, config: IngestConfig, round_: int) -> LoadResult:
    """Load `size` items through `variant` into a fresh store (runs in its own process)."""
    from langgraph.store.memory import InMemoryStore

    from hippograph.store import FaissSqliteStore
    from hippograph.store.bulk import CHUNK_SIZE, BulkItem

    with np.load(data_path) as data:
        documents, queries = data["documents"], data["queries"]
    size = len(documents)
    embed = PrecomputedEmbeddings(documents, queries)
    index = {"dims": config.dims, "embed": embed, "fields": ["content"]}
    label = f"{variant} {size_label(size)} (round {round_ + 1})"
    with scratch_dir(config.workdir, "hippograph-ingest-") as directory:
        if variant == "inmemory":
            store: Any = InMemoryStore(index=index)  # type: ignore[arg-type]
        else:
            store = FaissSqliteStore(
                str(directory / "store.db"),
                index=index,  # type: ignore[arg-type]
                hybrid=True if variant == "bulk-hybrid" else None,
            )
        cpu, started = time.process_time(), time.perf_counter()
        with progress(size, f"load   {label}") as advance:
            if variant in ("inmemory", "batch"):
                for ops in _puts(size, config.batch_size):
                    store.batch(ops)
                    advance(len(ops))
            else:
                items = (
                    BulkItem(NAMESPACE, f"k{i}", memory_value(i), {"content": documents[i]})
                    for i in range(size)
                )
                done = [0]

                def report(written: int) -> None:
                    advance(written - done[0])
                    done[0] = written

                bulk = store.bulk_put(
                    items, chunk_size=config.chunk_size or CHUNK_SIZE, on_progress=report
                )
        seconds = time.perf_counter() - started - embed.seconds
        cpu = time.process_time() - cpu - embed.cpu_seconds
        result = LoadResult(variant, round_, size, seconds, size / seconds, cpu)
        if variant not in ("inmemory", "batch"):
            result.stage_cpu_s = (bulk.prepare_cpu_s, bulk.write_cpu_s)
        if variant != "inmemory":
            started = time.perf_counter()
            hits = store.search(NAMESPACE, query="query 0", limit=10)
            result.first_search_s = time.perf_counter() - started
            started = time.perf_counter()
            store.save_index_snapshots()
            result.index_ready_s = time.perf_counter() - started
            if len(hits) != 10 or store.count(NAMESPACE) != size:
                raise RuntimeError(f"{variant}: the store does not hold what was loaded")
            store.close()
    return result


def _run(variant: str, data_path: Path, config: IngestConfig, round_: int) -> LoadResult:
    try:
        return call(_load, variant, data_path, config, round_, isolate=config.isolate)
    except Exception as exc:  # a crash becomes a note and the run goes on
        return LoadResult(
            variant, round_, config.size, float("nan"), float("nan"), 0.0, notes=[repr(exc)]
        )


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median items/s per variant, ratios to the baseline and to `batch` (medians, and
    the median of per-round ratios), and the target check."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        if row["per_s"] == row["per_s"]:  # not NaN
            by_variant.setdefault(row["variant"], []).append(row)
    medians = {
        variant: {
            "per_s": statistics.median(r["per_s"] for r in rows),
            "cpu_per_item_us": statistics.median(r["cpu_seconds"] / r["size"] * 1e6 for r in rows),
            "per_cpu_s": statistics.median(r["size"] / r["cpu_seconds"] for r in rows),
            "first_search_s": _median([r["first_search_s"] for r in rows]),
            "index_ready_s": _median([r["index_ready_s"] for r in rows]),
            "rounds": len(rows),
        }
        for variant, rows in by_variant.items()
    }

    def round_ratio(a: str, b: str) -> float | None:
        pairs = [
            (x["per_s"], y["per_s"])
            for x in by_variant.get(a, [])
            for y in by_variant.get(b, [])
            if x["round"] == y["round"]
        ]
        return statistics.median(p / q for p, q in pairs) if pairs else None

    ratios = {
        f"{variant}_vs_{base}": round_ratio(variant, base)
        for variant in medians
        for base in (BASELINE, "batch")
        if variant != base and base in medians
    }
    bulk = medians.get("bulk", {}).get("per_s")
    return {
        "medians": medians,
        "ratios": ratios,
        "target": {
            "goal_per_s": TARGET_PER_S,
            "measured_per_s": bulk,
            "met": bool(bulk and bulk >= TARGET_PER_S),
        },
    }


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ingest_markdown(report: dict[str, Any]) -> str:
    """The Markdown report."""
    summary = report["summary"]
    machine = report["machine"]
    size = size_label(report["config"]["size"])
    rows = []
    for variant, m in summary["medians"].items():
        rows.append(
            [
                variant,
                fmt(m["per_s"], 0),
                fmt_ratio(summary["ratios"].get(f"{variant}_vs_{BASELINE}")),
                fmt_ratio(summary["ratios"].get(f"{variant}_vs_batch")),
                fmt(m["cpu_per_item_us"], 1),
                fmt(m["per_cpu_s"], 0),
                fmt(m["first_search_s"]),
                fmt(m["index_ready_s"]),
            ]
        )
    target = summary["target"]
    parts = [
        f"# Bulk ingest: {size} pre-embedded items into one namespace ({report['started']})",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, FAISS {machine['faiss']}; "
        f"load average {machine['load_average']} at start, {machine.get('load_average_end')} "
        "at the end (a shared machine: compare rows, which ran alternately in the same run).",
        f"{report['config']['rounds']} rounds, each variant in a fresh process; medians. Ratios "
        "are medians of the per-round ratios. Time inside the (pre-computed) embedder is not "
        "counted; `bulk` and `bulk-hybrid` get the vectors with the items and embed nothing.",
        markdown_table(
            [
                "variant",
                "items/s",
                "vs InMemoryStore",
                "vs batch",
                "CPU µs/item",
                "items per CPU-second",
                "first search s",
                "graph + snapshot s",
            ],
            rows,
        ),
        f"Target: bulk ingest ≥ {target['goal_per_s']:,} items/s — measured "
        f"{fmt(target['measured_per_s'], 0)}: **{'met' if target['met'] else 'not met'}**.",
        "`CPU µs/item`: CPU time of the whole process per item (every thread; the embedder's "
        "excluded) — what a load costs, whatever else the machine runs. `items per "
        "CPU-second` is its inverse: the rate on one core of its own. `bulk_put` prepares "
        "chunk n+1 on one thread while chunk n is written on another, so with two free cores "
        "it can go faster (the JSON has each stage's CPU); it leaves out I/O waits.",
        "`first search`: the first search after the load (the group is read from SQLite and "
        "searched exactly). `graph + snapshot`: `save_index_snapshots()` after it, i.e. the "
        "background HNSW build and the snapshot write, which never block searches.",
        "Every round: "
        + "; ".join(
            f"{r['variant']} r{r['round'] + 1} {fmt(r['per_s'], 0)}/s" for r in report["results"]
        ),
    ]
    return "\n\n".join(parts) + "\n"


def plot_ingest(report: dict[str, Any], path: Path) -> None:
    """Items/s per variant (median, with every round as a dot) and the target line."""
    plt = pyplot()

    medians = report["summary"]["medians"]
    variants = list(medians)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar(variants, [medians[v]["per_s"] for v in variants], color="#4C72B0", alpha=0.8)
    for i, variant in enumerate(variants):
        runs = [r["per_s"] for r in report["results"] if r["variant"] == variant]
        ax.scatter([i] * len(runs), runs, color="black", s=12, zorder=3)
        ratio = report["summary"]["ratios"].get(f"{variant}_vs_{BASELINE}")
        if ratio:
            ax.annotate(
                f"{ratio:.2g}× InMemoryStore",
                (i, medians[variant]["per_s"]),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.scatter(
        range(len(variants)),
        [medians[v]["per_cpu_s"] for v in variants],
        marker="D",
        facecolors="none",
        edgecolors="#C44E52",
        label="items per CPU-second (the rate on one core of its own)",
        zorder=3,
    )
    ax.axhline(TARGET_PER_S, color="red", linestyle="--", linewidth=1, label="target 20k/s")
    ax.set_ylabel("items/s (ours: durable on return)")
    ax.set_title(f"Bulk ingest of {size_label(report['config']['size'])} pre-embedded items")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    save_figure(fig, path)


def run_ingest_bench(config: IngestConfig) -> dict[str, Any]:
    """Run the ingest benchmark and write `<name>.json`, `.md` and `.png` into `out_dir`."""
    check_names(config.variants, VARIANTS, "variant")
    started = datetime.now(UTC)
    machine = machine_info()
    results: list[LoadResult] = []
    with scratch_dir(config.workdir, "hippograph-ingest-data-") as data_dir:
        documents, queries = make_vectors("embedding", config.size, 10, config.dims, config.seed)
        data_path = data_dir / "data.npz"
        np.savez(data_path, documents=documents, queries=queries)
        del documents, queries
        for round_ in range(config.rounds):
            for variant in config.variants:
                results.append(_run(variant, data_path, config, round_))
    rows = [asdict(r) for r in results]
    report = run_report(
        "bulk_ingest", started, machine, config, results=rows, summary=summarize(rows)
    )
    config.out_dir.mkdir(parents=True, exist_ok=True)
    write_json(report, config.out_dir / f"{config.name}.json")
    (config.out_dir / f"{config.name}.md").write_text(ingest_markdown(report))
    plot_ingest(report, config.out_dir / f"{config.name}.png")
    return report
