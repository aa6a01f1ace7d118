"""What `FaissSqliteStore` promises beyond the shared contract: persistence, no re-embedding,
TTL, history, concurrency across threads and processes, and bad input that changes nothing."""

from __future__ import annotations

import json
import math
import multiprocessing
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp, SearchOp

from hippograph.store import (
    EmbeddingDimensionError,
    EmbeddingError,
    FaissSqliteStore,
    IndexPolicy,
    InvalidValueError,
    LocalEmbeddings,
    StoreClosedError,
    StoreConfigError,
)
from tests.store.conftest import CountingEmbeddings

NS = ("memories", "alice")


def snapshot(path: str) -> dict[str, Any]:
    """Everything a failed write must leave untouched, read straight from SQLite."""
    conn = sqlite3.connect(path)
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("items", "vectors", "vector_log", "history")
        }
    finally:
        conn.close()


# ----------------------------------------------------------------- persistence and embedding reuse


def test_reopen_keeps_items_and_rebuilds_index_without_reembedding(
    open_store: Any, counting_embeddings: CountingEmbeddings
) -> None:
    store = open_store(counting_embeddings)
    store.put(NS, "editor", {"content": "I work with NeoVim"})
    store.put(NS, "food", {"content": "I love Italian food"})
    created = store.get(NS, "editor").created_at
    store.close()
    with pytest.raises(StoreClosedError):
        store.get(NS, "editor")

    embedded_before = list(counting_embeddings.documents)
    reopened = open_store(counting_embeddings)
    item = reopened.get(NS, "editor")
    assert item is not None and item.created_at == created
    assert reopened.search(NS, query="What tools do I use?")[0].key == "editor"
    assert counting_embeddings.documents == embedded_before  # FAISS rebuilt from SQLite blobs


def test_unchanged_content_is_not_reembedded(
    open_store: Any, counting_embeddings: CountingEmbeddings
) -> None:
    store = open_store(counting_embeddings)
    store.put(NS, "a", {"content": "I run every morning", "importance": 0.5})
    store.put(NS, "a", {"content": "I run every morning", "importance": 0.9})  # same text
    store.put(NS, "b", {"content": "I run every morning"})  # same text, other key
    assert counting_embeddings.documents == ["I run every morning"]
    store.put(NS, "a", {"content": "I swim every evening"})
    assert counting_embeddings.documents == ["I run every morning", "I swim every evening"]
    assert store.search(NS, query="swimming", limit=1)[0].key == "a"


def test_update_replaces_the_vector(open_store: Any, db: str) -> None:
    store = open_store()
    store.put(NS, "lang", {"content": "Codes primarily in Python"})
    store.put(NS, "lang", {"content": "Switched to Java for work"})
    rows = snapshot(db)
    assert len(rows["vectors"]) == 1
    assert [r[3] for r in rows["vector_log"]] == [1, 0, 1]  # add, remove, add
    assert store.index_stats() == {}
    store.search(NS, query="java")
    assert store.index_stats() == {"memories.alice": ("flat", 1)}


# ----------------------------------------------------------------- history and provenance


# ----------------------------------------------------------------- TTL


def test_ttl_expiry_refresh_and_sweep(open_store: Any) -> None:
    store = open_store(ttl={"default_ttl": 0.01, "refresh_on_read": True})  # 0.6 s
    store.put(NS, "short", {"content": "temporary note"})
    store.put(NS, "forever", {"content": "permanent note"}, ttl=None)
    store.put(NS, "kept", {"content": "refreshed note"})
    assert store.get(NS, "short") is not None
    for _ in range(4):
        time.sleep(0.2)
        assert store.get(NS, "kept") is not None  # each read restarts its clock
    assert store.get(NS, "short") is None
    assert "short" not in [r.key for r in store.search(NS, query="note", limit=10)]
    assert store.count(NS) == 2
    assert store.sweep_ttl() == 1
    assert [e["op"] for e in store.history(NS, "short")] == ["EXPIRE", "ADD"]


