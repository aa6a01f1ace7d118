"""Building a group's main FAISS index: the slow part, done without holding any lock.

Core pieces:
    - `BuildJob`: what to build — a fresh index from a copy of a group's live vectors
      (`full`), or an HNSW graph extended with the vectors of its delta (`merge`, on a
      clone, so the graph being searched is never touched).
    - `BuildResult`: the built index and the ids it physically holds, for
      `GroupIndex.install`, which reconciles it with the changes made while it was built.
    - `new_index`: an empty index of a kind, under a policy.

Jobs add vectors in chunks and can be cancelled between chunks, so closing a store never
waits for a whole graph to be built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import faiss
import numpy as np

if TYPE_CHECKING:
    from hippograph.store.index_policy import IndexKind, IndexPolicy

BuildReason = Literal["promote", "conform", "rebuild", "merge", "build"]

_CHUNK = 4_096
"""Vectors added per FAISS call: the most a cancelled build keeps running."""


def new_index(kind: IndexKind, dims: int, policy: IndexPolicy) -> faiss.IndexIDMap2:
    """An empty `IndexIDMap2` over a flat or an HNSW inner-product index."""
    inner: Any
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dims, policy.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = policy.hnsw_ef_construction
    else:
        inner = faiss.IndexFlatIP(dims)
    return faiss.IndexIDMap2(inner)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A built main index and the ids it physically holds (ascending)."""

    index: faiss.IndexIDMap2
    kind: IndexKind
    hnsw_m: int
    ids: np.ndarray
    generation: int
    """The `GroupIndex.generation` the job was planned against."""


@dataclass(frozen=True, slots=True)
class BuildJob:
    """Everything needed to build a main index, copied out of the group (see `full` and
    `merge`); `run` touches nothing shared."""

    reason: BuildReason
    policy: IndexPolicy
    ids: np.ndarray
    vectors: np.ndarray
    generation: int
    base: faiss.Index | None = None
    """`merge`: the HNSW main index to clone and extend (never changed in place)."""
    base_ids: np.ndarray | None = None
    base_hnsw_m: int = 0

    @classmethod
    def full(
        cls,
        policy: IndexPolicy,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        generation: int,
        reason: BuildReason = "build",
    ) -> BuildJob:
        """Build a fresh index of the kind `policy` wants for `len(ids)` vectors."""
        return cls(reason, policy, ids, vectors, generation)

    @classmethod
    def merge(
        cls,
        policy: IndexPolicy,
        base: faiss.Index,
        base_ids: np.ndarray,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        hnsw_m: int,
        generation: int,
    ) -> BuildJob:
        """Extend a clone of the HNSW index `base` (degree `hnsw_m`) with `(ids, vectors)`."""
        return cls("merge", policy, ids, vectors, generation, base, base_ids, hnsw_m)

    @property
    def size(self) -> int:
        """Vectors the job adds to a FAISS index."""
        return len(self.ids)

    def run(
        self, *, threads: int = 1, cancelled: Callable[[], bool] = lambda: False
    ) -> BuildResult | None:
        """Build the index with `threads` OpenMP threads; `None` if `cancelled()` turned
        true between two chunks."""
        faiss.omp_set_num_threads(threads)  # a per-thread setting: the caller's own
        if self.base is not None:
            index = faiss.clone_index(self.base)
            if not isinstance(index, faiss.IndexIDMap2):
                raise TypeError(f"cannot merge into a {type(index).__name__}")
            kind: IndexKind = "hnsw"
            hnsw_m = self.base_hnsw_m
            assert self.base_ids is not None
            ids = np.concatenate([self.base_ids, self.ids])
        else:
            kind = self.policy.kind_for(len(self.ids))
            index = new_index(kind, int(self.vectors.shape[1]), self.policy)
            hnsw_m = self.policy.hnsw_m
            ids = self.ids
        vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        for start in range(0, len(self.ids), _CHUNK):
            if cancelled():
                return None
            stop = start + _CHUNK
            index.add_with_ids(vectors[start:stop], np.ascontiguousarray(self.ids[start:stop]))
        return BuildResult(index, kind, hnsw_m, ids, self.generation)
