"""The store at scale with many users: search latency per tenant size, bulk load, open time.

Memories belong to users, and every memory search is scoped to one user's namespace, so
what a user waits for depends on how many memories *that user* has, not on the total. This
measurement fills one store with many tenants of a few sizes and times searches per size.

Core pieces:
    - `tenant_layout(total, sizes)`: how many tenants of each size make `total` items — the
      sizes up to a fifth of the total share it evenly (100k with 100/1k/10k: 333 tenants of
      100, 33 of 1k, 3 of 10k).
    - `save_tenant_data(...)`: the vectors, the query vectors of each size class and the exact
      top 10 of each query within its tenant (the recall reference).
    - `measure_tenants(backend, data, config)`: bulk load through `batch`, open + first
      search, then searches per tenant size (p50/p95, recall@10), disk; in its own process.
    - `project(results, total)`: the figures at `total` (e.g. 1M) from the growth measured
      between two totals, per backend — "on paper", and labelled so.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.store.base import BaseStore, PutOp

from hippograph.bench.backends import BACKENDS
from hippograph.bench.embedders import PrecomputedEmbeddings
from hippograph.bench.measure import disk_mb, latency_ms, progress, scratch_dir, size_label
from hippograph.bench.vectors import make_vectors

if TYPE_CHECKING:
    from hippograph.bench.store import StoreBenchConfig

DEFAULT_TENANT_SIZES = (100, 1_000, 10_000)
MAX_SHARE = 5
"""A tenant size takes part when it is at most `total / MAX_SHARE`."""


def tenant_layout(total: int, sizes: Sequence[int]) -> dict[int, int]:
    """`{tenant size: tenants}` for a store of about `total` items (see the module docstring).

    Raises:
        ValueError: no size fits (every size is above `total / MAX_SHARE`).
    """
    used = sorted(size for size in set(sizes) if size * MAX_SHARE <= total)
    if not used:
        raise ValueError(
            f"no tenant size fits {size_label(total)} items (a size must be at most a "
            f"{MAX_SHARE}th of the total): {', '.join(map(size_label, sorted(sizes)))}"
        )
    share = total // len(used)
    return {size: share // size for size in used}


def tenant_name(size: int, number: int) -> str:
    """The user id of tenant `number` among those of `size` items."""
    return f"t{size_label(size)}-{number}"


def save_tenant_data(
    directory: Path, total: int, sizes: Sequence[int], config: StoreBenchConfig
) -> Path:
    """Write the vectors, queries and exact answers of one layout to an `.npz` file."""
    layout = tenant_layout(total, sizes)
    items = sum(size * count for size, count in layout.items())
    queries = config.queries
    documents, pool = make_vectors(
        config.vectors, items, queries * len(layout), config.dims, config.seed + 7 * total
    )
    arrays: dict[str, np.ndarray] = {
        "documents": documents,
        "queries": pool,
        "layout": np.asarray(sorted(layout.items()), dtype=np.int64),
    }
    start = 0
    for n, (size, count) in enumerate(sorted(layout.items())):
        tenants = np.arange(queries) % count
        truth = np.empty((queries, 10), dtype=np.int64)
        for j, tenant in enumerate(tenants):
            lo = start + int(tenant) * size
            scores = documents[lo : lo + size] @ pool[n * queries + j]
            truth[j] = lo + np.argsort(-scores, kind="stable")[:10]
        arrays[f"tenants_{size}"], arrays[f"truth_{size}"] = tenants, truth
        start += size * count
    path = directory / f"tenants-{total}.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@dataclass(slots=True)
class TenantResult:
    """One backend with one tenant layout (times in ms unless named `_s`)."""

    backend: str
    total: int
    layout: dict[str, int] = field(default_factory=dict)
    """`{tenant size: tenants}` (sizes as strings, as in JSON)."""
    put_per_s: float | None = None
    open_s: float | None = None
    """Open + first search in a fresh process."""
    disk_mb: float | None = None
    search_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    """Latency of searches scoped to one tenant, by tenant size (a string, as in JSON)."""
    recall_at_10: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _owner(layout: dict[int, int]) -> list[tuple[int, int, int]]:
    """`(first document, tenant size, tenant number)` of every tenant, in document order."""
    owners, start = [], 0
    for size, count in sorted(layout.items()):
        for number in range(count):
            owners.append((start + number * size, size, number))
        start += size * count
    return owners


def _fill(store: BaseStore, layout: dict[int, int], batch_size: int, label: str) -> None:
    ops: list[PutOp] = []
    items = sum(size * count for size, count in layout.items())
    with progress(items, f"put    {label}") as advance:
        for first, size, number in _owner(layout):
            namespace = ("memories", tenant_name(size, number))
            for i in range(first, first + size):
                ops.append(PutOp(namespace, f"k{i}", {"content": f"doc {i}"}))
                if len(ops) == batch_size:
                    store.batch(ops)
                    advance(len(ops))
                    ops = []
        if ops:
            store.batch(ops)
            advance(len(ops))


def measure_tenants(backend_name: str, data_path: Path, config: StoreBenchConfig) -> TenantResult:
    """Fill a fresh store of `backend_name` with the layout in `data_path`, then measure it."""

    backend = BACKENDS[backend_name]
    with np.load(data_path) as data:
        arrays = {name: data[name] for name in data.files}
    layout = {int(size): int(count) for size, count in arrays["layout"]}
    result = TenantResult(
        backend_name, len(arrays["documents"]), {str(k): v for k, v in layout.items()}
    )
    label = f"{backend_name} {size_label(result.total)} in tenants"
    embed = PrecomputedEmbeddings(arrays["documents"], arrays["queries"])
    gc.collect()
    with (
        scratch_dir(config.workdir, "hippograph-bench-") as directory,
        backend.host(directory, config.postgres_url) as location,
    ):
        with backend.open(location, embed, config.dims) as store:
            start = time.perf_counter()
            _fill(store, layout, config.batch_size, label)
            seconds = time.perf_counter() - start - embed.seconds
            result.put_per_s = result.total / max(seconds, 1e-9)
        start = time.perf_counter()
        with backend.open(location, embed, config.dims) as store:
            first = ("memories", tenant_name(min(layout), 0))
            store.search(first, query="query 0", limit=10)
            result.open_s = time.perf_counter() - start
            for n, size in enumerate(sorted(layout)):
                times, recall = _searches(
                    store, arrays, embed, size=size, n=n, count=config.queries, label=label
                )
                result.search_ms[str(size)], result.recall_at_10[str(size)] = times, recall
        result.disk_mb = backend.disk(location) if backend.disk else disk_mb(directory)
    return result


def _searches(
    store: BaseStore,
    arrays: dict[str, np.ndarray],
    embed: PrecomputedEmbeddings,
    *,
    size: int,
    n: int,
    count: int,
    label: str,
) -> tuple[dict[str, float], float]:
    """Timed searches scoped to tenants of `size` (embedding excluded), and recall@10."""
    tenants, truth = arrays[f"tenants_{size}"], arrays[f"truth_{size}"]
    times, recall = [], []
    with progress(count, f"search {label}: {size_label(size)} per tenant") as advance:
        for j in range(count):
            namespace = ("memories", tenant_name(size, int(tenants[j])))
            embedded = embed.seconds
            start = time.perf_counter()
            found = store.search(namespace, query=f"query {n * count + j}", limit=10)
            times.append(time.perf_counter() - start - (embed.seconds - embedded))
            expected = {f"k{i}" for i in truth[j]}
            recall.append(len(expected & {item.key for item in found}) / 10)
            advance()
    return latency_ms(times), float(np.mean(recall))


# ---------------------------------------------------------------------- projection


def _scale(
    low: float | None, high: float | None, low_n: int, high_n: int, at: int, *, rate: bool = False
) -> float | None:
    """`high` carried from `high_n` items to `at` along the power law through both
    measurements. Pessimistic: a cost (latency, time, disk) is never assumed to shrink with
    size, a rate never to grow. `None` when either measurement is missing."""
    if not low or not high:
        return None
    exponent = math.log(high / low) / math.log(high_n / low_n)
    exponent = min(0.0, exponent) if rate else max(0.0, exponent)
    return float(high * (at / high_n) ** exponent)


def project(results: Sequence[dict[str, Any]], at: int) -> list[dict[str, Any]]:
    """Per backend, the figures at `at` items from its two largest measured totals: bulk
    load time and disk scaled by their measured growth, open time and search latency per
    tenant size likewise (a size measured only at the larger total keeps the growth of the
    nearest smaller size)."""
    projected = []
    for backend in sorted({r["backend"] for r in results}):
        runs = sorted(
            (r for r in results if r["backend"] == backend and r.get("search_ms")),
            key=lambda r: r["total"],
        )
        if len(runs) < 2:
            continue
        low, high = runs[-2], runs[-1]
        lo_n, hi_n = low["total"], high["total"]
        rate = _scale(low["put_per_s"], high["put_per_s"], lo_n, hi_n, at, rate=True)
        row: dict[str, Any] = {
            "backend": backend,
            "total": at,
            "from": [lo_n, hi_n],
            "put_per_s": rate,
            "bulk_load_s": at / rate if rate else None,
            "open_s": _scale(low["open_s"], high["open_s"], lo_n, hi_n, at),
            "disk_mb": _scale(low["disk_mb"], high["disk_mb"], lo_n, hi_n, at),
            "search_ms": {},
        }
        growth: float | None = None
        for size, after in sorted(high["search_ms"].items(), key=lambda pair: int(pair[0])):
            before = low["search_ms"].get(size)
            if before:
                growth = _scale(before["p50"], after["p50"], lo_n, hi_n, at)
                growth = None if growth is None else growth / after["p50"]
            factor = growth or 1.0
            row["search_ms"][size] = {q: after[q] * factor for q in ("p50", "p95")}
        projected.append(row)
    return projected