def test_ttl_sweeper_thread_runs(open_store: Any, db: str) -> None:
    store = open_store(ttl={"default_ttl": 0.001, "sweep_interval_minutes": 0.002})  # 0.12 s
    store.put(NS, "gone", {"content": "soon expired"})
    deadline = time.monotonic() + 10
    while snapshot(db)["items"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert snapshot(db)["items"] == []
    assert store.stop_ttl_sweeper(timeout=5)


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf, "5"])
def test_bad_ttl_is_rejected(open_store: Any, ttl: Any) -> None:
    store = open_store(ttl={"default_ttl": None})
    with pytest.raises(InvalidValueError):
        store.put(NS, "k", {"content": "x"}, ttl=ttl)


# ----------------------------------------------------------------- bad input changes nothing


class RaisingEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise TimeoutError("embedding service timed out")

    def embed_query(self, text: str) -> list[float]:
        raise TimeoutError("embedding service timed out")


class FixedEmbeddings(Embeddings):
    """Returns a fixed vector per text: lets a test hand the store wrong sizes or NaN."""

    def __init__(self, vector: list[float]) -> None:
        self.vector = vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(self.vector) for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(self.vector)


class Unserialisable:
    pass


BAD_VALUES: list[tuple[str, Any, type[Exception]]] = [
    ("list", ["not", "a", "dict"], InvalidValueError),
    ("string", "just text", InvalidValueError),
    ("set", {"content": {"a", "b"}}, InvalidValueError),
    ("datetime", {"content": "x", "at": datetime.now()}, InvalidValueError),
    ("object", {"content": Unserialisable()}, InvalidValueError),
    ("int key", {"content": "x", 1: "one"}, InvalidValueError),
    ("nan importance", {"content": "x", "importance": math.nan}, InvalidValueError),
    ("inf importance", {"content": "x", "importance": math.inf}, InvalidValueError),
    ("1 MB string", {"content": "x" * 1_000_000}, InvalidValueError),
    ("lone surrogate", {"content": "bad \ud800 text"}, InvalidValueError),
]


@pytest.mark.parametrize(("label", "value", "error"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_values_raise_and_change_nothing(
    open_store: Any, db: str, label: str, value: Any, error: type[Exception]
) -> None:
    store = open_store()
    store.put(NS, "existing", {"content": "I work with NeoVim"})
    before = snapshot(db)
    with pytest.raises(error):
        store.put(NS, "existing", value)
    with pytest.raises(error):  # one bad op fails the whole batch
        store.batch([PutOp(NS, "new", {"content": "fine"}), PutOp(NS, "bad", value)])
    assert snapshot(db) == before


@pytest.mark.parametrize("key", ["nul\x00key", 42, "bad\udc00key"], ids=["nul", "int", "surrogate"])
def test_bad_keys_raise_and_change_nothing(open_store: Any, db: str, key: Any) -> None:
    store = open_store()
    before = snapshot(db)
    with pytest.raises(InvalidValueError):
        store.batch([PutOp(NS, key, {"content": "x"})])
    assert snapshot(db) == before


def test_nul_bytes_inside_values_round_trip(open_store: Any) -> None:
    store = open_store()
    store.put(NS, "k", {"content": "before\x00after", "nested": {"z": "\x00"}})
    assert store.get(NS, "k").value == {"content": "before\x00after", "nested": {"z": "\x00"}}


def test_large_values_are_accepted_when_the_limit_is_raised(open_store: Any) -> None:
    store = open_store(max_value_bytes=2_000_000)
    store.put(NS, "big", {"content": "y" * 1_000_000})
    assert len(store.get(NS, "big").value["content"]) == 1_000_000


@pytest.mark.parametrize(
    ("embed", "error"),
    [
        (RaisingEmbeddings(), EmbeddingError),
        (FixedEmbeddings([0.1] * 383), EmbeddingDimensionError),
        (FixedEmbeddings([math.nan] * 384), EmbeddingDimensionError),
        (FixedEmbeddings([0.0] * 384), EmbeddingDimensionError),
    ],
    ids=["raises", "wrong-dimension", "nan", "zero"],
)
def test_embedder_failures_raise_and_change_nothing(
    db: str, tmp_path: Path, embed: Embeddings, error: type[Exception]
) -> None:
    with FaissSqliteStore(db, index={"dims": 384, "embed": embed, "fields": ["content"]}) as store:
        before = snapshot(db)
        with pytest.raises(error):
            store.put(NS, "k", {"content": "anything"})
        assert snapshot(db) == before
        with pytest.raises(error):
            store.search(NS, query="anything")


def test_reopening_with_other_dimensions_is_refused(open_store: Any, db: str) -> None:
    open_store().put(NS, "k", {"content": "x"})
    with pytest.raises(StoreConfigError, match="384"):
        FaissSqliteStore(db, index={"dims": 8, "embed": FixedEmbeddings([1.0] * 8)})


def test_raw_batch_ops_are_validated(open_store: Any) -> None:
    store = open_store()
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(("a.b",), "k")])
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp((), "k", {"content": "x"})])
    with pytest.raises(InvalidValueError):
        store.batch([SearchOp(NS, limit=-1)])
    with pytest.raises(InvalidValueError):
        store.batch(["not an op"])  # type: ignore[list-item]


