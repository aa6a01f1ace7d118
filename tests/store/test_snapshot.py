"""Index snapshots: a large group reopens from disk plus the log, and any snapshot that cannot
be trusted (missing, truncated, corrupt, foreign, stale) is rebuilt from SQLite with a warning."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import PutOp

from hippograph.store import FaissSqliteStore, IndexPolicy, LocalEmbeddings, index_manager
from hippograph.store.snapshot import SnapshotDir, SnapshotError

NS = ("memories", "alice")
GROUP = "memories.alice"
TOPICS = ["chess", "hiking", "python", "gardening", "jazz", "cooking", "astronomy", "running"]
HNSW = IndexPolicy(hnsw_threshold=60, snapshot_threshold=50, snapshot_every=1_000_000)
EXACT = IndexPolicy(hnsw_threshold=None, snapshot_threshold=50, snapshot_every=1_000_000)
QUERIES = ["board games", "mountains", "programming", "music", "stars and planets"]


def fact(i: int) -> dict[str, str]:
    return {"content": f"Fact {i}: I spent day {i} on {TOPICS[i % len(TOPICS)]}"}


@pytest.fixture
def reopen(open_store: Any) -> Callable[..., FaissSqliteStore]:
    """`reopen(policy=HNSW, path=db)`: a store on the file under `policy`."""

    def factory(policy: IndexPolicy = HNSW, path: str | None = None) -> FaissSqliteStore:
        kwargs = {"path": path} if path else {}
        return open_store(index_policy=policy, **kwargs)  # type: ignore[no-any-return]

    return factory


@pytest.fixture
def forbid_rebuild(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`forbid_rebuild()`: from now on, fail if alice's index is rebuilt from SQLite."""
    original = index_manager._group_vectors

    def refuse(conn: sqlite3.Connection, group: str, dims: int, above: int = 0) -> Any:
        if group == GROUP and above == 0:
            raise AssertionError("index was rebuilt from SQLite instead of loaded from a snapshot")
        return original(conn, group, dims, above)

    return lambda: monkeypatch.setattr(index_manager, "_group_vectors", refuse)


@pytest.fixture
def snapshot_only(filled: Any, forbid_rebuild: Any) -> None:
    """The template store at `db`, whose index may only be loaded from its snapshot."""
    filled()
    forbid_rebuild()


def snapshots_of(db: str) -> SnapshotDir:
    conn = sqlite3.connect(db)
    try:
        database_id = conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
    finally:
        conn.close()
    directory = SnapshotDir.beside(db)
    assert directory is not None
    return SnapshotDir(directory, database_id[0], 384)


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, local_embeddings: LocalEmbeddings
) -> Callable[[IndexPolicy], Path]:
    """`template(policy)`: a directory with a closed store of 120 facts and its snapshot."""
    made: dict[IndexPolicy, Path] = {}

    def get(policy: IndexPolicy) -> Path:
        if policy not in made:
            directory = tmp_path_factory.mktemp("template")
            index: Any = {"embed": local_embeddings, "fields": ["content"]}
            path = str(directory / "memories.db")
            with FaissSqliteStore(path, index=index, index_policy=policy) as store:
                store.batch([PutOp(NS, f"k{i}", fact(i)) for i in range(120)])
                assert store.search(NS, query="chess")
                store.save_index_snapshots()  # the HNSW graph is built in the background
            made[policy] = directory
        return made[policy]

    return get


@pytest.fixture
def filled(template: Callable[[IndexPolicy], Path], db: str) -> Callable[..., None]:
    """`filled(policy=HNSW)`: put a copy of the template store (and snapshot) at `db`."""

    def fill(policy: IndexPolicy = HNSW) -> None:
        for source in template(policy).iterdir():
            target = Path(db).parent / source.name
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy(source, target)

    return fill


def results(store: FaissSqliteStore) -> list[list[tuple[str, float]]]:
    return [
        [(r.key, round(r.score or 0.0, 5)) for r in store.search(NS, query=q, limit=10)]
        for q in QUERIES
    ]


def live_vectors(store: FaissSqliteStore) -> tuple[np.ndarray, np.ndarray]:
    assert store._index is not None
    contents = store._index.contents(GROUP)
    assert contents is not None
    return contents[1], contents[2]


def sqlite_vectors(db: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth: alice's vectors as SQLite holds them."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT id, blob FROM vectors WHERE grp = ? ORDER BY id", (GROUP,)
        ).fetchall()
    finally:
        conn.close()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])


def copy_database(source: str, target: str) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


# ----------------------------------------------------------------- round trip and replay


