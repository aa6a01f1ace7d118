"""FAISS index of one namespace group: exact inner product, HNSW above a size threshold.

Vectors are unit-norm float32, so inner product is cosine similarity. Ids are the
`vectors.id` of SQLite rows: AUTOINCREMENT, so never reused and always appended in
ascending order — which keeps the id map sorted and lets a filtered search score an
arbitrary subset exactly with one `searchsorted` + matrix product.

- `flat` (`IndexIDMap2(IndexFlatIP)`): exact; removals are real (`remove_ids`).
- `hnsw` (`IndexIDMap2(IndexHNSWFlat)`): approximate, for groups above
  `IndexPolicy.hnsw_threshold`; FAISS cannot remove from HNSW, so removed ids become
  tombstones excluded at search time, and the graph is rebuilt from live vectors once
  tombstones exceed `IndexPolicy.rebuild_ratio` of it.

`GroupIndex.export` / `GroupIndex.restore` hand the raw FAISS index, tombstones and
bookkeeping to and from `hippograph.store.snapshot`, which persists them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np

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
    at ~700-2700 vectors/s on 2 busy cores, which is why large groups keep snapshots.

    Attributes:
        hnsw_threshold: Live vectors in a group above which it switches from exact flat
            search to HNSW (`None` keeps every group exact).
        hnsw_m: HNSW graph degree.
        hnsw_ef_construction: HNSW build beam width (build time grows with it).
        hnsw_ef_search: HNSW search beam width at 100k vectors; it grows with the group as
            `(live / 100k) ** 0.6` (≈128 at 316k, 256 at 1M) and is never below k.
        rebuild_ratio: Fraction of tombstones in an HNSW index that triggers a rebuild.
        search_threads: OpenMP threads for one query (1 is fastest for single queries).
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
    search_threads: int = 1
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


class RWLock:
    """Many concurrent readers or one writer (writers are not starved by new readers)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared."""
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively."""
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _ids(array: object) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.int64).reshape(-1))