def test_filters_are_injection_safe(open_store: Any) -> None:
    store = open_store()
    store.put(NS, "k", {"content": "x", "a-b": "v'); DROP TABLE items; --"})
    assert [r.key for r in store.search(NS, filter={"a-b": "v'); DROP TABLE items; --"})] == ["k"]
    for key in ("x') OR 1=1 --", 'quote"key', "a'b", "$.content", ""):
        with pytest.raises(ValueError, match="Invalid filter key"):
            store.search(NS, filter={key: 1})
    with pytest.raises(InvalidValueError):
        store.search(NS, filter={"k": {"$regex": ".*"}})
    assert store.count() == 1


# ----------------------------------------------------------------- scoping and groups


def test_search_across_groups_and_below_a_group(open_store: Any) -> None:
    store = open_store()
    store.put(("memories", "alice"), "a1", {"content": "Alice plays chess"})
    store.put(("memories", "alice", "work"), "a2", {"content": "Alice writes Rust at work"})
    store.put(("memories", "bob"), "b1", {"content": "Bob plays chess too"})
    everyone = store.search(("memories",), query="chess", limit=10)
    assert {r.key for r in everyone} == {"a1", "a2", "b1"}
    alice = store.search(("memories", "alice"), query="chess", limit=10)
    assert {r.key for r in alice} == {"a1", "a2"}
    work = store.search(("memories", "alice", "work"), query="chess", limit=10)
    assert [r.key for r in work] == ["a2"]
    assert store.search(("memories", "carol"), query="chess") == []


def test_hnsw_groups_stay_correct_through_updates_and_deletes(open_store: Any) -> None:
    policy = IndexPolicy(hnsw_threshold=40, rebuild_ratio=0.25)
    store = open_store(index_policy=policy)
    store.batch(
        [PutOp(NS, f"k{i}", {"content": f"fact number {i} about topic {i % 7}"}) for i in range(80)]
    )
    exact = open_store(
        path=str(Path(store.path).with_name("exact.db")),
        index_policy=IndexPolicy(hnsw_threshold=None),
    )
    exact.batch(
        [PutOp(NS, f"k{i}", {"content": f"fact number {i} about topic {i % 7}"}) for i in range(80)]
    )
    queries = ("fact number 12", "topic 3", "something unrelated")
    expected = [exact.search(NS, query=query, limit=1)[0].key for query in queries]
    assert [store.search(NS, query=q, limit=1)[0].key for q in queries] == expected
    store.save_index_snapshots()  # waits for the background build of the HNSW graph
    assert store.index_stats()["memories.alice"] == ("hnsw", 80)
    assert [store.search(NS, query=q, limit=1)[0].key for q in queries] == expected
    for i in range(0, 80, 2):
        store.delete(NS, f"k{i}")
    results = store.search(NS, query="fact number", limit=80)
    assert sorted(int(r.key[1:]) for r in results) == list(range(1, 80, 2))
    store.save_index_snapshots()
    assert store.index_stats()["memories.alice"] == ("flat", 40)  # rebuilt, now small


# ----------------------------------------------------------------- concurrency


def test_threads_share_one_store(open_store: Any) -> None:
    store = open_store()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                key = f"t{n}-{i}"
                store.put(NS, key, {"content": f"thread {n} fact {i}"})
                hits = store.search(NS, query=f"thread {n} fact", limit=5)
                assert hits
                if i % 3 == 0:
                    store.delete(NS, key)
                    assert key not in [
                        h.key for h in store.search(NS, query=f"thread {n} fact {i}", limit=50)
                    ]
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count(NS) == 8 * 10


