"""Keeps one FAISS `GroupIndex` per namespace group in step with SQLite.

SQLite is the source of truth. Every vector a writer adds or removes is appended to
`vector_log` in the same transaction, so any process — this one or another — brings its
indexes up to date by replaying the log entries after the sequence number it last applied
(`sync`). A group seen for the first time is loaded from its on-disk snapshot (replaying
only the log after the snapshot's stamp) or, failing that, from the `vectors` table —
never re-embedded. If the log was compacted past what a group applied, that group is
reloaded.

Snapshots (`hippograph.store.snapshot`) are written for groups of at least
`IndexPolicy.snapshot_threshold` vectors: in a background thread once a group was loaded
without one or has changed by `IndexPolicy.snapshot_every` vectors, and on `close()`. A
group that has not changed but whose stamp trails the log by `_STAMP_LAG` entries is
re-stamped (header only) so log compaction never makes a good snapshot stale.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from hippograph.store.snapshot import SnapshotDir, SnapshotError, SnapshotHeader
from hippograph.store.vector_index import GroupIndex, IndexPolicy, RWLock

logger = logging.getLogger(__name__)

_CHUNK = 5_000
_STAMP_LAG = 25_000
"""Log entries a snapshot's stamp may trail the head before it is refreshed: well inside
the 100k entries log compaction keeps, so a snapshot never falls below the log floor."""
_VERIFY_SAMPLE = 16

SnapshotJob = Literal["full", "restamp"]


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


def _group_vectors(
    conn: sqlite3.Connection, group: str, dims: int
) -> tuple[np.ndarray, np.ndarray]:
    """All `(ids, vectors)` of `group`, ids ascending, read in chunks into one array."""
    total = int(conn.execute("SELECT count(*) FROM vectors WHERE grp = ?", (group,)).fetchone()[0])
    ids = np.empty(total, dtype=np.int64)
    vectors = np.empty((total, dims), dtype=np.float32)
    cursor = conn.execute("SELECT id, blob FROM vectors WHERE grp = ? ORDER BY id", (group,))
    filled = 0
    while rows := cursor.fetchmany(8192):
        chunk_ids, chunk = _vectors_from_rows(rows, dims)
        ids[filled : filled + len(rows)] = chunk_ids
        vectors[filled : filled + len(rows)] = chunk
        filled += len(rows)
    return ids[:filled], vectors[:filled]


@dataclass(slots=True)
class _OnDisk:
    """The snapshot on disk of one loaded group, and how it relates to the index in memory."""

    index: GroupIndex
    header: SnapshotHeader
    changes: int
    """`index.changes` at the point where the index equalled the snapshot."""


class IndexManager:
    """The FAISS caches of one store, shared by all its threads.

    `sync(conn, groups)` must be called inside the caller's read transaction before
    searching, so the indexes reflect at least that snapshot; `search` then runs under a
    shared lock while `sync` mutates under an exclusive one.

    Args:
        dims: Vector dimension.
        policy: How indexes are built and when they are snapshotted.
        snapshot_dir: Where snapshots live (`None`: no snapshots, e.g. `:memory:`).
    """

    def __init__(self, dims: int, policy: IndexPolicy, snapshot_dir: Path | None = None) -> None:
        self.dims = dims
        self.policy = policy
        self.snapshot_dir = snapshot_dir if policy.snapshot_threshold is not None else None
        self._groups: dict[str, GroupIndex] = {}
        self._lock = RWLock()
        self._snapshots: SnapshotDir | None = None
        self._on_disk: dict[str, _OnDisk] = {}
        """Entries are only ever replaced whole (atomic under the GIL), under either lock."""
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._save_lock = threading.Lock()
        """One snapshot writer at a time (background worker, `flush`, `close`)."""
        self._closed = False

    def loaded_groups(self) -> dict[str, tuple[str, int]]:
        """`{group: (index kind, live vectors)}` for the groups loaded in this process."""
        with self._lock.read():
            return {name: (g.kind, len(g)) for name, g in self._groups.items()}

    def clear(self) -> None:
        """Drop every cached index (they reload on the next search)."""
        with self._lock.write():
            self._groups.clear()
            self._on_disk.clear()

    def forget(self, conn: sqlite3.Connection, groups: Iterable[str]) -> None:
        """Drop `groups`' loaded indexes and delete their on-disk snapshots, waiting for any
        snapshot being written (right to erasure: no copy of erased vectors is kept)."""
        with self._save_lock, self._lock.write():
            snapshots = self._snapshot_store(conn)
            for name in set(groups):
                self._groups.pop(name, None)
                self._on_disk.pop(name, None)
                if snapshots is not None:
                    snapshots.remove(name)

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
            behind = {n: g for n, g in self._groups.items() if g.applied_seq < head}
            self._replay(conn, head, behind)
            for name in wanted - self._groups.keys():
                self._groups[name] = self._load(conn, name, head, floor)
        self._schedule_snapshots()

    # ------------------------------------------------------------------ loading

    def _load(self, conn: sqlite3.Connection, group: str, head: int, floor: int) -> GroupIndex:
        snapshots = self._snapshot_store(conn)
        if snapshots is not None:
            restored = self._restore(conn, snapshots, group, head, floor)
            if restored is not None:
                return restored
        started = time.perf_counter()
        index = GroupIndex(self.dims, self.policy, applied_seq=head)
        ids, vectors = _group_vectors(conn, group, self.dims)
        if len(ids):
            index.build(ids, vectors)
        if snapshots is not None and self.policy.snapshots(len(index)):
            logger.warning(
                "index of %s (%d vectors) rebuilt from SQLite in %.1fs; a snapshot follows",
                group,
                len(index),
                time.perf_counter() - started,
            )
        return index

    def _restore(
        self, conn: sqlite3.Connection, snapshots: SnapshotDir, group: str, head: int, floor: int
    ) -> GroupIndex | None:
        """The group from its snapshot plus the log since, or `None` (logged) to rebuild."""
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
                    f"stamped at log {header.valid_seq}, before the compacted log's floor {floor}"
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
            self._replay(conn, head, {group: index})
            self._verify(conn, group, index)
        except SnapshotError as exc:
            logger.warning("index snapshot of %s unusable (%s); rebuilding from SQLite", group, exc)
            return None
        if index.conform():
            logger.info("index of %s rebuilt to the current IndexPolicy", group)
        else:
            self._on_disk[group] = _OnDisk(index, header, 0)
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

    def _replay(self, conn: sqlite3.Connection, head: int, stale: dict[str, GroupIndex]) -> None:
        """Apply the log entries in `(index.applied_seq, head]` to each index in `stale`."""
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

    # ------------------------------------------------------------------ snapshots

    def _snapshot_store(self, conn: sqlite3.Connection) -> SnapshotDir | None:
        if self._snapshots is None and self.snapshot_dir is not None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
            if row is not None:
                self._snapshots = SnapshotDir(self.snapshot_dir, str(row[0]), self.dims)
        return self._snapshots

    def _due(self, *, closing: bool) -> list[tuple[str, SnapshotJob]]:
        """Groups whose snapshot should be written (`full`) or re-stamped, per the policy."""
        jobs: list[tuple[str, SnapshotJob]] = []
        with self._lock.read():
            for name, index in self._groups.items():
                if not self.policy.snapshots(len(index)):
                    continue
                disk = self._on_disk.get(name)
                if disk is None or disk.index is not index:
                    jobs.append((name, "full"))
                    continue
                changed = index.changes - disk.changes
                lag = index.applied_seq - disk.header.valid_seq
                refresh = closing or lag >= _STAMP_LAG
                if changed >= self.policy.snapshot_every or (changed and refresh):
                    jobs.append((name, "full"))
                elif not changed and lag and refresh:
                    jobs.append((name, "restamp"))
        return jobs

    def _schedule_snapshots(self) -> None:
        if self._snapshots is None:
            return
        jobs = self._due(closing=False)
        if not jobs:
            return
        with self._worker_lock:
            if self._closed or (self._worker is not None and self._worker.is_alive()):
                return
            self._worker = threading.Thread(
                target=self._write_snapshots, args=(jobs,), name="hippograph-snapshot", daemon=True
            )
            self._worker.start()

    def _write_snapshots(self, jobs: list[tuple[str, SnapshotJob]]) -> None:
        with self._save_lock:
            for name, job in jobs:
                try:
                    self._write_snapshot(name, job)
                except Exception as exc:  # a cache failed to persist: logged, store unaffected
                    logger.warning("could not write the index snapshot of %s: %r", name, exc)

    def _write_snapshot(self, name: str, job: SnapshotJob) -> None:
        snapshots = self._snapshots
        assert snapshots is not None
        with self._lock.read():  # the index holds still; searches go on, syncs wait
            index = self._groups.get(name)
            if index is None:
                return
            disk = self._on_disk.get(name)
            changes, seq = index.changes, index.applied_seq
            unchanged = disk is not None and disk.index is index and disk.changes == changes
            if job == "restamp" and unchanged:  # re-checked: a sync may have run since `_due`
                pending = None
            else:
                raw, tombstones, meta = index.export()
                pending = snapshots.write_payload(name, raw, tombstones, meta, seq)
        if pending is None:
            assert disk is not None
            header = snapshots.restamp(disk.header, seq)
        else:
            header = snapshots.commit(pending)
        with self._lock.read():
            if self._groups.get(name) is index:
                self._on_disk[name] = _OnDisk(index, header, changes)

    def flush(self) -> None:
        """Wait for background snapshot work, then write every snapshot not up to date."""
        with self._worker_lock:
            worker = self._worker
        if worker is not None:
            worker.join()
        if self._snapshots is not None:
            self._write_snapshots(self._due(closing=True))

    def close(self) -> None:
        """`flush`, and start no more background work (idempotent)."""
        with self._worker_lock:
            if self._closed:
                return
            self._closed = True
        self.flush()

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
