"""Benchmarks of hippograph's store against its baselines (`hippograph bench …`).

Core pieces:
    - `run_store_bench` / `StoreBenchConfig`: the store benchmark (put, search, get, open,
      memory, disk, recall) per backend and size, with same-run baselines.
    - `run_index_study`: flat vs HNSW vs IVF at one size — the evidence behind `IndexPolicy`.
    - `cli.app`: the typer app registered as `hippograph bench`.

The benchmark modules (FAISS, numpy) load on first use, so `hippograph --help` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hippograph.bench.index_study import run_index_study
    from hippograph.bench.store import StoreBenchConfig, run_store_bench

__all__ = ["StoreBenchConfig", "run_index_study", "run_store_bench"]

_HOMES = {
    "StoreBenchConfig": "hippograph.bench.store",
    "run_store_bench": "hippograph.bench.store",
    "run_index_study": "hippograph.bench.index_study",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
