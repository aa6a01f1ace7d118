"""Store benchmark: put throughput, search/get latency, recall, memory, disk and open time.

Every backend gets the same pre-computed unit vectors (`hippograph.bench.vectors`, so the
embedder is not measured), in the same run, each (backend, size) in a fresh process so its
memory is its own. A bare FAISS flat index is the floor and LangGraph's `InMemoryStore` the
baseline; ratios against both are in the report. One more run puts real LoCoMo dialogue
through the real local embedder, end to end.

Core pieces:
    - `StoreBenchConfig`: what to run.
    - `run_store_bench(config)`: runs it and writes `<name>.json|.md|.png` (see `report`).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langgraph.store.base import BaseStore, PutOp

from hippograph.bench import tenants as tenant_bench
from hippograph.bench.backends import BACKENDS, BenchBackend, resolve_backends
from hippograph.bench.embedders import PrecomputedEmbeddings
from hippograph.bench.measure import (
    anon_rss_mb,
    call,
    disk_mb,
    latency_ms,
    machine_info,
    progress,
    scratch_dir,
    size_label,
)
from hippograph.bench.vectors import VectorKind, make_vectors

logger = logging.getLogger(__name__)

NAMESPACE = ("memories", "bench-user")
PROJECTED = 1_000_000
"""Total the many-tenant figures are projected to, from the growth measured below it."""
FLOOR = "faiss-flat"
"""Name of the floor row: a bare `faiss.IndexFlatIP`, no store around it."""
_WARMUP = 5


@dataclass(slots=True)
class StoreBenchConfig:
    """What `run_store_bench` runs.

    Attributes:
        sizes: Items per run (one namespace, so one FAISS group: the worst case).
        backends: Names from `hippograph.bench.backends.BACKENDS`.
        queries: Timed searches per (backend, size) (capped per backend).
        gets: Timed gets per (backend, size).
        batch_size: Items per `batch()` call when filling.
        dims: Vector dimension (384, as all-MiniLM-L6-v2).
        vectors: `"embedding"` (MiniLM-like) or `"uniform"` (worst case for ANN).
        real_texts: LoCoMo turns for the real-embedder run (0 skips it).
        real_queries: LoCoMo questions timed in the real-embedder run.
        locomo_dir: LoCoMo conversations (`*.json`); default: `../shared/data/locomo`.
        out_dir: Where the report goes.
        name: Report file stem.
        workdir: Scratch space for databases (default: the system temp dir).
        isolate: Run each (backend, size) in a fresh process (honest memory figures).
        postgres_url: Server the `postgres` backend creates its databases on (its role
            needs CREATEDB; each database is dropped after its measurement).
        tenant_sizes: Also fill each size with many users of these sizes and time searches
            per user size (`hippograph.bench.tenants`); empty: skip. With two or more sizes
            the report projects the figures to 1M from the growth between the largest two.
        seed: Seed for the vectors.
    """

    sizes: Sequence[int] = (1_000, 10_000, 100_000)
    backends: Sequence[str] = ("faiss-sqlite", "inmemory")
    queries: int = 200
    gets: int = 200
    batch_size: int = 1_000
    dims: int = 384
    vectors: VectorKind = "embedding"
    real_texts: int = 2_000
    real_queries: int = 200
    locomo_dir: Path | None = None
    out_dir: Path = Path("benchmarks/results")
    name: str = "store_bench"
    workdir: Path | None = None
    isolate: bool = True
    seed: int = 0
    postgres_url: str | None = None
    tenant_sizes: Sequence[int] = ()


@dataclass(slots=True)
class RunResult:
    """Measurements of one backend at one size (times in ms unless named `_s`)."""

    backend: str
    size: int
    put_per_s: float | None = None
    """Items per second through `batch()`, time spent inside the embedder excluded."""
    search_ms: dict[str, float] = field(default_factory=dict)
    get_ms: dict[str, float] = field(default_factory=dict)
    recall_at_10: float | None = None
    open_rebuild_s: float | None = None
    """Open + first search on a fresh process with no index snapshot: the group is read
    from SQLite and searched exactly (its HNSW graph is then built in the background)."""
    open_snapshot_s: float | None = None
    """Open + first search when the store left an index snapshot on close."""
    memory_mb: float | None = None
    """Anonymous resident memory added by the store (data + index), in MiB."""
    disk_mb: float | None = None
    index: str | None = None
    queries: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Data:
    documents: np.ndarray
    queries: np.ndarray
    truth: np.ndarray
    """Exact top-10 document numbers per query."""


def _save_data(directory: Path, size: int, config: StoreBenchConfig) -> Path:
    documents, queries = make_vectors(
        config.vectors, size, config.queries + _WARMUP, config.dims, config.seed + size
    )
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(config.dims)
    exact.add(documents)
    _, truth = exact.search(queries, 10)
    path = directory / f"data-{size}.npz"
    np.savez(path, documents=documents, queries=queries, truth=truth)
    return path


def _load_data(path: Path) -> _Data:
    with np.load(path) as data:
        return _Data(data["documents"], data["queries"], data["truth"])


def _fill(store: BaseStore, size: int, batch_size: int, label: str) -> float:
    """Put `size` items through `batch()`; return the wall time."""
    start = time.perf_counter()
    with progress(size, f"put    {label}") as advance:
        for lo in range(0, size, batch_size):
            hi = min(size, lo + batch_size)
            store.batch([PutOp(NAMESPACE, f"k{i}", {"content": f"doc {i}"}) for i in range(lo, hi)])
            advance(hi - lo)
    return time.perf_counter() - start


@contextmanager
def _timed_open(
    backend: BenchBackend, location: str, embed: PrecomputedEmbeddings, dims: int, warmup: int
) -> Iterator[tuple[BaseStore, float]]:
    """Open `backend` at `location` and run one search: the store and the seconds it took."""
    start = time.perf_counter()
    with backend.open(location, embed, dims) as store:
        store.search(NAMESPACE, query=f"query {warmup}", limit=10)
        yield store, time.perf_counter() - start


def _searches(
    store: BaseStore, data: _Data, embed: PrecomputedEmbeddings, count: int, label: str
) -> tuple[list[float], float]:
    """Time `count` searches (embedding excluded); return the timings and recall@10."""
    n = len(data.queries) - _WARMUP
    for j in range(n, n + _WARMUP):
        store.search(NAMESPACE, query=f"query {j}", limit=10)
    times: list[float] = []
    recall: list[float] = []
    with progress(count, f"search {label}") as advance:
        for j in range(count):
            embedded = embed.seconds
            start = time.perf_counter()
            found = store.search(NAMESPACE, query=f"query {j}", limit=10)
            times.append(time.perf_counter() - start - (embed.seconds - embedded))
            truth = {f"k{i}" for i in data.truth[j]}
            recall.append(len(truth & {item.key for item in found}) / 10)
            advance()
    return times, float(np.mean(recall))


def _gets(store: BaseStore, size: int, count: int, seed: int) -> list[float]:
    keys = np.random.default_rng(seed).integers(0, size, count)
    times = []
    for i in keys:
        start = time.perf_counter()
        item = store.get(NAMESPACE, f"k{i}")
        times.append(time.perf_counter() - start)
        if item is None:
            raise RuntimeError(f"k{i} missing from the store after filling it")
    return times


def _measure_searches(
    store: BaseStore,
    data: _Data,
    embed: PrecomputedEmbeddings,
    result: RunResult,
    *,
    queries: int,
    config: StoreBenchConfig,
    base_rss: float,
) -> None:
    """Fill `result`'s search, get, recall, memory and index figures from a filled store."""
    label = f"{result.backend} {size_label(result.size)}"
    times, result.recall_at_10 = _searches(store, data, embed, queries, label)
    result.search_ms, result.queries = latency_ms(times), queries
    result.get_ms = latency_ms(_gets(store, len(data.documents), config.gets, config.seed))
    result.memory_mb = anon_rss_mb() - base_rss
    stats = getattr(store, "index_stats", None)
    if callable(stats):
        result.index = ", ".join(sorted({kind for kind, _ in stats().values()}))


