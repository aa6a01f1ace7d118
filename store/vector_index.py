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
    """How a group's FAISS index is built.

    Attributes:
        hnsw_threshold: Live vectors in a group above which it switches from exact flat
            search to HNSW (`None` keeps every group exact).
        hnsw_m: HNSW graph degree.
        hnsw_ef_construction: HNSW build beam width.
        hnsw_ef_search: HNSW search beam width (raised to the requested k when larger).
        rebuild_ratio: Fraction of tombstones in an HNSW index that triggers a rebuild.
        search_threads: OpenMP threads for one query (1 is fastest for single queries).
    """

    hnsw_threshold: int | None = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    rebuild_ratio: float = 0.2
    search_threads: int = 1


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
            return
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        self._index.add_with_ids(vectors, ids)
        self._id_cache = None
        self.max_id = max(self.max_id, int(ids[-1]))
        self._maybe_promote()

    def remove(self, ids: np.ndarray) -> None:
        """Remove `ids` (unknown ids are ignored)."""
        ids = _ids(ids)
        if not len(ids):
            return
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._id_cache = None
            return
        present = set(ids[np.isin(ids, self._id_map())].tolist())
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
        use_hnsw = self.policy.hnsw_threshold is not None and len(ids) > self.policy.hnsw_threshold
        self.kind = "hnsw" if use_hnsw else "flat"
        inner: Any
        if use_hnsw:
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
        threshold = self.policy.hnsw_threshold
        if self.kind == "flat" and threshold is not None and len(self) > threshold:
            self.build(*self.live())

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
            params.efSearch = max(self.policy.hnsw_ef_search, k)
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
