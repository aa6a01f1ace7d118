"""Background upkeep of the FAISS caches: graph builds, catching up idle groups, snapshots.

Core pieces:
    - `RWLock`: many readers or one writer; a waiting writer holds new readers back, so it
      is only ever taken exclusively for moments.
    - `GroupSlot`: one group's index and its two locks. `lock` (a readers-writer lock) is
      taken shared by searches and exclusively only for the short moment a change is
      applied; `mutate` (a mutex) is held by whoever changes the group — load, log replay,
      installing a build, pinning it for a snapshot — so slow work of one kind never holds
      the lock searches wait on, and nothing of one group ever waits for another group.
    - `Upkeep`: a low-priority thread (one per store) that builds what groups are due
      (`GroupIndex.pending`: HNSW promotion, rebuild, delta merge) with all cores but one,
      keeps idle groups caught up with the log, and writes due snapshots.

Snapshots of erased groups (issue 13.7): before a snapshot is written, and again after it is
committed, the group's fence is read from the database (`vector_log.group_floor`); a cache
stamped below it holds vectors an erasure removed, so nothing is written, or what was just
written is deleted. An erasing process commits its transaction before deleting the group's
snapshot files, so whichever of the two comes second sees the other's work: no snapshot of
erased vectors survives, whichever process writes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import faiss
import numpy as np

from hippograph.store.index_policy import IndexPolicy
from hippograph.store.snapshot import SnapshotDir, SnapshotHeader
from hippograph.store.vector_index import GroupIndex
from hippograph.store.vector_log import group_floor, log_head

logger = logging.getLogger(__name__)

SnapshotJob = Literal["full", "restamp"]
Exported = tuple[faiss.Index, np.ndarray, dict[str, Any]]
"""What `GroupIndex.exporting()` gives: the raw main index, tombstones, bookkeeping."""
Reader = Callable[[], AbstractContextManager[sqlite3.Connection]]
"""Opens a read transaction (the store's `Connections.read`)."""

STAMP_LAG = 25_000
"""Log entries a group may trail the head before the upkeep catches it up and re-stamps
its snapshot: well inside the 100k entries log compaction keeps, so neither a loaded index
nor a snapshot ever falls below the log floor just for being idle."""
_NICENESS = 10
_FLUSH_ROUNDS = 4


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


@dataclass(frozen=True, slots=True)
class DiskState:
    """The snapshot on disk of a loaded group, and the index state it equals."""

    header: SnapshotHeader
    index: GroupIndex
    main_changes: int
    generation: int

    def matches(self, index: GroupIndex) -> bool:
        """Whether `index`'s main index is the one this snapshot was made of (or restored
        into), whatever changes it took since."""
        return self.index is index and self.generation == index.generation


@dataclass(eq=False, slots=True)
class GroupSlot:
    """One group's place in the manager (see the module docstring for the locking rule)."""

    name: str
    index: GroupIndex | None = None
    lock: RWLock = field(default_factory=RWLock)
    mutate: threading.Lock = field(default_factory=threading.Lock)
    disk: DiskState | None = None
    building: bool = False

    def publish(self, index: GroupIndex | None) -> None:
        """Make `index` the group's index (the caller holds `mutate`)."""
        with self.lock.write():
            self.index = index
            if index is None:
                self.disk = None


def _lower_priority() -> None:
    """Let foreground threads (searches) win the CPU over this one and the OpenMP threads it
    starts (Linux: niceness is per thread and inherited)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


class Upkeep:
    """The background worker of one `IndexManager`.

    Args:
        slots: Returns the manager's slots (a copy of the list).
        catch_up: Brings one slot up to the log head of a read transaction.
        policy: Build and snapshot policy.
        read: Opens a read transaction (for fences and catching up).
        snapshots: Returns the store's `SnapshotDir`, or `None` without snapshots.
    """

    def __init__(
        self,
        slots: Callable[[], list[GroupSlot]],
        catch_up: Callable[[sqlite3.Connection, GroupSlot, int], object],
        policy: IndexPolicy,
        read: Reader | None,
        snapshots: Callable[[], SnapshotDir | None],
    ) -> None:
        self._slots = slots
        self._catch_up = catch_up
        self._policy = policy
        self._read = read
        self._snapshots = snapshots
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._save_lock = threading.Lock()
        """One snapshot writer at a time (this worker, `flush`, `close`)."""
        self._closing = False
        self._caught_up_to = 0
        self._catch_up_due = False
        self._dirty: set[GroupSlot] = set()
        """Slots changed since the worker last looked: the only ones it examines, so its
        rounds (and the GIL they hold) cost what changed, not how many groups are loaded."""
        self._dirty_lock = threading.Lock()

    # ------------------------------------------------------------------ scheduling

    def kick(self, head: int, changed: Iterable[GroupSlot] = ()) -> None:
        """Note the log head a sync saw and the slots it changed (builds or snapshots may
        then be due); wakes the worker when there is something to do."""
        with self._dirty_lock:
            before = len(self._dirty)
            self._dirty.update(changed)
            work = len(self._dirty) > before
        if head - self._caught_up_to >= STAMP_LAG // 2 and not self._catch_up_due:
            self._catch_up_due = work = True
        if not work:
            return
        with self._start_lock:  # idle and wake change together (see `_run`)
            if self._closing:
                return
            self._idle.clear()
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hippograph-index-upkeep", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the worker has nothing left to do; `False` on timeout (for tests and
        benchmarks that measure what the background leaves behind)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        _lower_priority()
        while True:
            self._wake.wait()
            if self._closing:
                self._idle.set()
                return
            self._wake.clear()
            with self._dirty_lock:
                dirty, self._dirty = list(self._dirty), set()
            try:
                self._build_all(self._policy.threads_for_builds(), dirty)
                dirty += self._catch_up_idle()
                if not self._closing:
                    self._write_snapshots(self._due(closing=False, slots=dirty))
            except Exception:  # derived caches: log it, keep serving, retry on the next kick
                logger.exception("background index upkeep failed")
            with self._start_lock:
                if not self._wake.is_set():  # no kick since this round began
                    self._idle.set()

    # ------------------------------------------------------------------ builds

    def _build_all(self, threads: int, slots: Sequence[GroupSlot] | None = None) -> int:
        """Run every due build of `slots` (default: all; a build can make another due, e.g.
        a merge); return how many."""
        done = 0
        progress = True
        while progress and not self._closing:
            progress = False
            for slot in self._slots() if slots is None else slots:
                if self._closing:
                    break
                if self.build(slot, threads):
                    done += 1
                    progress = True
        return done

    def build(self, slot: GroupSlot, threads: int) -> bool:
        """Build what `slot` is due, outside its locks, and install it; `False` if nothing
        was due or another thread is building it."""
        with slot.mutate:
            index = slot.index
            if index is None or slot.building:
                return False
            job = index.plan()
            if job is None:
                return False
            slot.building = True
        result = None
        try:
            result = job.run(threads=threads, cancelled=lambda: self._closing)
        except Exception as exc:  # e.g. out of memory: search stays exact and correct
            logger.warning("could not build the %s index of %s: %r", job.reason, slot.name, exc)
        finally:
            with slot.mutate:
                slot.building = False
                if result is not None and slot.index is index:
                    with slot.lock.write():
                        index.install(result)
            with self._changed:
                self._changed.notify_all()
        if result is not None:
            logger.info("built the %s index of %s (%s)", result.kind, slot.name, job.reason)
        return result is not None

    def _catch_up_idle(self) -> list[GroupSlot]:
        """Replay the log into groups nobody searched for a while, so compaction never
        overtakes them (or their snapshots: the re-stamp follows); returns them."""
        if self._read is None or not self._catch_up_due:
            return []
        self._catch_up_due = False
        caught: list[GroupSlot] = []
        with self._read() as conn:
            head = log_head(conn)
            for slot in self._slots():
                index = slot.index
                if index is not None and head - index.applied_seq >= STAMP_LAG // 2:
                    with slot.mutate:
                        self._catch_up(conn, slot, head)
                    caught.append(slot)
        self._caught_up_to = head
        return caught

    # ------------------------------------------------------------------ snapshots

    def _due(
        self, *, closing: bool, slots: Sequence[GroupSlot] | None = None
    ) -> list[tuple[GroupSlot, SnapshotJob]]:
        """Groups of `slots` (default: all) whose snapshot should be written (`full`) or
        re-stamped, per the policy."""
        if self._snapshots() is None:
            return []
        jobs: list[tuple[GroupSlot, SnapshotJob]] = []
        for slot in self._slots() if slots is None else dict.fromkeys(slots):
            index, disk = slot.index, slot.disk
            if index is None or not self._policy.snapshots(len(index)):
                continue
            if not closing and (slot.building or index.pending() is not None):
                continue  # its main index is about to change: snapshot the result instead
            if disk is None or not disk.matches(index):
                jobs.append((slot, "full"))
                continue
            changed = index.main_changes - disk.main_changes
            lag = index.applied_seq - disk.header.valid_seq
            refresh = closing or lag >= STAMP_LAG
            if changed >= self._policy.snapshot_every or (changed and refresh):
                jobs.append((slot, "full"))
            elif not changed and lag and refresh:
                jobs.append((slot, "restamp"))
        return jobs

    def _write_snapshots(self, jobs: list[tuple[GroupSlot, SnapshotJob]]) -> None:
        with self._save_lock:
            for slot, job in jobs:
                try:
                    self._write_snapshot(slot, job)
                except Exception as exc:  # a cache failed to persist: logged, store unaffected
                    logger.warning("could not write the index snapshot of %s: %r", slot.name, exc)

    def _erased_since(self, group: str, seq: int) -> bool:
        """Whether an erasure fenced `group` after `seq` (a cache at `seq` holds erased
        vectors), or compaction passed `seq` (a snapshot stamped there is useless)."""
        if self._read is None:
            return False
        with self._read() as conn:
            return seq < group_floor(conn, group)

    def _write_snapshot(self, slot: GroupSlot, job: SnapshotJob) -> None:
        snapshots = self._snapshots()
        assert snapshots is not None
        with contextlib.ExitStack() as pinned:
            with slot.mutate:  # the group holds still while it is pinned; searches go on
                index, disk = slot.index, slot.disk
                if index is None:
                    return
                seq, changes, generation = index.applied_seq, index.main_changes, index.generation
                if self._erased_since(slot.name, seq):
                    slot.publish(None)  # erased under this process: never written back
                    return
                unchanged = (
                    disk is not None and disk.matches(index) and disk.main_changes == changes
                )
                exported = None if job == "restamp" and unchanged else index.exporting()
                raw = pinned.enter_context(_unpinned_under(slot, exported))
            if raw is None:
                assert disk is not None
                header = snapshots.restamp(disk.header, seq)
            else:
                index_raw, tombstones, meta = raw
                pending = snapshots.write_payload(slot.name, index_raw, tombstones, meta, seq)
                header = snapshots.commit(pending)
        if self._erased_since(slot.name, seq):  # erased while it was being written
            snapshots.remove(slot.name)
            with slot.mutate:
                if slot.index is index:
                    slot.publish(None)
            return
        with slot.mutate:
            if slot.index is index:
                slot.disk = DiskState(header, index, changes, generation)

    # ------------------------------------------------------------------ flush and close

    def flush(self) -> None:
        """Finish every due build (in this thread, with every core, and waiting for the
        worker's), then write every snapshot not up to date."""
        threads = os.cpu_count() or 1
        for _ in range(_FLUSH_ROUNDS):
            built = self._build_all(threads)
            waited = False
            with self._changed:
                while any(slot.building for slot in self._slots()):
                    waited = True
                    self._changed.wait(0.5)
            if not built and not waited:
                break
        self._write_snapshots(self._due(closing=True))

    def close(self) -> None:
        """Stop the worker (a build in progress stops at its next chunk), then write every
        snapshot not up to date (idempotent)."""
        with self._start_lock:
            if self._closing:
                return
            self._closing = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        self._write_snapshots(self._due(closing=True))


@contextlib.contextmanager
def _unpinned_under(
    slot: GroupSlot, exported: AbstractContextManager[Exported] | None
) -> Iterator[Exported | None]:
    """Enter `exported` (pinning the group's main index) and leave it under `slot.mutate`."""
    if exported is None:
        yield None
        return
    raw = exported.__enter__()
    try:
        yield raw
    finally:
        with slot.mutate:
            exported.__exit__(None, None, None)