def test_close_writes_a_snapshot_that_reopens_without_rebuilding(
    reopen: Any, db: str, snapshot_only: None
) -> None:
    header = snapshots_of(db).read_header(GROUP)
    assert header is not None and header.index_meta["kind"] == "hnsw"
    assert header.index_meta["live"] == 120
    store = reopen()
    found = results(store)
    assert found[0][0][0] in {f"k{i}" for i in range(0, 120, 8)}  # chess facts
    assert store.index_stats()[GROUP] == ("hnsw", 120)
    ids, vectors = live_vectors(store)
    expected_ids, expected_vectors = sqlite_vectors(db)
    assert np.array_equal(ids, expected_ids) and np.array_equal(vectors, expected_vectors)


def _child_changes(path: str) -> None:
    policy = IndexPolicy(hnsw_threshold=60, snapshot_threshold=None)
    index = {"embed": "local", "fields": ["content"]}
    with FaissSqliteStore(path, index=index, index_policy=policy) as store:  # type: ignore[arg-type]
        store.batch([PutOp(NS, f"child{i}", fact(1000 + i)) for i in range(10)])
        store.put(NS, "k1", {"content": "The child process rewrote fact one about knitting"})
        store.delete(NS, "k2")


@pytest.mark.parametrize("policy", [HNSW, EXACT], ids=["hnsw", "exact"])
def test_replay_after_writes_from_this_and_another_process_matches_a_rebuild(
    reopen: Any, db: str, filled: Any, tmp_path: Path, policy: IndexPolicy
) -> None:
    filled(policy)
    writer = reopen(policy)  # writes without ever loading the index: no new snapshot
    writer.batch([PutOp(NS, f"new{i}", fact(500 + i)) for i in range(15)])
    writer.put(NS, "k3", {"content": "Updated: fact three is now about sailing"})
    writer.delete(NS, "k4")
    writer.delete(NS, "k5")
    writer.close()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_child_changes, args=(db,))
    child.start()
    child.join(120)
    assert child.exitcode == 0

    header = snapshots_of(db).read_header(GROUP)
    assert header is not None
    restored = reopen(policy)
    replayed = results(restored)
    ids, vectors = live_vectors(restored)
    assert restored._index is not None
    disk = restored._index._slot(GROUP).disk
    assert disk is not None and disk.header == header  # loaded, not rebuilt

    rebuilt_db = str(tmp_path / "rebuilt.db")
    copy_database(db, rebuilt_db)
    scratch_policy = IndexPolicy(hnsw_threshold=policy.hnsw_threshold, snapshot_threshold=None)
    scratch = reopen(scratch_policy, rebuilt_db)
    expected_ids, expected_vectors = live_vectors_after_search(scratch)
    assert np.array_equal(ids, expected_ids) and np.array_equal(vectors, expected_vectors)
    assert len(ids) == 120 + 15 + 10 - 3
    if policy.hnsw_threshold is None:  # exact search: identical results, scores included
        assert replayed == results(scratch)
    keys = {r.key for r in scratch.search(NS, query="sailing knitting", limit=200)}
    assert {"child0", "new0", "k1", "k3"} <= keys and not {"k2", "k4", "k5"} & keys


def live_vectors_after_search(store: FaissSqliteStore) -> tuple[np.ndarray, np.ndarray]:
    store.search(NS, query="anything")
    return live_vectors(store)


def test_background_snapshot_after_enough_changes(reopen: Any, db: str) -> None:
    policy = IndexPolicy(
        hnsw_threshold=60, snapshot_threshold=50, snapshot_every=20, delta_limit=20
    )
    store = reopen(policy)
    store.batch([PutOp(NS, f"k{i}", fact(i)) for i in range(80)])
    store.search(NS, query="chess")  # loaded from SQLite: graph, then snapshot in the background
    assert store._index is not None
    wait_for_worker(store)
    first = snapshots_of(db).read_header(GROUP)
    assert first is not None and first.index_meta == {
        "kind": "hnsw",
        "live": 80,
        "max_id": 80,
        "hnsw_m": 32,
    }
    store.batch([PutOp(NS, f"x{i}", fact(200 + i)) for i in range(25)])
    store.search(NS, query="chess")  # 25 new vectors >= delta_limit: merged into the graph
    wait_for_worker(store)
    second = snapshots_of(db).read_header(GROUP)
    assert second is not None and second.index_meta["live"] == 105
    assert second.content_seq > first.content_seq and second.payload != first.payload
    assert not (Path(f"{db}-index") / first.payload).exists()  # old payload removed


