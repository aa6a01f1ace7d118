"""How groups are indexed: `IndexPolicy` (exact or HNSW, graph settings, background builds,
snapshots) and `IndexKind`. The evidence behind the defaults is in
`benchmarks/results/index_types_*.md`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

IndexKind = Literal["flat", "hnsw"]


@dataclass(frozen=True, slots=True)
class IndexPolicy:
    """How a group's FAISS index is built, and when it is snapshotted to disk.

    The defaults follow `benchmarks/results/index_types_*.md` (2 shared cores, 384-d
    MiniLM-like vectors): exact search costs ~0.2 ms per 1k vectors on one core, so it
    stays near 5 ms p95 up to ~20k vectors and is 0.3-0.5 s at 1M. HNSW (M=32,
    efConstruction 40) gives recall@10 0.99 at 100k (efSearch 64, ~1 ms) and 0.94 at 1M
    (efSearch 256, ~12 ms p95); M=16 builds twice as fast but falls to 0.75 at 1M; IVF
    gave far less recall for more time (0.68 at 1M, nprobe 128, 34 ms p95). HNSW builds
    at ~700-2700 vectors/s on 2 busy cores, which is why graphs are built in the
    background and large groups keep snapshots.

    Attributes:
        hnsw_threshold: Live vectors in a group above which it switches from exact flat
            search to HNSW (`None` keeps every group exact).
        hnsw_m: HNSW graph degree.
        hnsw_ef_construction: HNSW build beam width (build time grows with it).
        hnsw_ef_search: HNSW search beam width at 100k vectors; it grows with the group as
            `(live / 100k) ** 0.6` (≈128 at 316k, 256 at 1M) and is never below k.
        rebuild_ratio: Fraction of tombstones in an HNSW index that triggers a rebuild.
        delta_limit: Vectors an HNSW group keeps in its exact delta before they are merged
            into the graph (in the background; exact search over the delta costs ~0.2 ms
            per 1k vectors).
        search_threads: OpenMP threads for one query (1 is fastest for single queries).
        build_threads: OpenMP threads of a background build (`None`: all cores but one, so
            searches keep a core while a graph is built).
        snapshot_threshold: Groups with at least this many live vectors are kept as on-disk
            snapshots so reopening skips the rebuild (`None`: never snapshot).
        snapshot_every: Vector changes applied to a snapshotted group after which a new
            snapshot is written in the background (it is also written on `close()`).
    """

    hnsw_threshold: int | None = 20_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    hnsw_ef_search: int = 64
    rebuild_ratio: float = 0.2
    delta_limit: int = 10_000
    search_threads: int = 1
    build_threads: int | None = None
    snapshot_threshold: int | None = 20_000
    snapshot_every: int = 10_000

    def kind_for(self, live: int) -> IndexKind:
        """The index kind a group of `live` vectors gets when it is (re)built."""
        if self.hnsw_threshold is not None and live > self.hnsw_threshold:
            return "hnsw"
        return "flat"

    def ef_search_for(self, live: int, k: int) -> int:
        """The HNSW search beam width for a group of `live` vectors asked for `k` results."""
        scale = max(1.0, live / 100_000) ** 0.6
        return max(k, round(self.hnsw_ef_search * scale))

    def snapshots(self, live: int) -> bool:
        """Whether a group of `live` vectors is worth a snapshot."""
        return self.snapshot_threshold is not None and live >= self.snapshot_threshold

    def threads_for_builds(self) -> int:
        """OpenMP threads a background build uses."""
        if self.build_threads is not None:
            return max(1, self.build_threads)
        return max(1, (os.cpu_count() or 1) - 1)