class GroupIndex:
    """The FAISS index of one namespace group. Not thread-safe: `IndexManager` locks it."""

    def __init__(self, dims: int, policy: IndexPolicy, applied_seq: int = 0) -> None:
        self.dims = dims
        self.policy = policy
        self.applied_seq = applied_seq
        self.kind: IndexKind = "flat"
        self._index: faiss.IndexIDMap2 = faiss.IndexIDMap2(faiss.IndexFlatIP(dims))
        self._tombstones: set[int] = set()
        self._selector: faiss.IDSelector | None = None
        self._selector_batch: faiss.IDSelectorBatch | None = None
        self._id_cache: np.ndarray | None = None
        self.max_id = 0
        """Highest id ever added (removed ones included): replay fetches ids above it."""
        self.changes = 0
        """Vectors added or removed since this object was created (snapshot bookkeeping)."""
        self.hnsw_m = policy.hnsw_m

    def __len__(self) -> int:
        """Live vectors (tombstones excluded)."""
        return int(self._index.ntotal) - len(self._tombstones)

    @property
    def tombstones(self) -> int:
        """Removed vectors still physically present in an HNSW graph."""
        return len(self._tombstones)

    def _id_map(self) -> np.ndarray:
        if self._id_cache is None:
            self._id_cache = faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)
        return self._id_cache

    def _storage(self) -> np.ndarray:
        inner: Any = faiss.downcast_index(self._index.index)
        flat: Any = faiss.downcast_index(inner.storage) if self.kind == "hnsw" else inner
        n = int(flat.ntotal)
        if n == 0:
            return np.zeros((0, self.dims), dtype=np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dims).reshape(n, self.dims)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors under `ids` (ids larger than any present keep the map sorted)."""
        ids = _ids(ids)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dims)
        current = self._id_map()
        if (len(current) and ids.min() <= current[-1]) or np.any(np.diff(ids) <= 0):
            live_ids, live_vectors = self.live()
            all_ids = np.concatenate([live_ids, ids])
            all_vectors = np.concatenate([live_vectors, vectors])
            _, first = np.unique(all_ids[::-1], return_index=True)
            keep = np.sort(len(all_ids) - 1 - first)  # last write wins for a repeated id
            order = keep[np.argsort(all_ids[keep], kind="stable")]
            self.build(all_ids[order], all_vectors[order])
            self.changes += len(ids)
            return
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        self._index.add_with_ids(vectors, ids)
        self._id_cache = None
        self.max_id = max(self.max_id, int(ids[-1]))
        self.changes += len(ids)
        self._maybe_promote()

    def remove(self, ids: np.ndarray) -> None:
        """Remove `ids` (unknown ids are ignored)."""
        ids = _ids(ids)
        if not len(ids):
            return
        if self.kind == "flat":
            self.changes += int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))
            self._id_cache = None
            return
        present = set(ids[np.isin(ids, self._id_map())].tolist()) - self._tombstones
        self.changes += len(present)
        self._tombstones |= present
        self._selector = None
        if len(self._tombstones) > self.policy.rebuild_ratio * max(1, int(self._index.ntotal)):
            self.build(*self.live())

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """All live `(ids, vectors)`, ids ascending."""
        ids = self._id_map()
        vectors = self._storage()
        if self._tombstones:
            mask = ~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))
            return ids[mask], vectors[mask].copy()
        return ids.copy(), vectors.copy()

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents with `(ids, vectors)` (ids ascending), choosing the index kind."""
        ids = _ids(ids)
        if len(ids):
            self.max_id = max(self.max_id, int(ids.max()))
        self.kind = self.policy.kind_for(len(ids))
        self.hnsw_m = self.policy.hnsw_m
        inner: Any
        if self.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dims, self.policy.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.policy.hnsw_ef_construction
        else:
            inner = faiss.IndexFlatIP(self.dims)
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # per-thread setting: builds use all
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), _ids(ids))
        self._index = index
        self._tombstones = set()
        self._selector = None
        self._id_cache = None

    def _maybe_promote(self) -> None:
        if self.kind == "flat" and self.policy.kind_for(len(self)) == "hnsw":
            self.build(*self.live())

    def conform(self) -> bool:
        """Rebuild from the live vectors if the policy wants another layout for this size
        (e.g. a snapshot made under other settings); return whether it rebuilt."""
        wanted = self.policy.kind_for(len(self))
        if self.kind == wanted and (wanted == "flat" or self.hnsw_m == self.policy.hnsw_m):
            return False
        self.build(*self.live())
        return True

    def vectors_for(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of live `ids`, in order (`KeyError` if one is not live)."""
        ids = _ids(ids)
        id_map = self._id_map()
        positions = np.searchsorted(id_map, ids)
        inside = positions < len(id_map)
        found = np.zeros(len(ids), dtype=bool)
        found[inside] = id_map[positions[inside]] == ids[inside]
        if self._tombstones:
            found &= ~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))
        if not found.all():
            raise KeyError(f"ids not in the index: {ids[~found][:5].tolist()}")
        return self._storage()[positions].copy()

    def live_ids(self) -> np.ndarray:
        """Ids of the live vectors, ascending."""
        ids = self._id_map()
        if self._tombstones:
            return ids[~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))]
        return ids.copy()

    def export(self) -> tuple[faiss.Index, np.ndarray, dict[str, Any]]:
        """The raw FAISS index (not a copy: hold the manager's lock while using it), the
        tombstone ids and the bookkeeping `restore` needs."""
        tombstones = np.sort(np.fromiter(self._tombstones, dtype=np.int64))
        meta = {"kind": self.kind, "max_id": self.max_id, "hnsw_m": self.hnsw_m, "live": len(self)}
        return self._index, tombstones, meta

    @classmethod
    def restore(
        cls,
        dims: int,
        policy: IndexPolicy,
        index: faiss.Index,
        *,
        tombstones: np.ndarray,
        meta: dict[str, Any],
        applied_seq: int,
    ) -> GroupIndex:
        """Rebuild a `GroupIndex` from what `export` gave (`ValueError` if they disagree)."""
        if not isinstance(index, faiss.IndexIDMap2) or int(index.d) != dims:
            raise ValueError(f"expected a {dims}-d IndexIDMap2, got {type(index).__name__}")
        inner = faiss.downcast_index(index.index)
        kind = meta.get("kind")
        expected = {"flat": faiss.IndexFlatIP, "hnsw": faiss.IndexHNSWFlat}.get(str(kind))
        if expected is None or not isinstance(inner, expected):
            raise ValueError(f"index kind {kind!r} does not match {type(inner).__name__}")
        if inner.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError("index does not use inner product")
        group = cls(dims, policy, applied_seq)
        group.kind = "hnsw" if kind == "hnsw" else "flat"
        group._index = index
        group._tombstones = set(_ids(tombstones).tolist())
        group.max_id = int(meta["max_id"])
        group.hnsw_m = int(meta.get("hnsw_m", policy.hnsw_m))
        id_map = group._id_map()
        if group.kind == "flat" and group._tombstones:
            raise ValueError("a flat index cannot have tombstones")
        if len(id_map) and (np.any(np.diff(id_map) <= 0) or id_map[-1] > group.max_id):
            raise ValueError("index ids are not ascending or exceed max_id")
        if not np.isin(tombstones, id_map).all() or len(group) != int(meta["live"]):
            raise ValueError("tombstones or live count do not match the index")
        return group

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` `(scores, ids)` by inner product, best first.

        With `allowed`, only those ids are scored — exactly, whatever the index kind.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dims)
        if k <= 0 or len(self) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if allowed is not None:
            return self._search_subset(query[0], k, _ids(allowed))
        faiss.omp_set_num_threads(self.policy.search_threads)
        k = min(k, int(self._index.ntotal))
        if self.kind == "hnsw":
            params: Any = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = self.policy.ef_search_for(len(self), k)
            if self._tombstones:
                params.sel = self._tombstone_selector()
            scores, ids = self._index.search(query, k, params=params)
        else:
            scores, ids = self._index.search(query, k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _tombstone_selector(self) -> faiss.IDSelector:
        if self._selector is None:
            batch = faiss.IDSelectorBatch(np.fromiter(self._tombstones, dtype=np.int64))
            self._selector_batch = batch  # keep alive: the Not selector holds a raw pointer
            self._selector = faiss.IDSelectorNot(batch)
        return self._selector

    def _search_subset(
        self, query: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        id_map = self._id_map()
        allowed = np.unique(allowed)
        positions = np.searchsorted(id_map, allowed)
        inside = positions < len(id_map)
        positions, allowed = positions[inside], allowed[inside]
        positions = positions[id_map[positions] == allowed]
        candidates = id_map[positions]
        if self._tombstones:
            live = ~np.isin(candidates, np.fromiter(self._tombstones, dtype=np.int64))
            positions, candidates = positions[live], candidates[live]
        if not len(positions):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = self._storage()[positions] @ query
        top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        order = top[np.argsort(-scores[top], kind="stable")]
        return scores[order].astype(np.float32), candidates[order]
