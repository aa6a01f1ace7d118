"""Keeps one FAISS `GroupIndex` per namespace group in step with SQLite.

SQLite is the source of truth. Every vector a writer adds or removes is appended to
`vector_log` in the same transaction, so any process — this one or another — brings its
indexes up to date by replaying the log entries after the sequence number it last applied
(`sync`). A group seen for the first time is loaded from the `vectors` table, never
re-embedded. If the log was compacted past what a group applied, that group is reloaded.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from hippograph.store.vector_index import GroupIndex, IndexPolicy, RWLock

_CHUNK = 5_000


def log_head(conn: sqlite3.Connection) -> int:
    """Highest `vector_log` sequence number ever committed (survives compaction)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()
    return int(row[0]) if row else 0


def log_floor(conn: sqlite3.Connection) -> int:
    """Highest sequence number removed by log compaction."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'log_floor'").fetchone()
    return int(row[0]) if row else 0


def _vectors_from_rows(
    rows: Sequence[tuple[int, bytes]], dims: int
) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dims)
    return ids, vectors


class IndexManager:
    """The FAISS caches of one store, shared by all its threads.

    `sync(conn, groups)` must be called inside the caller's read transaction before
    searching, so the indexes reflect at least that snapshot; `search` then runs under a
    shared lock while `sync` mutates under an exclusive one.
    """

    def __init__(self, dims: int, policy: IndexPolicy) -> None:
        self.dims = dims
        self.policy = policy
        self._groups: dict[str, GroupIndex] = {}
        self._lock = RWLock()

    def loaded_groups(self) -> dict[str, tuple[str, int]]:
        """`{group: (index kind, live vectors)}` for the groups loaded in this process."""
        with self._lock.read():
            return {name: (g.kind, len(g)) for name, g in self._groups.items()}

    def clear(self) -> None:
        """Drop every cached index (they reload from SQLite on the next search)."""
        with self._lock.write():
            self._groups.clear()

    def sync(self, conn: sqlite3.Connection, groups: Iterable[str]) -> None:
        """Load `groups` if needed and bring every loaded group up to the snapshot's log head."""
        wanted = set(groups)
        head = log_head(conn)
        with self._lock.read():
            missing = wanted - self._groups.keys()
            stale = any(g.applied_seq < head for g in self._groups.values())
        if not missing and not stale:
            return
        with self._lock.write():
            floor = log_floor(conn)
            for name in [n for n, g in self._groups.items() if g.applied_seq < floor]:
                del self._groups[name]  # compacted past it: reload below if wanted
            self._replay(conn, head)
            for name in wanted - self._groups.keys():
                self._groups[name] = self._load(conn, name, head)

    def _load(self, conn: sqlite3.Connection, group: str, head: int) -> GroupIndex:
        rows = conn.execute(
            "SELECT id, blob FROM vectors WHERE grp = ? ORDER BY id", (group,)
        ).fetchall()
        index = GroupIndex(self.dims, self.policy, applied_seq=head)
        if rows:
            index.build(*_vectors_from_rows(rows, self.dims))
        return index

    def _replay(self, conn: sqlite3.Connection, head: int) -> None:
        stale = {n: g for n, g in self._groups.items() if g.applied_seq < head}
        if not stale:
            return
        low = min(g.applied_seq for g in stale.values())
        removed: dict[str, list[int]] = defaultdict(list)
        added: set[str] = set()
        for seq, grp, vector_id, is_add in conn.execute(
            "SELECT seq, grp, vector_id, added FROM vector_log WHERE seq > ? AND seq <= ? "
            "ORDER BY seq",
            (low, head),
        ):
            index = stale.get(grp)
            if index is None or seq <= index.applied_seq:
                continue
            if is_add:
                added.add(grp)
            else:
                removed[grp].append(vector_id)
        for name, index in stale.items():
            if removed.get(name):
                index.remove(np.asarray(removed[name], dtype=np.int64))
            if name in added:
                # Ids are AUTOINCREMENT and writers are serialised, so everything added since
                # the last replay has an id above the highest one this index has seen.
                rows = conn.execute(
                    "SELECT id, blob FROM vectors WHERE grp = ? AND id > ? ORDER BY id",
                    (name, index.max_id),
                ).fetchall()
                if rows:
                    index.add(*_vectors_from_rows(rows, self.dims))
            index.applied_seq = head

    def search(
        self,
        groups: Sequence[str],
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top-`k` `(vector_id, score)` over `groups`, best first; `allowed` restricts ids."""
        hits: list[tuple[int, float]] = []
        with self._lock.read():
            for name in groups:
                index = self._groups.get(name)
                if index is None:
                    continue
                scores, ids = index.search(query, k, allowed)
                hits.extend(zip(ids.tolist(), scores.tolist(), strict=True))
        if len(groups) > 1:
            hits.sort(key=lambda hit: hit[1], reverse=True)
            del hits[k:]
        return hits

    def contents(self, group: str) -> tuple[int, np.ndarray, np.ndarray] | None:
        """`(applied log sequence, ids, vectors)` of a loaded group, read atomically (ids
        ascending); `None` when the group is not loaded. For verification and tests."""
        with self._lock.read():
            index = self._groups.get(group)
            if index is None:
                return None
            ids, vectors = index.live()
            return index.applied_seq, ids, vectors

    def drop(self, groups: Iterable[str]) -> None:
        """Forget the cached indexes of `groups` (they reload from SQLite when searched)."""
        with self._lock.write():
            for name in groups:
                self._groups.pop(name, None)

    def size(self, groups: Sequence[str]) -> int:
        """Live vectors across `groups` (loaded ones only)."""
        with self._lock.read():
            return sum(len(self._groups[g]) for g in groups if g in self._groups)


def chunked(values: Sequence[object], size: int = _CHUNK) -> Iterable[Sequence[object]]:
    """Split `values` into slices small enough for one SQL `IN (...)` list."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