def _child_writer(path: str, ready: Any, go: Any) -> None:
    with FaissSqliteStore(path, index={"embed": "local", "fields": ["content"]}) as store:
        ready.set()
        go.wait(30)
        store.put(NS, "from-child", {"content": "The child process likes astronomy"})
        store.delete(NS, "doomed")


def test_another_process_sees_committed_writes_on_next_read(open_store: Any, db: str) -> None:
    store = open_store()
    store.put(NS, "doomed", {"content": "I dislike telescopes"})
    assert store.search(NS, query="telescopes")[0].key == "doomed"  # index loaded here
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_child_writer, args=(db, ready, go))
    child.start()
    try:
        assert ready.wait(60)
        go.set()
        child.join(60)
        assert child.exitcode == 0
    finally:
        if child.is_alive():
            child.kill()
    hits = store.search(NS, query="stars and planets", limit=5)
    assert [h.key for h in hits] == ["from-child"]
    assert store.get(NS, "doomed") is None


def test_log_compaction_makes_readers_reload(
    open_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hippograph.store import faiss_sqlite

    reader, writer = open_store(), open_store()
    writer.put(NS, "old", {"content": "an old fact about cats"})
    assert reader.search(NS, query="cats")[0].key == "old"
    monkeypatch.setattr(faiss_sqlite, "_LOG_KEEP", 2)
    for i in range(10):
        writer.put(NS, f"n{i}", {"content": f"new fact {i} about dogs"})
    writer.delete(NS, "old")
    results = reader.search(NS, query="cats", limit=20)
    assert "old" not in [r.key for r in results] and len(results) == 10


async def test_async_calls_do_not_block_the_event_loop(open_store: Any) -> None:
    from blockbuster import BlockingError, blockbuster_ctx

    store = open_store()
    await store.aput(NS, "warm", {"content": "warm up the embedder"})
    with blockbuster_ctx():
        with pytest.raises(BlockingError):  # the detector is live: a sync call trips it
            store.get(NS, "warm")
        await store.aput(NS, "k", {"content": "I work with NeoVim"})
        assert (await store.asearch(NS, query="editor"))[0].key == "k"
        assert (await store.aget(NS, "k")) is not None
        await store.adelete(NS, "k")


def test_memory_database_works_across_threads(local_embeddings: LocalEmbeddings) -> None:
    with FaissSqliteStore.from_conn_string(":memory:", index={"embed": local_embeddings}) as store:
        threads = [
            threading.Thread(target=store.put, args=(NS, f"k{i}", {"text": f"note {i}"}))
            for i in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.count() == 6
        assert len(store.search(NS, query="note", limit=10)) == 6


def test_stored_vectors_are_unit_float32(open_store: Any, db: str) -> None:
    open_store().put(NS, "k", {"content": "hello world"})
    blob = snapshot(db)["vectors"][0][6]
    vector = np.frombuffer(blob, dtype=np.float32)
    assert vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_history_values_are_json(open_store: Any, db: str) -> None:
    open_store().put(NS, "k", {"content": "ünïcødé ✓"})
    row = snapshot(db)["history"][0]
    assert json.loads(row[5]) == {"content": "ünïcødé ✓"}


@pytest.mark.parametrize(
    "value",
    [
        {"content": "plain text"},
        {"content": 42},
        {"content": 1.5},
        {"content": True},
        {"content": None},
        {"content": ["a", "b"]},
        {"content": {"nested": "x"}},
        {"other": "no content here"},
        {"content": ""},
    ],
)
@pytest.mark.parametrize("path", ["content", "[0]", "*", "{content,other}", "$"])
def test_the_fast_text_lookup_agrees_with_langgraphs(value: dict[str, Any], path: str) -> None:
    from langgraph.store.base import get_text_at_path, tokenize_path

    from hippograph.store.codec import texts_at_path

    tokens = path if path == "$" else tokenize_path(path)
    assert texts_at_path(value, tokens) == get_text_at_path(value, tokens)
