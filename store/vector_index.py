"""FAISS index of one namespace group: exact inner product, HNSW above a size threshold.

Vectors are unit-norm float32, so inner product is cosine similarity. Ids are the
`vectors.id` of SQLite rows: AUTOINCREMENT, so never reused and always appended in
ascending order — which keeps the id maps sorted and lets a filtered search score an
arbitrary subset exactly with one `searchsorted` + matrix product.

A `GroupIndex` is a *main* index and a small exact *delta* beside it:

- `flat` main (`IndexIDMap2(IndexFlatIP)`): exact; additions are appended and removals are
  real (`remove_ids`), so the delta stays empty.
- `hnsw` main (`IndexIDMap2(IndexHNSWFlat)`), for groups above `IndexPolicy.hnsw_threshold`:
  never changed in place. New vectors go to the exact delta, removed ones become tombstones
  excluded at search time; searches merge both parts.

Work that takes seconds — building the HNSW graph when a group outgrows exact search,
rebuilding it once tombstones exceed `IndexPolicy.rebuild_ratio`, merging a delta of
`IndexPolicy.delta_limit` vectors into it — is never done in `add` / `remove`: `pending()`
says what is due, `plan()` copies what it needs into a `BuildJob` (see `index_build`), which
runs without any lock, and `install()` swaps the result in, reconciled with every change
made meanwhile. Searches stay exact and correct throughout; they only get faster.

While a snapshot is being written (`exporting()`), the main index is pinned: a flat main
then takes changes like an HNSW one (delta and tombstones) instead of moving its arrays.
`GroupIndex.restore` rebuilds a group from what `exporting()` gave; the delta is not
exported, since its vectors are exactly the group's ids above `max_id` in SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faiss
import numpy as np

from hippograph.store.index_build import BuildJob, BuildReason, BuildResult
from hippograph.store.index_policy import IndexKind, IndexPolicy

__all__ = ["GroupIndex", "IndexKind", "IndexPolicy"]


def _ids(array: object) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.int64).reshape(-1))


_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float32)


class _Part:
    """One `IndexIDMap2` of a group (the main index or the delta), with its ids cached."""

    def __init__(self, index: faiss.IndexIDMap2, kind: IndexKind, dims: int) -> None:
        self.index = index
        self.kind = kind
        self.dims = dims
        self._ids: np.ndarray | None = None
        self._storage: np.ndarray | None = None

    @classmethod
    def flat(cls, dims: int) -> _Part:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dims)), "flat", dims)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """Physical ids, ascending (cached until the part changes)."""
        if self._ids is None:
            self._ids = faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)
        return self._ids

    def storage(self) -> np.ndarray:
        """The stored vectors, row `i` under `ids()[i]` (a view: hold the group still;
        cached until the part changes, as `ids()` is — faiss may move them on a change)."""
        if self._storage is None:
            self._storage = self._storage_view()
        return self._storage

    def _storage_view(self) -> np.ndarray:
        inner: Any = faiss.downcast_index(self.index.index)
        flat: Any = faiss.downcast_index(inner.storage) if self.kind == "hnsw" else inner
        n = int(flat.ntotal)
        if n == 0:
            return np.zeros((0, self.dims), dtype=np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dims).reshape(n, self.dims)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        faiss.omp_set_num_threads(1)  # a memcpy into a flat index: threads only add latency
        self.index.add_with_ids(vectors, ids)
        self._ids = self._storage = None

    def remove(self, ids: np.ndarray) -> int:
        removed = int(self.index.remove_ids(faiss.IDSelectorBatch(ids))) if len(ids) else 0
        if removed:
            self._ids = self._storage = None
        return removed

    def positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(found mask over ids, positions of the found ones)`."""
        own = self.ids()
        positions = np.searchsorted(own, ids)
        inside = positions < len(own)
        found = np.zeros(len(ids), dtype=bool)
        found[inside] = own[positions[inside]] == ids[inside]
        return found, positions[found]


