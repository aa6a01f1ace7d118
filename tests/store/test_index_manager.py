"""The FAISS caches across processes and threads: erasure reaches every process's snapshots,
one group's erasure or load never disturbs another group."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import PutOp

from hippograph.store import FaissSqliteStore, IndexPolicy

ERASED = ("memories", "xavier-7qk")
KEPT = ("memories", "yolanda")
POLICY = IndexPolicy(hnsw_threshold=None, snapshot_threshold=10, snapshot_every=1_000_000)
"""Every group of 10+ vectors keeps a snapshot; exact search (the bytes are plain vectors)."""


def _values(who: str, n: int) -> list[dict[str, str]]:
    return [{"content": f"{who} note {i} about the harbour at dawn {i * 7}"} for i in range(n)]


def _open(path: str) -> FaissSqliteStore:
    return FaissSqliteStore(
        path, index={"embed": "local", "fields": ["content"]}, index_policy=POLICY
    )


def _holder(path: str, change: str, pipe: Connection) -> None:
    """Process 1: loads both users' groups and snapshots them, then changes its caches so
    that closing must write again — Xavier's group changed (`"changed"`: a full snapshot is
    due) or only behind the log (`"behind"`: a header re-stamp is due) — and waits; on
    "close", closes the store."""
    store = _open(path)
    for namespace in (ERASED, KEPT):
        assert store.search(namespace, query="harbour")
    store.save_index_snapshots()
    if change == "changed":
        store.put(ERASED, "late", {"content": "Xavier's late note about the lighthouse"})
    store.put(KEPT, "late", {"content": "Yolanda's late note about the lighthouse"})
    for namespace in (ERASED, KEPT):
        assert store.search(namespace, query="lighthouse")
    pipe.send("loaded")
    assert pipe.recv() == "close"
    store.close()
    pipe.send("closed")


def _vector_blobs(db: str, namespace: tuple[str, ...]) -> list[bytes]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT v.blob FROM vectors v JOIN items i ON i.id = v.item_id WHERE i.prefix = ?",
            (".".join(namespace),),
        ).fetchall()
    finally:
        conn.close()
    return [bytes(row[0]) for row in rows]


def _files_holding(directory: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.extend(path.name for needle in needles if needle in data)
    return sorted(set(found))


@pytest.mark.parametrize("change", ["changed", "behind"])
def test_a_process_holding_an_erased_group_never_writes_it_back_on_close(
    tmp_path: Path, change: str
) -> None:
    db = str(tmp_path / "memories.db")
    with _open(db) as store:
        store.batch([PutOp(ERASED, f"x{i}", v) for i, v in enumerate(_values("Xavier", 20))])
        store.batch([PutOp(KEPT, f"y{i}", v) for i, v in enumerate(_values("Yolanda", 20))])
    erased_vectors = _vector_blobs(db, ERASED)
    kept_vectors = _vector_blobs(db, KEPT)
    snapshots = Path(f"{db}-index")

    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    holder = ctx.Process(target=_holder, args=(db, change, there))
    holder.start()
    try:
        assert here.poll(120) and here.recv() == "loaded"
        assert _files_holding(snapshots, erased_vectors[:1])  # the holder snapshotted Xavier

        with _open(db) as eraser:  # process 2 erases Xavier while process 1 holds him
            report = eraser.purge(ERASED)
        assert report.items == 20 + (change == "changed")
        assert _files_holding(snapshots, erased_vectors) == []

        here.send("close")
        assert here.poll(120) and here.recv() == "closed"
    finally:
        holder.join(60)
        if holder.is_alive():
            holder.kill()
    assert holder.exitcode == 0
    assert _files_holding(tmp_path, erased_vectors) == []
    assert _files_holding(tmp_path, [b"xavier-7qk"]) == []
    assert _files_holding(snapshots, kept_vectors[:1])  # Yolanda's snapshot is still written
    with _open(db) as reopened:
        assert reopened.search(ERASED, query="harbour") == []
        assert len(reopened.search(KEPT, query="harbour", limit=50)) == 21
        assert reopened.verify().ok


def test_erasing_one_group_leaves_other_processes_other_groups_loaded(
    tmp_path: Path, monkeypatch: Any
) -> None:
    db = str(tmp_path / "memories.db")
    replica = _open(db)  # another process's caches
    writer = _open(db)
    writer.batch([PutOp(ERASED, f"x{i}", v) for i, v in enumerate(_values("Xavier", 12))])
    writer.batch([PutOp(KEPT, f"y{i}", v) for i, v in enumerate(_values("Yolanda", 12))])
    for namespace in (ERASED, KEPT):
        assert replica.search(namespace, query="harbour")
    assert replica._index is not None
    before = replica._index.contents(".".join(KEPT))
    assert before is not None

    from hippograph.store import index_manager

    loads: list[str] = []
    original = index_manager._group_vectors

    def counting(conn: sqlite3.Connection, group: str, dims: int) -> Any:
        loads.append(group)
        return original(conn, group, dims)

    monkeypatch.setattr(index_manager, "_group_vectors", counting)
    writer.purge(ERASED)

    assert len(replica.search(KEPT, query="harbour", limit=50)) == 12
    assert loads == []  # Yolanda's index was caught up, not reloaded
    assert replica.search(ERASED, query="harbour") == []
    after = replica._index.contents(".".join(KEPT))
    assert after is not None and np.array_equal(after[1], before[1])
    erased = replica._index.contents(".".join(ERASED))
    assert erased is None or len(erased[1]) == 0
    writer.close()
    replica.close()


# ----------------------------------------------------------------- lock scope


def _background(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _fill(store: FaissSqliteStore, namespace: tuple[str, ...], n: int, tag: str = "") -> None:
    who = namespace[-1]
    store.batch([PutOp(namespace, f"{tag}{i}", v) for i, v in enumerate(_values(who + tag, n))])


def test_a_cold_group_loading_never_blocks_another_groups_search(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from hippograph.store import index_manager

    db = str(tmp_path / "memories.db")
    store = _open(db)
    _fill(store, ERASED, 12)
    _fill(store, KEPT, 12)
    assert store.search(KEPT, query="harbour")  # Yolanda's group is loaded
    loading, release = threading.Event(), threading.Event()
    original = index_manager._group_vectors

    def slow(conn: sqlite3.Connection, group: str, dims: int, above: int = 0) -> Any:
        if group == ".".join(ERASED):
            loading.set()
            assert release.wait(60)
        return original(conn, group, dims, above)

    monkeypatch.setattr(index_manager, "_group_vectors", slow)
    cold: list[Any] = []
    loader = _background(lambda: cold.append(store.search(ERASED, query="harbour")))
    assert loading.wait(60)
    try:
        # Yolanda searches and writes while Xavier's group is still loading.
        assert len(store.search(KEPT, query="harbour", limit=50)) == 12
        _fill(store, KEPT, 3, tag="new")
        assert len(store.search(KEPT, query="harbour", limit=50)) == 15
        assert loader.is_alive() and not cold
    finally:
        release.set()
    loader.join(60)
    assert len(cold[0]) == 10
    store.close()


def test_a_graph_build_holds_no_lock_that_searches_wait_on(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from hippograph.store.index_build import BuildJob

    policy = IndexPolicy(hnsw_threshold=30, snapshot_threshold=None)
    store = FaissSqliteStore(
        str(tmp_path / "memories.db"),
        index={"embed": "local", "fields": ["content"]},
        index_policy=policy,
    )
    _fill(store, KEPT, 40)
    _fill(store, ERASED, 12)
    building, release = threading.Event(), threading.Event()
    run = BuildJob.run

    def held(job: BuildJob, **kwargs: Any) -> Any:
        building.set()
        assert release.wait(60)
        return run(job, **kwargs)

    monkeypatch.setattr(BuildJob, "run", held)
    try:
        assert len(store.search(KEPT, query="harbour", limit=50)) == 40  # exact meanwhile
        assert building.wait(60)  # Yolanda's HNSW graph is being built in the background
        _fill(store, KEPT, 2, tag="new")
        _fill(store, ERASED, 2, tag="new")
        assert len(store.search(KEPT, query="harbour", limit=50)) == 42
        assert len(store.search(ERASED, query="harbour", limit=50)) == 14
        assert store.index_stats()[".".join(KEPT)] == ("flat", 42)
    finally:
        release.set()
    store.save_index_snapshots()  # waits for the build; the two vectors added meanwhile
    assert store.index_stats()[".".join(KEPT)] == ("hnsw", 42)  # are kept beside the graph
    assert len(store.search(KEPT, query="harbour", limit=50)) == 42
    assert store.verify().ok
    store.close()


def test_a_snapshot_write_holds_no_lock_that_searches_or_writes_wait_on(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from hippograph.store.snapshot import SnapshotDir

    db = str(tmp_path / "memories.db")
    store = _open(db)
    _fill(store, ERASED, 12)
    writing, release = threading.Event(), threading.Event()
    write_payload = SnapshotDir.write_payload

    def held(snapshots: SnapshotDir, group: str, *args: Any) -> Any:
        writing.set()
        assert release.wait(60)
        return write_payload(snapshots, group, *args)

    monkeypatch.setattr(SnapshotDir, "write_payload", held)
    try:
        assert len(store.search(ERASED, query="harbour", limit=50)) == 12
        assert writing.wait(60)  # Xavier's snapshot is being written in the background
        _fill(store, ERASED, 3, tag="new")  # his own group takes writes meanwhile
        assert len(store.search(ERASED, query="harbour", limit=50)) == 15
        _fill(store, KEPT, 12)
        assert len(store.search(KEPT, query="harbour", limit=50)) == 12
    finally:
        release.set()
    store.save_index_snapshots()
    store.close()
    with _open(db) as reopened:
        assert len(reopened.search(ERASED, query="harbour", limit=50)) == 15
        assert reopened.verify().ok
