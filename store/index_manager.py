"""Keeps one FAISS `GroupIndex` per namespace group in step with SQLite.

SQLite is the source of truth. Every vector a writer adds or removes is appended to
`vector_log` in the same transaction (`vector_log.py`), so any process — this one or
another — brings a group's index up to date by replaying that group's log entries after the
sequence number it last applied (`sync`). A group seen for the first time is loaded from its
on-disk snapshot (replaying only the log after the snapshot's stamp) or, failing that, from
the `vectors` table — never re-embedded — as an exact index that answers at once, while its
HNSW graph is built in the background. A group whose log was compacted past what it
applied, or fenced by an erasure, is reloaded.

Groups are independent (see `index_upkeep.GroupSlot`): loading, replaying or snapshotting
one group never makes a search of another wait, and the slow work — building graphs,
writing snapshot payloads — holds no lock that searches wait on.

Snapshots (`hippograph.store.snapshot`) are written for groups of at least
`IndexPolicy.snapshot_threshold` vectors: in the background once a group was loaded
without one or its main index changed by `IndexPolicy.snapshot_every` vectors, and on
`close()`. A group that has not changed but whose stamp trails the log is re-stamped
(header only) so log compaction never makes a good snapshot stale.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from hippograph.store.index_upkeep import DiskState, GroupSlot, Reader, Upkeep
from hippograph.store.snapshot import SnapshotDir, SnapshotError
from hippograph.store.vector_index import GroupIndex, IndexPolicy
from hippograph.store.vector_log import (
    fences_since,
    group_changes,
    group_floor,
    group_key,
    log_head,
)

logger = logging.getLogger(__name__)

_CHUNK = 5_000
_VERIFY_SAMPLE = 16
_READ_ROWS = 256
"""Vectors read per step when a group is loaded from SQLite: well under a millisecond of
work holding the GIL, after which other threads (searches of other groups) get their turn.
Measured while another thread searched a small group during repeated 150k-vector loads
(same run): its p99 was 22.6 ms with 256 rows per step, 32.6 ms with 2,048 or 8,192 (12.5
ms idle), and the loads themselves were faster (2.8 s vs 3.7 and 5.0 s)."""


def vectors_from_rows(
    rows: Sequence[tuple[int, bytes]], dims: int
) -> tuple[np.ndarray, np.ndarray]:
    """`(ids, vectors)` of `(id, float32 blob)` rows of `dims`-wide vectors, in one copy."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dims)
    return ids, vectors