def test_save_index_snapshots_writes_what_is_due_now(
    reopen: Any, db: str, filled: Any, forbid_rebuild: Any
) -> None:
    filled()
    store = reopen()
    store.put(NS, "late", fact(999))
    store.delete(NS, "k7")
    store.search(NS, query="chess")  # two changes: not enough for a background snapshot
    store.save_index_snapshots()
    header = snapshots_of(db).read_header(GROUP)
    assert header is not None and header.index_meta["live"] == 119  # the graph, one tombstone
    assert header.valid_seq == _log_head(db)
    forbid_rebuild()
    again = reopen()  # the new vector is read from SQLite above the graph's ids
    assert again.index_stats() == {} and len(again.search(NS, query="chess", limit=200)) == 120
    assert again.index_stats()[GROUP] == ("hnsw", 120)


def _log_head(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(
            conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()[0]
        )
    finally:
        conn.close()


def wait_for_worker(store: FaissSqliteStore) -> None:
    assert store._index is not None
    assert store._index._upkeep.wait_idle(60)


def test_an_unchanged_group_is_restamped_not_rewritten(
    reopen: Any, db: str, snapshot_only: None
) -> None:
    old = snapshots_of(db).read_header(GROUP)
    store = reopen()
    store.search(NS, query="chess")
    store.batch([PutOp(("memories", "bob"), f"b{i}", fact(i)) for i in range(5)])
    store.search(("memories",), query="chess")  # replays bob's entries, alice unchanged
    store.close()
    new = snapshots_of(db).read_header(GROUP)
    assert old is not None and new is not None
    assert new.payload == old.payload and new.content_seq == old.content_seq
    assert new.valid_seq > old.valid_seq


def test_a_restamp_overtaken_by_changes_writes_the_whole_snapshot(
    reopen: Any, db: str, snapshot_only: None
) -> None:
    old = snapshots_of(db).read_header(GROUP)
    store = reopen()
    store.batch([PutOp(("memories", "bob"), f"b{i}", fact(i)) for i in range(5)])
    store.search(("memories",), query="chess")  # alice unchanged but behind the log head
    assert store._index is not None
    jobs = store._index._upkeep._due(closing=True)
    assert [(slot.name, job) for slot, job in jobs] == [(GROUP, "restamp")]
    store.delete(NS, "k7")
    store.search(NS, query="chess")  # alice's graph changes after the job was decided
    store._index._upkeep._write_snapshots(jobs)
    new = snapshots_of(db).read_header(GROUP)
    assert old is not None and new is not None
    assert new.payload != old.payload and new.index_meta["live"] == 119


# ----------------------------------------------------------------- untrustworthy snapshots


def _truncate(db: str) -> None:
    header = snapshots_of(db).read_header(GROUP)
    assert header is not None
    payload = Path(f"{db}-index") / header.payload
    payload.write_bytes(payload.read_bytes()[: header.payload_bytes // 2])


def _corrupt(db: str) -> None:
    header = snapshots_of(db).read_header(GROUP)
    assert header is not None
    payload = Path(f"{db}-index") / header.payload
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0xFF
    payload.write_bytes(bytes(data))


def _garbage_header(db: str) -> None:
    for header in Path(f"{db}-index").glob("*.json"):
        header.write_text("{not json")


def _execute(db: str, *statements: str) -> None:
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _tampered_header(db: str) -> None:
    """A header that parses but points outside the snapshot directory, stamped as text."""
    for path in Path(f"{db}-index").glob("*.json"):
        header = json.loads(path.read_text())
        header.update(payload=f"../{header['payload']}", valid_seq=str(header["valid_seq"]))
        path.write_text(json.dumps(header))


def _foreign(db: str) -> None:
    _execute(db, "UPDATE meta SET value = 'another-database' WHERE key = 'database_id'")


def _missing(db: str) -> None:
    shutil.rmtree(f"{db}-index")


def _ahead(db: str) -> None:
    """The database goes back in time (a restored backup): the snapshot is from its future."""
    _execute(db, "UPDATE sqlite_sequence SET seq = 1 WHERE name = 'vector_log'")


def _stale(db: str) -> None:
    """More changes than the compacted log keeps happened since the snapshot."""
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM items WHERE key = 'k7'")
    conn.execute("DELETE FROM vectors WHERE item_id NOT IN (SELECT id FROM items)")
    conn.execute("INSERT INTO vector_log (grp, vector_id, added) VALUES ('memories.alice', 0, 0)")
    head = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()[0]
    conn.execute("DELETE FROM vector_log")
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('log_floor', ?)", (str(head),))
    conn.commit()
    conn.close()


def _vectors_changed_behind_its_back(db: str) -> None:
    """SQLite vectors edited without a log entry: the sampled check must notice."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, blob FROM vectors ORDER BY id").fetchall()
    blobs = [blob for _, blob in rows]
    rotated = [(b, vid) for (vid, _), b in zip(rows, blobs[1:] + blobs[:1], strict=True)]
    conn.executemany("UPDATE vectors SET blob = ? WHERE id = ?", rotated)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "damage",
    [
        _truncate,
        _corrupt,
        _garbage_header,
        _tampered_header,
        _foreign,
        _ahead,
        _stale,
        _vectors_changed_behind_its_back,
    ],
)
def test_untrustworthy_snapshot_is_rebuilt_from_sqlite_with_a_warning(
    reopen: Any, db: str, filled: Any, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    filled()
    damage(db)
    caplog.clear()
    store = reopen()
    found = store.search(NS, query="chess", limit=200)
    assert "unusable" in caplog.text and "rebuilding from SQLite" in caplog.text
    ids, vectors = live_vectors(store)
    expected_ids, expected_vectors = sqlite_vectors(db)
    assert np.array_equal(ids, expected_ids) and np.array_equal(vectors, expected_vectors)
    assert len(found) == len(expected_ids)
    store.close()  # writes a good snapshot again
    caplog.clear()
    again = reopen()
    again.search(NS, query="chess")
    assert "unusable" not in caplog.text


def test_missing_snapshot_rebuilds_and_loses_nothing(
    reopen: Any, db: str, filled: Any, caplog: pytest.LogCaptureFixture
) -> None:
    filled()
    _missing(db)
    caplog.clear()
    store = reopen()
    assert len(store.search(NS, query="chess", limit=200)) == 120
    assert "loaded from SQLite" in caplog.text


def test_memory_store_and_small_groups_have_no_snapshots(
    reopen: Any, db: str, local_embeddings: LocalEmbeddings
) -> None:
    with FaissSqliteStore(":memory:", index={"embed": local_embeddings}, index_policy=HNSW) as mem:
        mem.batch([PutOp(NS, f"k{i}", {"text": f"note {i}"}) for i in range(60)])
        mem.search(NS, query="note")
        assert mem._index is not None and mem._index.snapshot_dir is None
    small = reopen()
    small.batch([PutOp(NS, f"k{i}", fact(i)) for i in range(10)])
    small.search(NS, query="chess")
    small.close()
    assert not Path(f"{db}-index").exists()


# ----------------------------------------------------------------- the file format


def test_snapshot_dir_round_trip_and_refusals(tmp_path: Path) -> None:
    from hippograph.store.vector_index import GroupIndex

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((80, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=50))
    index.add(np.arange(1, 81), vectors)
    index.maintain()
    index.remove(np.array([3, 9]))
    snapshots = SnapshotDir(tmp_path / "snaps", "db-1", 16)
    raw, tombstones, meta = index.export()
    header = snapshots.commit(snapshots.write_payload("g", raw, tombstones, meta, 42))
    assert header.content_seq == header.valid_seq == 42
    loaded = snapshots.load("g")
    assert loaded is not None
    _, raw2, tombstones2 = loaded
    restored = GroupIndex.restore(
        16, IndexPolicy(hnsw_threshold=50), raw2, tombstones=tombstones2, meta=meta, applied_seq=42
    )
    assert restored.kind == "hnsw" and len(restored) == 78 and restored.tombstones == 2
    assert np.array_equal(restored.live()[1], index.live()[1])
    assert snapshots.restamp(header, 50).valid_seq == 50
    assert snapshots.load("other") is None
    with pytest.raises(SnapshotError, match="another database"):
        SnapshotDir(tmp_path / "snaps", "db-2", 16).read_header("g")
    with pytest.raises(SnapshotError, match="16-d"):
        SnapshotDir(tmp_path / "snaps", "db-1", 32).read_header("g")


def test_sweep_removes_only_old_leftovers(tmp_path: Path) -> None:
    snapshots = SnapshotDir(tmp_path, "db", 4)
    index = faiss_flat(4)
    header = snapshots.commit(snapshots.write_payload("g", index, np.zeros(0, np.int64), {}, 1))
    orphan, temp, young = tmp_path / "x.1.faiss", tmp_path / "y.faiss.tmp", tmp_path / "z.faiss"
    for path in (orphan, temp, young):
        path.write_bytes(b"left over")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    os.utime(temp, (old, old))
    assert snapshots.sweep() == 2
    assert young.exists() and (tmp_path / header.payload).exists()
    assert json.loads((tmp_path / next(p.name for p in tmp_path.glob("*.json"))).read_text())


def faiss_flat(dims: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dims))
