"""Right to erasure: after `purge` / `MemoryManager.erase` / `memories delete --all`, the user's
text, id and vectors are in no byte of any file the store keeps (database, WAL, snapshots,
recall counts, checkpoints) — and everyone else's data is untouched."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from langgraph.store.memory import InMemoryStore
from typer.testing import CliRunner

from hippograph.backends import memory_index_config, supports
from hippograph.cli import app
from hippograph.memories import MemoryManager
from hippograph.store import FaissSqliteStore, HybridSearch, LocalEmbeddings, memory_namespace
from hippograph.store.erasure import audit_key
from hippograph.store.vector_index import IndexPolicy

runner = CliRunner(env={"COLUMNS": "200"})
ERIN = "erin-q7zk"  # the erased user: a string that occurs nowhere else
OTHERS = ("erin", "erin-q7zk2", "bob")  # prefix overlaps and a stranger


def _secrets(n: int) -> list[str]:
    return [f"Erin keeps token zqx{n}vault in the blue drawer" for n in range(n)]


ERIN_ID = re.compile(re.escape(ERIN.encode()) + rb"(?!2)")  # not the prefix of "erin-q7zk2"


def traces(directory: Path, needles: list[bytes | re.Pattern[bytes]]) -> list[tuple[str, str]]:
    """`(file, needle)` for every needle (bytes or a pattern) found in the raw bytes of any
    file under `directory`."""
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle in needles:
            hit = needle.search(data) if isinstance(needle, re.Pattern) else needle in data
            if hit:
                found.append((path.name, repr(needle)[:40]))
    return found


def _seed(store, manager_of) -> list[str]:
    """Erin's memories (added, updated, deleted: history of every kind) and everyone else's."""
    erin = manager_of(ERIN)
    keys = [erin.add(text, category="personal", importance=0.9).id for text in _secrets(12)]
    erin.edit(keys[0], content="Erin moved token zqxupdatedvault to the safe")
    erin.delete(keys[1])
    store.put((*memory_namespace(ERIN), "work"), "w1", {"content": "Erin work note zqxworkvault"})
    for user in OTHERS:
        manager_of(user).add(f"{user} likes green tea", category="preferences")
    return keys


def _sql_count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_purge_leaves_no_byte_of_the_user(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    db = tmp_path / "memories.db"
    index = memory_index_config(embeddings)
    hybrid = HybridSearch(fields=("content", "context"))
    store = FaissSqliteStore(str(db), index=index, hybrid=hybrid)
    replica = FaissSqliteStore(str(db), index=index, hybrid=hybrid)  # another process's caches
    _seed(store, lambda user: MemoryManager(store, user, origin="test"))
    for s in (store, replica):  # both have Erin's FAISS group loaded
        assert s.search(memory_namespace(ERIN), query="where is the token?")
    blobs = [
        row[0]
        for row in sqlite3.connect(db).execute(
            "SELECT v.blob FROM vectors v JOIN items i ON i.id = v.item_id "
            "WHERE i.prefix = ? OR i.prefix LIKE ?",
            (f"memories.{ERIN}", f"memories.{ERIN}.%"),
        )
    ]
    assert len(blobs) == 12

    report = store.purge(memory_namespace(ERIN))

    assert report.items == 12 and report.compacted
    assert report.removed["history"] >= 15 and report.removed["vectors"] == 12
    assert report.audit_key == audit_key(memory_namespace(ERIN))
    for s in (store, replica):
        assert s.search(memory_namespace(ERIN), query="where is the token?") == []
        assert s.verify().ok, s.verify().problems
        assert [ns[1] for ns in s.list_namespaces(prefix=("memories",))] == sorted(OTHERS)
        for user in OTHERS:
            hits = s.search(memory_namespace(user), query="tea")
            assert [h.value["content"] for h in hits] == [f"{user} likes green tea"]
    assert _sql_count(db, "SELECT count(*) FROM vector_log WHERE grp = 'memories.erin-q7zk'") == 0
    audit = [e for e in store.history(()) if e["op"] == "ERASE"]
    assert len(audit) == 1 and audit[0]["key"] == report.audit_key
    assert audit[0]["new"] == {"items": 12} and ERIN not in str(audit[0])
    replica.close()
    store.close()

    needles = [ERIN_ID, b"zqx", *(blob[:64] for blob in blobs)]
    assert traces(tmp_path, needles) == []
    assert traces(tmp_path, [b"likes green tea"])  # the scan does see what is there


def test_purge_needs_a_prefix(memory_store: FaissSqliteStore) -> None:
    from hippograph.store import InvalidNamespaceError

    with pytest.raises(InvalidNamespaceError):
        memory_store.purge(())


def test_purge_of_a_sub_namespace_keeps_the_rest_of_the_group(
    memory_store: FaissSqliteStore,
) -> None:
    manager = MemoryManager(memory_store, ERIN)
    manager.add("Erin drinks oolong")
    work = (*memory_namespace(ERIN), "work")
    memory_store.put(work, "w1", {"content": "Erin deploys on Fridays"})
    assert len(memory_store.search(memory_namespace(ERIN), query="tea", limit=5)) == 2
    memory_store.purge(work, compact=False)
    hits = memory_store.search(memory_namespace(ERIN), query="tea", limit=5)
    assert [h.value["content"] for h in hits] == ["Erin drinks oolong"]
    assert memory_store.verify().ok


def test_erase_without_purge_deletes_every_item() -> None:
    store = InMemoryStore()
    assert not supports(store, "erasure")
    erin = MemoryManager(store, ERIN)
    for text in _secrets(3):
        erin.add(text)
    store.put((*erin.namespace, "work"), "w", {"content": "deeper"})
    MemoryManager(store, "bob").add("Bob stays")
    erased = erin.erase()
    assert (erased.items, erased.compacted) == (4, True)
    assert store.search(erin.namespace) == []
    assert [i.value["content"] for i in store.search(("memories",))] == ["Bob stays"]


def _cli(db: Path, *args: str, input: str | None = None):
    return runner.invoke(app, [*args, "--db", str(db)], input=input)


def test_cli_erases_memories_history_recalls_and_threads(tmp_path: Path) -> None:
    db = tmp_path / "data" / "memories.db"
    said = [
        "My locker code is zqx0vault.",
        "I was born in a small village, zqx1place, in the north.",
        "My favourite band is The zqx2 Collective.",
    ]
    turns = "\n".join([*said, "Where is my locker?", "/exit"])
    chat = _cli(db, "chat", "--user", ERIN, "--thread", "erin-thread", input=turns)
    assert chat.exit_code == 0 and chat.output.count("+ ADDED") == 3, chat.output
    other = _cli(db, "chat", "--user", "bob", "--thread", "bob-thread", input="I like tea\n/exit")
    assert other.exit_code == 0, other.output
    assert traces(tmp_path, [b"zqx0vault"])  # in the store, the checkpoints and so on

    refused = _cli(db, "memories", "delete", "--all", "--user", ERIN)
    assert refused.exit_code == 7 and "--yes" in refused.output
    erased = _cli(db, "memories", "delete", "--all", "--user", ERIN, "--yes")
    assert erased.exit_code == 0, erased.output
    assert "erased 3 memories" in erased.output and "1 conversation threads" in erased.output

    assert traces(tmp_path, [ERIN_ID, b"zqx", b"erin-thread"]) == []
    listed = _cli(db, "memories", "list", "--user", "bob")
    assert "I like tea" in listed.output
    history = _cli(db, "memories", "history", "--user", "bob")
    assert "ADD" in history.output


def test_cli_delete_needs_keys_or_all(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert _cli(db, "memories", "delete", "--user", ERIN).exit_code == 2
    both = _cli(db, "memories", "delete", "k1", "--all", "--user", ERIN, "--yes")
    assert both.exit_code == 2 and "not both" in both.output


def test_postgres_purge_rewrites_the_tables(pg_url: str, pg_server, embeddings) -> None:
    from hippograph.store.postgres import PostgresMemoryStore

    with PostgresMemoryStore.open(pg_url, index=memory_index_config(embeddings)) as store:
        _seed(store, lambda user: MemoryManager(store, user, origin="test"))
        files = _relation_files(store)
        report = store.purge(memory_namespace(ERIN))
        assert (report.items, report.removed["vectors"]) == (12, 12)
        assert report.removed["history"] >= 15
        assert store.search(memory_namespace(ERIN)) == []
        assert store.history(memory_namespace(ERIN)) == []
        assert [e["op"] for e in store.history(())][:1] == ["ERASE"]
        for user in OTHERS:
            assert [m.content for m in MemoryManager(store, user).list()] == [
                f"{user} likes green tea"
            ]
        with store._connection() as conn:
            conn.execute("CHECKPOINT")
        files = _relation_files(store)
    data = pg_server.directory / "pgdata"
    assert [f for f in files if (data / f).exists()], "the scan must find the tables' files"
    for name in files:
        path = data / name
        if path.exists():
            assert b"zqx" not in path.read_bytes(), name


def _relation_files(store) -> list[str]:
    with store._connection() as conn:
        rows = conn.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "WHERE c.relname IN ('store', 'store_vectors', 'hippograph_history') "
            "OR c.oid IN (SELECT reltoastrelid FROM pg_class "
            "WHERE relname IN ('store', 'hippograph_history'))"
        ).fetchall()
    return [next(iter(row.values())) if isinstance(row, dict) else row[0] for row in rows]


def test_vectors_of_the_erased_user_are_not_in_memory_caches(
    memory_store: FaissSqliteStore,
) -> None:
    erin = MemoryManager(memory_store, ERIN)
    erin.add("Erin's only memory")
    memory_store.search(erin.namespace, query="memory")
    group = ".".join(erin.namespace)
    assert memory_store._index is not None and memory_store._index.contents(group) is not None
    erin.erase()
    memory_store.search(("memories",), query="memory")
    contents = memory_store._index.contents(group)
    assert contents is None or len(contents[1]) == 0
    assert np.asarray(memory_store.index_stats().get(group, ("flat", 0))[1]) == 0


def test_erase_user_api_leaves_no_byte_in_store_or_recall_log(tmp_path: Path) -> None:
    from hippograph.backends import open_store
    from hippograph.config import Settings
    from hippograph.erasure import erase_user
    from hippograph.recalls import RecallLog

    settings = Settings(db_path=tmp_path / "memories.db", user_id=ERIN)
    with open_store(settings=settings) as store:
        keys = _seed(store, lambda user: MemoryManager(store, user, origin="test"))
        recalled = store.search(memory_namespace(ERIN), query="where is the token?")
        assert recalled
    log = RecallLog.for_settings(settings)
    log.record(ERIN, [{"key": hit.key, "score": hit.score} for hit in recalled])
    log.record("bob", [{"key": "bob-key", "score": 0.5}])
    log.close()
    assert traces(tmp_path, [b"zqx", ERIN_ID])
    assert {p.name for p in tmp_path.iterdir()} >= {"memories.db", "memories-recalls.db"}

    report = erase_user(ERIN, settings=settings, threads=False)

    assert report.store.items == 12 and report.recall_counts == len(recalled)
    needles = [ERIN_ID, b"zqx", *(key.encode() for key in keys)]
    assert traces(tmp_path, needles) == []
    assert traces(tmp_path, [b"likes green tea", b"bob-key"])  # the others stay
    log = RecallLog.for_settings(settings)
    assert [c.key for c in log.top("bob")] == ["bob-key"] and log.top(ERIN) == []
    log.close()


def test_purge_removes_links_and_index_snapshots(
    tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    db = tmp_path / "memories.db"
    policy = IndexPolicy(snapshot_threshold=5)  # Erin's group (12 vectors) is snapshotted
    store = FaissSqliteStore(str(db), index=memory_index_config(embeddings), index_policy=policy)
    keys = _seed(store, lambda user: MemoryManager(store, user, origin="test"))
    bob = MemoryManager(store, "bob", origin="test")
    bob_keys = [bob.add(f"Bob note {n} about tea", category="other").id for n in range(6)]
    store.link(memory_namespace(ERIN), keys[2], keys[3], "entity:zqxvault")
    store.link(memory_namespace("bob"), bob_keys[0], bob_keys[1], "entity:tea")
    for user in (ERIN, "bob"):
        assert store.search(memory_namespace(user), query="token")
    store.save_index_snapshots()
    snapshot_dir = Path(f"{db}-index")
    assert len(list(snapshot_dir.glob("*.json"))) == 2  # Erin's group and Bob's

    report = store.purge(memory_namespace(ERIN))

    assert report.removed["links"] == 1 and report.groups == (f"memories.{ERIN}",)
    assert len(list(snapshot_dir.glob("*.json"))) == 1  # Bob's snapshot stays
    assert [link.relation for link in store.links(memory_namespace("bob"), bob_keys[0])] == [
        "entity:tea"
    ]
    assert store.search(memory_namespace(ERIN), query="token") == []
    assert store.verify().ok
    store.close()
    assert traces(tmp_path, [ERIN_ID, b"zqx"]) == []