def measure_backend(backend_name: str, data_path: Path, config: StoreBenchConfig) -> RunResult:
    """Fill a fresh store of `backend_name` and measure it (runs in its own process)."""
    backend = BACKENDS[backend_name]
    data = _load_data(data_path)
    size = len(data.documents)
    label = f"{backend.name} {size_label(size)}"
    result = RunResult(backend.name, size)
    queries = min(config.queries, backend.max_queries or config.queries)
    embed = PrecomputedEmbeddings(data.documents, data.queries)
    gc.collect()
    base_rss = anon_rss_mb()
    result.notes.extend(backend.notes)
    warmup = len(data.queries) - 1
    measure = partial(_measure_searches, queries=queries, config=config, base_rss=base_rss)
    with (
        scratch_dir(config.workdir, "hippograph-bench-") as directory,
        backend.host(directory, config.postgres_url) as location,
    ):
        with backend.open(location, embed, config.dims) as store:
            seconds = _fill(store, size, config.batch_size, label)
            result.put_per_s = size / max(seconds - embed.seconds, 1e-9)
            if not backend.persistent:
                measure(store, data, embed, result)
        if backend.persistent:
            with _timed_open(backend, location, embed, config.dims, warmup) as (store, seconds):
                result.open_rebuild_s = seconds
                save = getattr(store, "save_index_snapshots", None)
                if callable(save):
                    save()  # the snapshot that follows a rebuild must not overlap the searches
                measure(store, data, embed, result)
            snapshots = Path(f"{location}-index")
            if snapshots.is_dir() and any(snapshots.glob("*.json")):
                with _timed_open(backend, location, embed, config.dims, warmup) as (_, seconds):
                    result.open_snapshot_s = seconds
            result.disk_mb = backend.disk(location) if backend.disk else disk_mb(directory)
    return result