def _group_vectors(
    conn: sqlite3.Connection, group: str, dims: int, above: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`(ids, vectors)` of `group` with ids above `above`, ascending, read in chunks."""
    total = int(
        conn.execute(
            "SELECT count(*) FROM vectors WHERE grp = ? AND id > ?", (group, above)
        ).fetchone()[0]
    )
    ids = np.empty(total, dtype=np.int64)
    vectors = np.empty((total, dims), dtype=np.float32)
    cursor = conn.execute(
        "SELECT id, blob FROM vectors WHERE grp = ? AND id > ? ORDER BY id", (group, above)
    )
    filled = 0
    while rows := cursor.fetchmany(_READ_ROWS):
        chunk_ids, chunk = vectors_from_rows(rows, dims)
        ids[filled : filled + len(rows)] = chunk_ids
        vectors[filled : filled + len(rows)] = chunk
        filled += len(rows)
        time.sleep(0)  # let other threads' searches take the GIL between chunks
    return ids[:filled], vectors[:filled]


class IndexManager:
    """The FAISS caches of one store, shared by all its threads.

    `sync(conn, groups)` must be called inside the caller's read transaction before
    searching, so the indexes of `groups` reflect at least that snapshot; `search` then
    reads them under each group's shared lock.

    Args:
        dims: Vector dimension.
        policy: How indexes are built and when they are snapshotted.
        snapshot_dir: Where snapshots live (`None`: no snapshots, e.g. `:memory:`).
        read: Opens a read transaction on the store's database, for background work
            (catching idle groups up, checking erasure fences before writing a snapshot).
    """

    def __init__(
        self,
        dims: int,
        policy: IndexPolicy,
        snapshot_dir: Path | None = None,
        read: Reader | None = None,
    ) -> None:
        self.dims = dims
        self.policy = policy
        self.snapshot_dir = snapshot_dir if policy.snapshot_threshold is not None else None
        self._slots: dict[str, GroupSlot] = {}
        self._by_key: dict[str, GroupSlot] = {}
        self._slots_lock = threading.Lock()
        self._snapshots: SnapshotDir | None = None
        self._fences_seen = 0
        self._fences_head = 0
        self._upkeep = Upkeep(self._all_slots, self._catch_up, policy, read, self._snapshot_store)

    # ------------------------------------------------------------------ slots

    def _slot(self, name: str) -> GroupSlot:
        with self._slots_lock:
            slot = self._slots.get(name)
            if slot is None:
                slot = self._slots[name] = GroupSlot(name)
                self._by_key[group_key(name)] = slot
            return slot

    def _all_slots(self) -> list[GroupSlot]:
        with self._slots_lock:
            return list(self._slots.values())

    def loaded_groups(self) -> dict[str, tuple[str, int]]:
        """`{group: (index kind, live vectors)}` for the groups loaded in this process."""
        loaded: dict[str, tuple[str, int]] = {}
        for slot in self._all_slots():
            with slot.lock.read():
                if slot.index is not None:
                    loaded[slot.name] = (slot.index.kind, len(slot.index))
        return loaded

    def _unload(self, names: Iterable[str], remove_snapshots: SnapshotDir | None = None) -> None:
        for name in set(names):
            slot = self._slot(name)
            with slot.mutate:
                slot.publish(None)
                if remove_snapshots is not None:
                    remove_snapshots.remove(name)

    def clear(self) -> None:
        """Drop every cached index (they reload on the next search)."""
        self._unload([slot.name for slot in self._all_slots()])

    def drop(self, groups: Iterable[str]) -> None:
        """Forget the cached indexes of `groups` (they reload from SQLite when searched)."""
        self._unload(groups)

    def forget(self, conn: sqlite3.Connection, groups: Iterable[str]) -> None:
        """Drop `groups`' loaded indexes and delete their on-disk snapshots (right to
        erasure: no copy of erased vectors is kept). Call it after the erasure committed:
        a snapshot being written meanwhile is deleted by its writer (see `index_upkeep`)."""
        self._unload(groups, self._snapshot_store(conn))

    def snapshot_groups(self, conn: sqlite3.Connection) -> list[str]:
        """Groups that have a snapshot on disk (whatever this process has loaded)."""
        snapshots = self._snapshot_store(conn)
        return snapshots.groups() if snapshots is not None else []

    # ------------------------------------------------------------------ sync

    def sync(self, conn: sqlite3.Connection, groups: Iterable[str]) -> None:
        """Load `groups` if needed and bring them up to the snapshot's log head."""
        head = log_head(conn)
        self._drop_fenced(conn, head)
        changed = []
        for name in set(groups):
            slot = self._slot(name)
            index = slot.index
            if index is not None and index.applied_seq >= head:
                continue
            with slot.mutate:
                if self._catch_up(conn, slot, head):
                    changed.append(slot)
        self._upkeep.kick(head, changed)

    def _catch_up(self, conn: sqlite3.Connection, slot: GroupSlot, head: int) -> bool:
        """Bring `slot` to `head` (the caller holds `slot.mutate`); whether anything changed."""
        index = slot.index
        if index is not None and index.applied_seq >= head:
            return False
        floor = group_floor(conn, slot.name)
        if index is None or index.applied_seq < floor:
            # Compacted past it or fenced by an erasure: reload. Searches at older snapshots
            # keep the old index until the new one is published.
            slot.disk = None
            slot.publish(self._load(conn, slot, head, floor))
            return True
        removed, ids, vectors = self._changes(conn, slot.name, index, head)
        with slot.lock.write():
            index.remove(removed)
            index.add(ids, vectors)
            index.applied_seq = head
        return True

    def _changes(
        self, conn: sqlite3.Connection, group: str, index: GroupIndex, head: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the log says changed in `group` after `index.applied_seq`: removed ids, and
        the added `(ids, vectors)` (read before any lock is taken)."""
        removed, added = group_changes(conn, group, index.applied_seq, head)
        if added:
            ids, vectors = _group_vectors(conn, group, self.dims, above=index.max_id)
        else:
            ids, vectors = np.zeros(0, np.int64), np.zeros((0, self.dims), np.float32)
        return np.asarray(removed, dtype=np.int64), ids, vectors

    def _drop_fenced(self, conn: sqlite3.Connection, head: int) -> None:
        """Unload groups an erasure fenced since the last look, wherever they are loaded, so
        no process keeps erased vectors in memory (cheap: one indexed query per new head)."""
        if head <= self._fences_head:
            return
        self._fences_head = head
        for key, fence in fences_since(conn, self._fences_seen):
            self._fences_seen = max(self._fences_seen, fence)
            with self._slots_lock:
                slot = self._by_key.get(key)
            index = slot.index if slot is not None else None
            if slot is not None and index is not None and index.applied_seq < fence:
                with slot.mutate:
                    if slot.index is index:
                        slot.publish(None)

    # ------------------------------------------------------------------ loading

    def _load(self, conn: sqlite3.Connection, slot: GroupSlot, head: int, floor: int) -> GroupIndex:
        group = slot.name
        snapshots = self._snapshot_store(conn)
        if snapshots is not None:
            restored = self._restore(conn, snapshots, slot, head, floor)
            if restored is not None:
                return restored
        started = time.perf_counter()
        index = GroupIndex(self.dims, self.policy, applied_seq=head)
        index.add(*_group_vectors(conn, group, self.dims))
        if index.pending() is not None:
            logger.warning(
                "index of %s (%d vectors) loaded from SQLite in %.1fs; searched exactly "
                "until its HNSW graph is built in the background",
                group,
                len(index),
                time.perf_counter() - started,
            )
        elif snapshots is not None and self.policy.snapshots(len(index)):
            logger.warning(
                "index of %s (%d vectors) rebuilt from SQLite in %.1fs; a snapshot follows",
                group,
                len(index),
                time.perf_counter() - started,
            )
        return index

    def _restore(
        self,
        conn: sqlite3.Connection,
        snapshots: SnapshotDir,
        slot: GroupSlot,
        head: int,
        floor: int,
    ) -> GroupIndex | None:
        """The group from its snapshot plus SQLite since, or `None` (logged) to rebuild."""
        group = slot.name
        try:
            loaded = snapshots.load(group)
            if loaded is None:
                return None
            header, raw, tombstones = loaded
            if header.valid_seq > head:
                raise SnapshotError(
                    f"stamped at log {header.valid_seq}, ahead of this database's {head} "
                    "(another database, or one restored from a backup)"
                )
            if header.valid_seq < floor:
                raise SnapshotError(
                    f"stamped at log {header.valid_seq}, before the log's floor {floor} "
                    "(compacted, or the group was erased)"
                )
            try:
                index = GroupIndex.restore(
                    self.dims,
                    self.policy,
                    raw,
                    tombstones=tombstones,
                    meta=header.index_meta,
                    applied_seq=header.valid_seq,
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise SnapshotError(f"index does not match its header: {exc}") from exc
            disk = DiskState(header, index, index.main_changes, index.generation)
            removed, _ = group_changes(conn, group, header.valid_seq, head)
            index.add(*_group_vectors(conn, group, self.dims, above=index.max_id))
            index.remove(np.asarray(removed, dtype=np.int64))
            index.applied_seq = head
            self._verify(conn, group, index)
        except SnapshotError as exc:
            logger.warning("index snapshot of %s unusable (%s); rebuilding from SQLite", group, exc)
            return None
        slot.disk = disk
        return index

    def _verify(self, conn: sqlite3.Connection, group: str, index: GroupIndex) -> None:
        """Check a restored index against SQLite: same vector count, same sampled vectors."""
        count = conn.execute("SELECT count(*) FROM vectors WHERE grp = ?", (group,)).fetchone()[0]
        if int(count) != len(index):
            raise SnapshotError(f"holds {len(index)} vectors, SQLite has {count}")
        live = index.live_ids()
        if not len(live):
            return
        picks = np.unique(live[np.linspace(0, len(live) - 1, _VERIFY_SAMPLE).astype(np.int64)])
        rows = dict(
            conn.execute(
                f"SELECT id, blob FROM vectors WHERE id IN ({','.join('?' * len(picks))})",
                tuple(int(i) for i in picks),
            ).fetchall()
        )
        try:
            mine = index.vectors_for(picks)
        except KeyError as exc:
            raise SnapshotError(str(exc)) from exc
        for vector_id, vector in zip(picks.tolist(), mine, strict=True):
            blob = rows.get(vector_id)
            if blob is None or not np.array_equal(np.frombuffer(blob, np.float32), vector):
                raise SnapshotError(f"vector {vector_id} differs from SQLite")

    def _snapshot_store(self, conn: sqlite3.Connection | None = None) -> SnapshotDir | None:
        if self._snapshots is None and self.snapshot_dir is not None and conn is not None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
            if row is not None:
                self._snapshots = SnapshotDir(self.snapshot_dir, str(row[0]), self.dims)
        return self._snapshots

    # ------------------------------------------------------------------ background work

    def flush(self) -> None:
        """Finish the background builds that are due (HNSW graphs, merges), then write
        every snapshot not up to date."""
        self._upkeep.flush()

    def close(self) -> None:
        """Stop background work and write every snapshot not up to date (idempotent)."""
        self._upkeep.close()

    # ------------------------------------------------------------------ reading

    def search(
        self,
        groups: Sequence[str],
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top-`k` `(vector_id, score)` over `groups`, best first; `allowed` restricts ids."""
        hits: list[tuple[int, float]] = []
        for name in groups:
            slot = self._slot(name)
            with slot.lock.read():
                if slot.index is None:
                    continue
                scores, ids = slot.index.search(query, k, allowed)
            hits.extend(zip(ids.tolist(), scores.tolist(), strict=True))
        if len(groups) > 1:
            hits.sort(key=lambda hit: hit[1], reverse=True)
            del hits[k:]
        return hits

    def contents(self, group: str) -> tuple[int, np.ndarray, np.ndarray] | None:
        """`(applied log sequence, ids, vectors)` of a loaded group, read atomically (ids
        ascending); `None` when the group is not loaded. For verification and tests."""
        slot = self._slot(group)
        with slot.lock.read():
            if slot.index is None:
                return None
            ids, vectors = slot.index.live()
            return slot.index.applied_seq, ids, vectors

    def stored_vectors(self, group: str, ids: np.ndarray) -> np.ndarray | None:
        """The vectors stored under `ids` in `group` (float32, as written: flat and HNSW
        both keep them exactly), in order; `None` when the group is not loaded or one of
        them is not live in it (the caller reads SQLite instead)."""
        slot = self._slot(group)
        with slot.lock.read():
            if slot.index is None:
                return None
            try:
                return slot.index.vectors_for(ids)
            except KeyError:
                return None

    def size(self, groups: Sequence[str]) -> int:
        """Live vectors across `groups` (loaded ones only)."""
        total = 0
        for name in groups:
            slot = self._slot(name)
            with slot.lock.read():
                total += len(slot.index) if slot.index is not None else 0
        return total


def chunked(values: Sequence[object], size: int = _CHUNK) -> Iterable[Sequence[object]]:
    """Split `values` into slices small enough for one SQL `IN (...)` list."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
