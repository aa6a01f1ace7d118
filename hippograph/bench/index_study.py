"""Which FAISS index for a large group: flat vs HNSW vs IVF, measured on one machine.

For each candidate: build time (train + add, all cores), memory, and for each setting of
its search knob (`efSearch`, `nprobe`) single-query latency p50/p95/p99 on one thread and
recall@10 against exact search. Each candidate runs in a fresh process so memory is its own.
`IndexPolicy`'s defaults follow what this finds (see `benchmarks/results/index_types*.md`).

Core pieces:
    - `CANDIDATES`: the index layouts compared, by name.
    - `run_index_study(...)`: runs them and writes `<name>.json|.md|.png`.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from hippograph.bench.measure import anon_rss_mb, call, latency_ms, progress, size_label
from hippograph.bench.report import fmt, markdown_table, pyplot, save_figure, write_json
from hippograph.bench.vectors import VectorKind, make_vectors


def _ivf_lists(size: int) -> int:
    return max(16, int(4 * math.sqrt(size)))


def _hnsw(m: int) -> Callable[[int, int], Any]:
    def build(dims: int, size: int) -> Any:
        index = faiss.IndexHNSWFlat(dims, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        return index

    return build


def _ivf(dims: int, size: int) -> Any:
    return faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dims), dims, _ivf_lists(size), faiss.METRIC_INNER_PRODUCT
    )


def _flat(dims: int, size: int) -> Any:
    return faiss.IndexFlatIP(dims)


def _set_ef(index: Any, value: int) -> None:
    index.hnsw.efSearch = value


def _set_nprobe(index: Any, value: int) -> None:
    index.nprobe = value


@dataclass(frozen=True, slots=True)
class Candidate:
    """An index layout and the values of its search knob to try."""

    name: str
    description: str
    build: Callable[[int, int], Any]
    knob: str = ""
    values: tuple[int, ...] = (0,)
    set_knob: Callable[[Any, int], None] | None = None


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("flat", "IndexFlatIP (exact)", _flat),
        Candidate(
            "hnsw16",
            "IndexHNSWFlat M=16, efConstruction=40",
            _hnsw(16),
            "efSearch",
            (32, 64, 128, 256),
            _set_ef,
        ),
        Candidate(
            "hnsw32",
            "IndexHNSWFlat M=32, efConstruction=40",
            _hnsw(32),
            "efSearch",
            (32, 64, 128, 256),
            _set_ef,
        ),
        Candidate(
            "ivf",
            "IndexIVFFlat, 4·√n lists, trained on 50 per list",
            _ivf,
            "nprobe",
            (8, 32, 128),
            _set_nprobe,
        ),
    )
}


def measure_candidate(name: str, data_path: Path, queries: int) -> dict[str, Any]:
    """Build candidate `name` over the saved vectors and measure it (runs in its own process)."""
    candidate = CANDIDATES[name]
    with np.load(data_path) as data:
        documents, query_vectors, truth = data["documents"], data["queries"], data["truth"]
    size, dims = documents.shape
    gc.collect()
    base_rss = anon_rss_mb()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = candidate.build(dims, size)
    start = time.perf_counter()
    if not index.is_trained:
        sample = np.random.default_rng(0).choice(size, min(size, 50 * index.nlist), replace=False)
        index.train(documents[np.sort(sample)])
    with progress(size, f"build  {name} {size_label(size)}") as advance:
        for lo in range(0, size, 50_000):
            index.add(documents[lo : lo + 50_000])
            advance(min(50_000, size - lo))
    build_s = time.perf_counter() - start
    memory = anon_rss_mb() - base_rss
    faiss.omp_set_num_threads(1)
    settings = []
    for value in candidate.values:
        if candidate.set_knob is not None:
            candidate.set_knob(index, value)
        times, recall = [], []
        for j in range(queries):
            start = time.perf_counter()
            _, found = index.search(query_vectors[j : j + 1], 10)
            times.append(time.perf_counter() - start)
            recall.append(len(set(found[0].tolist()) & set(truth[j].tolist())) / 10)
        settings.append(
            {
                "knob": candidate.knob,
                "value": value,
                "search_ms": latency_ms(times),
                "recall_at_10": float(np.mean(recall)),
            }
        )
    return {
        "candidate": name,
        "description": candidate.description,
        "size": int(size),
        "build_s": build_s,
        "build_per_s": size / build_s,
        "memory_mb": memory,
        "settings": settings,
    }


def run_index_study(
    size: int,
    candidates: Sequence[str] = ("flat", "hnsw16", "hnsw32", "ivf"),
    *,
    queries: int = 200,
    dims: int = 384,
    vectors: VectorKind = "embedding",
    seed: int = 0,
    out_dir: Path = Path("benchmarks/results"),
    name: str | None = None,
    workdir: Path | None = None,
    isolate: bool = True,
) -> dict[str, Any]:
    """Compare `candidates` on `size` vectors; write `<name>.json|.md|.png` into `out_dir`.

    With `isolate`, each candidate is built in a fresh process (memory figures are its own).

    Raises:
        ValueError: an unknown candidate name.
    """
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate(s) {unknown}; available: {', '.join(CANDIDATES)}")
    started = datetime.now(UTC)
    load_start = list(os.getloadavg())
    scratch = Path(tempfile.mkdtemp(prefix="hippograph-index-study-", dir=workdir))
    try:
        documents, query_vectors = make_vectors(vectors, size, queries, dims, seed + size)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        exact = faiss.IndexFlatIP(dims)
        exact.add(documents)
        _, truth = exact.search(query_vectors, 10)
        del exact
        data_path = scratch / "data.npz"
        np.savez(data_path, documents=documents, queries=query_vectors, truth=truth)
        del documents
        results = [
            call(measure_candidate, candidate, data_path, queries, isolate=isolate)
            for candidate in candidates
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = {
        "benchmark": "index_types",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": {
            "cpus": os.cpu_count(),
            "faiss": faiss.__version__,
            "load_average": load_start,
            "load_average_end": list(os.getloadavg()),
        },
        "config": {
            "size": size,
            "dims": dims,
            "queries": queries,
            "vectors": vectors,
            "seed": seed,
        },
        "results": results,
    }
    name = name or f"index_types_{size_label(size)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(report, out_dir / f"{name}.json")
    (out_dir / f"{name}.md").write_text(index_markdown(report))
    plot_index_study(report, out_dir / f"{name}.png")
    return report


def index_markdown(report: dict[str, Any]) -> str:
    """One row per (candidate, knob value): build, memory, latency, recall."""
    config, machine = report["config"], report["machine"]
    rows = []
    for r in report["results"]:
        for s in r["settings"]:
            rows.append(
                [
                    r["candidate"],
                    r["description"],
                    f"{s['knob']}={s['value']}" if s["knob"] else "—",
                    fmt(r["build_s"], 1),
                    fmt(r["build_per_s"], 0),
                    fmt(r["memory_mb"], 0),
                    fmt(s["search_ms"]["p50"]),
                    fmt(s["search_ms"]["p95"]),
                    fmt(s["search_ms"]["p99"]),
                    fmt(s["recall_at_10"], 3),
                ]
            )
    headers = [
        "candidate",
        "layout",
        "search knob",
        "build s",
        "build vectors/s",
        "memory MiB",
        "search p50 ms",
        "p95 ms",
        "p99 ms",
        "recall@10",
    ]
    return (
        f"# FAISS index types at {size_label(config['size'])} ({report['started']})\n\n"
        f"{config['size']:,} {config['vectors']} unit vectors, {config['dims']}-d; "
        f"{config['queries']} single-query searches on one thread; builds on "
        f"{machine['cpus']} cores; load average {machine['load_average']} → "
        f"{machine['load_average_end']} (shared machine).\n\n"
        + markdown_table(headers, rows)
        + "\n"
    )


def plot_index_study(report: dict[str, Any], path: Path) -> None:
    """Recall@10 against search p95, one curve per candidate (its knob values as points)."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for r in report["results"]:
        p95 = [s["search_ms"]["p95"] for s in r["settings"]]
        recall = [s["recall_at_10"] for s in r["settings"]]
        ax.plot(p95, recall, marker="o", label=f"{r['candidate']} (build {r['build_s']:.0f}s)")
        for s, x, y in zip(r["settings"], p95, recall, strict=True):
            if s["knob"]:
                ax.annotate(
                    str(s["value"]), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
    ax.set_xscale("log")
    ax.set_xlabel("search p95 (ms, one query, one thread)")
    ax.set_ylabel("recall@10 vs exact")
    ax.set_title(f"FAISS index types at {size_label(report['config']['size'])} vectors")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)