class GroupIndex:
    """The FAISS index of one namespace group. Not thread-safe: `IndexManager` locks it."""

    def __init__(self, dims: int, policy: IndexPolicy, applied_seq: int = 0) -> None:
        self.dims = dims
        self.policy = policy
        self.applied_seq = applied_seq
        self._main = _Part.flat(dims)
        self._delta = _Part.flat(dims)
        self._tombstones: set[int] = set()
        self._selector: faiss.IDSelector | None = None
        self._selector_batch: faiss.IDSelectorBatch | None = None
        self._pins = 0
        self.max_id = 0
        """Highest id ever added (removed ones included): replay fetches ids above it."""
        self.changes = 0
        """Vectors added or removed since this object was created."""
        self.main_changes = 0
        """Changes that reached the main index (a snapshot holds the main index only)."""
        self.generation = 0
        """Bumped whenever the main index is replaced (build, install, restore)."""
        self.hnsw_m = policy.hnsw_m

    @property
    def kind(self) -> IndexKind:
        """Kind of the main index."""
        return self._main.kind

    def __len__(self) -> int:
        """Live vectors (tombstones excluded)."""
        return len(self._main) - len(self._tombstones) + len(self._delta)

    @property
    def tombstones(self) -> int:
        """Removed vectors still physically present in the main index."""
        return len(self._tombstones)

    @property
    def delta_size(self) -> int:
        """Vectors in the exact delta beside an HNSW graph (not yet merged into it)."""
        return len(self._delta)

    # ------------------------------------------------------------------ changes

    def _mutable_main(self) -> bool:
        return self._main.kind == "flat" and not self._pins

    def _normalise(self) -> None:
        """Fold a flat main's delta and tombstones into it once it is no longer pinned."""
        if not self._mutable_main() or not (len(self._delta) or self._tombstones):
            return
        if self._tombstones:
            self._main.remove(np.fromiter(self._tombstones, dtype=np.int64))
            self._tombstones = set()
            self._selector = None
        if len(self._delta):
            self._main.append(self._delta.ids().copy(), self._delta.storage().copy())
            self._delta = _Part.flat(self.dims)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors under `ids` (ids larger than any present keep the maps sorted)."""
        ids = _ids(ids)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dims)
        if ids.min() <= self.max_id or np.any(np.diff(ids) <= 0):
            self._add_out_of_order(ids, vectors)
            return
        self._normalise()
        part = self._main if self._mutable_main() else self._delta
        part.append(ids, vectors)
        self.max_id = int(ids[-1])
        self.changes += len(ids)
        if part is self._main:
            self.main_changes += len(ids)

    def _add_out_of_order(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Ids at or below ones seen before (not from a log replay): rebuild, last write wins."""
        live_ids, live_vectors = self.live()
        all_ids = np.concatenate([live_ids, ids])
        all_vectors = np.concatenate([live_vectors, vectors])
        _, first = np.unique(all_ids[::-1], return_index=True)
        keep = np.sort(len(all_ids) - 1 - first)
        order = keep[np.argsort(all_ids[keep], kind="stable")]
        self.build(all_ids[order], all_vectors[order])
        self.changes += len(ids)

    def remove(self, ids: np.ndarray) -> None:
        """Remove `ids` (unknown ids are ignored)."""
        ids = _ids(ids)
        if not len(ids):
            return
        self._normalise()
        removed = self._delta.remove(ids)
        in_main = ids[np.isin(ids, self._main.ids())]
        if self._mutable_main():
            count = self._main.remove(in_main)
        else:
            fresh = set(in_main.tolist()) - self._tombstones
            self._tombstones |= fresh
            self._selector = None
            count = len(fresh)
        self.changes += removed + count
        self.main_changes += count

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents with `(ids, vectors)` (ids ascending) now, in this thread,
        choosing the index kind (the manager builds in the background instead)."""
        job = BuildJob.full(self.policy, _ids(ids), vectors, generation=self.generation)
        result = job.run(threads=os.cpu_count() or 1)
        assert result is not None
        self._replace(result, _EMPTY_IDS, np.zeros((0, self.dims), dtype=np.float32), set())
        if len(result.ids):
            self.max_id = max(self.max_id, int(result.ids[-1]))

    # ------------------------------------------------------------------ background work

    def pending(self) -> BuildReason | None:
        """The build this group is due, if any: `"promote"` (flat past the HNSW threshold),
        `"conform"` (an HNSW graph the policy no longer wants), `"rebuild"` (too many
        tombstones), `"merge"` (a full delta)."""
        if self._main.kind == "flat":
            return "promote" if self.policy.kind_for(len(self)) == "hnsw" else None
        if self.policy.hnsw_threshold is None or self.hnsw_m != self.policy.hnsw_m:
            return "conform"
        if len(self._tombstones) > self.policy.rebuild_ratio * max(1, len(self._main)):
            return "rebuild"
        if len(self._delta) >= self.policy.delta_limit:
            return "merge"
        return None

    def plan(self) -> BuildJob | None:
        """A job for what `pending()` says (copies what it needs: hold the group still while
        planning, not while the job runs)."""
        reason = self.pending()
        if reason is None:
            return None
        if reason == "merge":
            return BuildJob.merge(
                self.policy,
                self._main.index,  # an HNSW main is never changed in place
                self._main.ids().copy(),
                self._delta.ids().copy(),
                self._delta.storage().copy(),
                hnsw_m=self.hnsw_m,
                generation=self.generation,
            )
        ids, vectors = self.live()
        return BuildJob.full(self.policy, ids, vectors, generation=self.generation, reason=reason)

    def install(self, result: BuildResult) -> bool:
        """Swap in a built main index, reconciled with the changes made since it was planned:
        its vectors removed since become tombstones, vectors added since form the delta.
        Returns `False` (and changes nothing) if the main index was replaced meanwhile."""
        if result.generation != self.generation:
            return False
        live_ids = self.live_ids()
        gone = np.setdiff1d(result.ids, live_ids, assume_unique=True)
        fresh = np.setdiff1d(live_ids, result.ids, assume_unique=True)
        self._replace(result, fresh, self.vectors_for(fresh), set(gone.tolist()))
        return True

    def maintain(self) -> int:
        """Run every due build now, in this thread; return how many ran (for callers without
        a background worker, such as tests)."""
        done = 0
        while (job := self.plan()) is not None:
            result = job.run(threads=os.cpu_count() or 1)
            assert result is not None and self.install(result)
            done += 1
        return done

    def _replace(
        self, result: BuildResult, delta_ids: np.ndarray, delta: np.ndarray, gone: set[int]
    ) -> None:
        main = _Part(result.index, result.kind, self.dims)
        if result.kind == "flat" and gone:
            main.remove(np.fromiter(gone, dtype=np.int64))
            gone = set()
        self._main = main
        self._delta = _Part.flat(self.dims)
        if len(delta_ids):
            self._delta.append(delta_ids, np.ascontiguousarray(delta, dtype=np.float32))
        self._tombstones = gone
        self._selector = None
        self._pins = 0
        self.hnsw_m = result.hnsw_m
        self.generation += 1
        self._normalise()

    def conform(self) -> bool:
        """Rebuild now if the policy wants another layout for this size (e.g. a snapshot
        made under other settings); return whether it rebuilt."""
        wanted = self.policy.kind_for(len(self))
        if self.kind == wanted and (wanted == "flat" or self.hnsw_m == self.policy.hnsw_m):
            return False
        self.build(*self.live())
        return True

    # ------------------------------------------------------------------ reading

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """All live `(ids, vectors)`, ids ascending (copies)."""
        ids, vectors = self._main.ids(), self._main.storage()
        if self._tombstones:
            mask = ~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))
            ids, vectors = ids[mask], vectors[mask]
        else:
            ids, vectors = ids.copy(), vectors.copy()
        if not len(self._delta):
            return ids, vectors
        return (
            np.concatenate([ids, self._delta.ids()]),
            np.concatenate([vectors, self._delta.storage()]),
        )

    def live_ids(self) -> np.ndarray:
        """Ids of the live vectors, ascending."""
        ids = self._main.ids()
        if self._tombstones:
            ids = ids[~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))]
        return np.concatenate([ids, self._delta.ids()])

    def vectors_for(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of live `ids`, in order (`KeyError` if one is not live)."""
        ids = _ids(ids)
        found_main, at_main = self._main.positions(ids)
        if self._tombstones:
            dead = np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))
            at_main = at_main[~dead[found_main]]
            found_main &= ~dead
        if len(at_main) == len(ids):  # all in the main index (the usual case): one gather
            return self._main.storage()[at_main]
        out = np.empty((len(ids), self.dims), dtype=np.float32)
        out[found_main] = self._main.storage()[at_main]
        rest = ~found_main
        found_delta, at_delta = self._delta.positions(ids[rest])
        out[np.flatnonzero(rest)[found_delta]] = self._delta.storage()[at_delta]
        if not found_delta.all():
            raise KeyError(f"ids not in the index: {ids[rest][~found_delta][:5].tolist()}")
        return out

    # ------------------------------------------------------------------ snapshots

    @contextmanager
    def exporting(self) -> Iterator[tuple[faiss.Index, np.ndarray, dict[str, Any]]]:
        """`(raw main index, tombstone ids, bookkeeping for restore)`, with the main index
        pinned until the block ends, so it can be written out while the group keeps taking
        changes (enter it holding the group still; the block itself needs no lock)."""
        main = self._main
        tombstones = np.sort(np.fromiter(self._tombstones, dtype=np.int64))
        top = int(main.ids()[-1]) if len(main) else 0
        meta = {
            "kind": main.kind,
            "max_id": top,
            "hnsw_m": self.hnsw_m,
            "live": len(main) - len(tombstones),
        }
        self._pins += 1
        try:
            yield main.index, tombstones, meta
        finally:
            if self._main is main:
                self._pins -= 1

    def export(self) -> tuple[faiss.Index, np.ndarray, dict[str, Any]]:
        """What `exporting()` gives, unpinned (the caller keeps the group still)."""
        with self.exporting() as exported:
            return exported

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
        """Rebuild a `GroupIndex` from what `export` gave (`ValueError` if they disagree).
        Vectors above `meta["max_id"]` (the delta when it was exported) are the caller's
        to add from SQLite."""
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
        group._main = _Part(index, "hnsw" if kind == "hnsw" else "flat", dims)
        group._tombstones = set(_ids(tombstones).tolist())
        group.max_id = int(meta["max_id"])
        group.hnsw_m = int(meta.get("hnsw_m", policy.hnsw_m))
        id_map = group._main.ids()
        if group.kind == "flat" and group._tombstones:
            raise ValueError("a flat index cannot have tombstones")
        if len(id_map) and (np.any(np.diff(id_map) <= 0) or id_map[-1] > group.max_id):
            raise ValueError("index ids are not ascending or exceed max_id")
        if not np.isin(tombstones, id_map).all() or len(group) != int(meta["live"]):
            raise ValueError("tombstones or live count do not match the index")
        return group

    # ------------------------------------------------------------------ search

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` `(scores, ids)` by inner product, best first.

        With `allowed`, only those ids are scored — exactly, whatever the index kind.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dims)
        if k <= 0 or len(self) == 0:
            return _EMPTY_SCORES, _EMPTY_IDS
        if allowed is not None:
            return self._search_subset(query[0], k, _ids(allowed))
        faiss.omp_set_num_threads(self.policy.search_threads)
        scores, ids = self._search_main(query, k)
        if len(self._delta):
            more_scores, more_ids = self._delta.index.search(query, min(k, len(self._delta)))
            keep = more_ids[0] >= 0
            scores = np.concatenate([scores, more_scores[0][keep]])
            ids = np.concatenate([ids, more_ids[0][keep]])
            order = np.argsort(-scores, kind="stable")[:k]
            scores, ids = scores[order], ids[order]
        return scores, ids

    def _search_main(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self._main))
        if k <= 0:
            return _EMPTY_SCORES, _EMPTY_IDS
        params: Any = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = self.policy.ef_search_for(len(self), k)
        elif self._tombstones:
            params = faiss.SearchParameters()
        if self._tombstones:
            params.sel = self._tombstone_selector()
        if params is None:
            scores, ids = self._main.index.search(query, k)
        else:
            scores, ids = self._main.index.search(query, k, params=params)
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
        allowed = np.unique(allowed)
        if self._tombstones:
            allowed = allowed[~np.isin(allowed, np.fromiter(self._tombstones, dtype=np.int64))]
        scores: list[np.ndarray] = []
        found: list[np.ndarray] = []
        for part in (self._main, self._delta):
            hit, positions = part.positions(allowed)
            if len(positions):
                scores.append(part.storage()[positions] @ query)
                found.append(allowed[hit])
        if not scores:
            return _EMPTY_SCORES, _EMPTY_IDS
        all_scores, candidates = np.concatenate(scores), np.concatenate(found)
        top = (
            np.argpartition(-all_scores, k - 1)[:k]
            if len(all_scores) > k
            else np.arange(len(all_scores))
        )
        order = top[np.argsort(-all_scores[top], kind="stable")]
        return all_scores[order].astype(np.float32), candidates[order]