def measure_floor(_name: str, data_path: Path, config: StoreBenchConfig) -> RunResult:
    """A bare `faiss.IndexFlatIP`: exact, vectors only — no values, no durability."""
    data = _load_data(data_path)
    size = len(data.documents)
    result = RunResult(FLOOR, size, index="flat", queries=config.queries)
    result.notes.append("vectors only: no values, no persistence")
    gc.collect()
    base_rss = anon_rss_mb()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    index = faiss.IndexFlatIP(config.dims)
    index.add(data.documents)
    result.put_per_s = size / (time.perf_counter() - start)
    faiss.omp_set_num_threads(1)
    times, recall = [], []
    for j in range(config.queries):
        start = time.perf_counter()
        _, found = index.search(data.queries[j : j + 1], 10)
        times.append(time.perf_counter() - start)
        recall.append(len(set(found[0].tolist()) & set(data.truth[j].tolist())) / 10)
    result.search_ms = latency_ms(times)
    result.recall_at_10 = float(np.mean(recall))
    result.memory_mb = anon_rss_mb() - base_rss
    return result


def _run(
    func: Callable[[str, Path, StoreBenchConfig], RunResult],
    name: str,
    size: int,
    data_path: Path,
    config: StoreBenchConfig,
) -> RunResult:
    """One measurement; a crash becomes a note in the results and the run goes on."""
    try:
        return call(func, name, data_path, config, isolate=config.isolate)
    except Exception as exc:
        logger.exception("%s at %s failed", name, size_label(size))
        return RunResult(name, size, notes=[f"failed: {exc!r}"])


def run_store_bench(config: StoreBenchConfig) -> dict[str, Any]:
    """Run the store benchmark and write `<name>.json`, `.md` and `.png` into `out_dir`.

    Returns:
        The report (as written to JSON).
    """
    from hippograph.bench import real_embedder
    from hippograph.bench.report import run_report, write_store_report

    backends = resolve_backends(config.backends)
    started = datetime.now(UTC)
    machine = machine_info()
    results: list[RunResult] = []
    with scratch_dir(config.workdir, "hippograph-bench-data-") as data_dir:
        for size in config.sizes:
            data_path = _save_data(data_dir, size, config)
            results.append(_run(measure_floor, FLOOR, size, data_path, config))
            for backend in backends:
                if backend.max_size is not None and size > backend.max_size:
                    results.append(
                        RunResult(
                            backend.name,
                            size,
                            notes=[f"skipped: above {size_label(backend.max_size)}, where it fits"],
                        )
                    )
                    continue
                results.append(_run(measure_backend, backend.name, size, data_path, config))
            data_path.unlink()
    tenants = run_tenants(config, backends) if config.tenant_sizes else []
    real = real_embedder.run(config, [b.name for b in backends]) if config.real_texts else None
    report = run_report(
        "store",
        started,
        machine,
        config,
        skip=("out_dir", "workdir", "locomo_dir"),
        results=[asdict(r) for r in results],
        tenants=tenants,
        projection=tenant_bench.project(tenants, PROJECTED) if tenants else [],
        real_embedder=real,
    )
    write_store_report(report, config.out_dir, config.name)
    return report


def run_tenants(config: StoreBenchConfig, backends: Sequence[BenchBackend]) -> list[dict[str, Any]]:
    """The many-tenant measurement of every backend at every size that has a layout."""
    found: list[dict[str, Any]] = []
    with scratch_dir(config.workdir, "hippograph-bench-data-") as data_dir:
        for size in config.sizes:
            try:
                data_path = tenant_bench.save_tenant_data(
                    data_dir, size, config.tenant_sizes, config
                )
            except ValueError as exc:
                logger.warning("tenants at %s skipped: %s", size_label(size), exc)
                continue
            for backend in backends:
                if backend.max_size is not None and size > backend.max_size:
                    continue
                try:
                    measured = call(
                        tenant_bench.measure_tenants,
                        backend.name,
                        data_path,
                        config,
                        isolate=config.isolate,
                    )
                    found.append(asdict(measured))
                except Exception as exc:
                    logger.exception("%s tenants at %s failed", backend.name, size_label(size))
                    failed = tenant_bench.TenantResult(backend.name, size, notes=[repr(exc)])
                    found.append(asdict(failed))
            data_path.unlink()
    return found


def load_report(path: Path) -> dict[str, Any]:
    """Read a report written by `run_store_bench`."""
    return json.loads(path.read_text())
