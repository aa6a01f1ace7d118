"""Benchmarks of hippograph's store against its baselines (`hippograph bench …`).

Core pieces:
    - `run_store_bench` / `StoreBenchConfig`: the store benchmark (put, search, get, open,
      memory, disk, recall) per backend and size, with same-run baselines.
    - `run_index_study`: flat vs HNSW vs IVF at one size — the evidence behind `IndexPolicy`.
    - `cli.app`: the typer app registered as `hippograph bench`.
"""

from hippograph.bench.index_study import run_index_study
from hippograph.bench.store import StoreBenchConfig, run_store_bench

__all__ = ["StoreBenchConfig", "run_index_study", "run_store_bench"]
