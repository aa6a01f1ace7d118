"""What `PostgresMemoryStore` promises beyond the shared contract: an atomic audit trail with
provenance, counts, safe concurrent setup, threads on one pool, and processes sharing data."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import psycopg
import pytest
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp

from hippograph.store import (
    EmbeddingDimensionError,
    InvalidValueError,
    StoreConfigError,
    provenance,
)
from hippograph.store.history import history_paused
from hippograph.store.pg_schema import PG_MIGRATIONS
from hippograph.store.postgres import PostgresMemoryStore

NS = ("memories", "alice")


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


# ----------------------------------------------------------------- history and provenance


async def test_async_writes_keep_their_provenance(open_pg: Any) -> None:
    store = open_pg()
    await store.aput(NS, "k", {"content": "Plays chess"})
    with provenance({"thread_id": "async-thread"}):
        await store.adelete(NS, "k")
    assert store.history(NS, "k")[0]["source"] == {"thread_id": "async-thread"}


def test_expired_items_are_recorded_as_expire(open_pg: Any) -> None:
    store = open_pg(ttl={"default_ttl": 0.005})  # 0.3 s
    store.put(NS, "short", {"content": "temporary note"})
    time.sleep(0.5)
    assert store.sweep_ttl() == 1
    assert [e["op"] for e in store.history(NS, "short")] == ["EXPIRE", "ADD"]


class _WrongSizeEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[0.1, 0.2, 0.3] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [0.1, 0.2, 0.3]


def test_a_failed_write_leaves_no_item_and_no_history(open_pg: Any, pg_url: str) -> None:
    store = open_pg()
    store.put(NS, "kept", {"content": "I like tea"})
    broken = PostgresMemoryStore.open(
        pg_url, index={"dims": 384, "embed": _WrongSizeEmbeddings(), "fields": ["content"]}
    )
    try:
        with pytest.raises(EmbeddingDimensionError, match="3-d vector"):
            broken.put(NS, "lost", {"content": "I like coffee"})
    finally:
        broken.close()
    assert store.get(NS, "lost") is None
    assert [e["key"] for e in store.history(NS)] == ["kept"]


def test_history_can_be_paused_for_copies(open_pg: Any) -> None:
    store = open_pg()
    with history_paused():
        store.put(NS, "copied", {"content": "Copied from elsewhere"})
    store.put(NS, "new", {"content": "Written normally"})
    assert [e["key"] for e in store.history(NS)] == ["new"]


# ----------------------------------------------------------------- count, filters, setup


def test_count_is_label_aware_and_skips_expired(open_pg: Any) -> None:
    store = open_pg()
    store.put(("memories", "alice"), "a", {"content": "one"})
    store.put(("memories", "alice", "work"), "b", {"content": "two"})
    store.put(("memories", "alicia"), "c", {"content": "three"})
    store.put(("memories", "al_ce"), "d", {"content": "four"})
    store.put(("memories", "alice"), "gone", {"content": "brief"}, ttl=0.001)
    time.sleep(0.2)
    assert store.count(("memories", "alice")) == 2
    assert store.count(("memories", "al_ce")) == 1
    assert store.count(("memories",)) == 4
    assert store.count() == 4


def test_numbers_compare_as_numbers(open_pg: Any) -> None:
    store = open_pg()
    for n in (2, 9, 10, 100):
        store.put(("t",), f"n{n}", {"content": f"item {n}", "n": n})
    store.put(("t",), "s", {"content": "a string", "n": "99"})
    found = store.search(("t",), filter={"n": {"$gt": 9}})
    assert sorted(r.key for r in found) == ["n10", "n100"]
    assert sorted(r.key for r in store.search(("t",), filter={"n": {"$lte": 9}})) == ["n2", "n9"]


def test_concurrent_setup_on_a_new_database_migrates_once(pg_url: str) -> None:
    code = textwrap.dedent(
        """
        import sys
        from hippograph.backends import open_checkpointer
        from hippograph.store.postgres import PostgresMemoryStore
        embed = lambda texts: [[1.0] * 384 for _ in texts]  # schema only: no model needed
        with PostgresMemoryStore.open(sys.argv[1], index={"dims": 384, "embed": embed}):
            pass
        with open_checkpointer(sys.argv[1]):
            pass
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, pg_url], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    versions = rows(pg_url, "SELECT v FROM hippograph_migrations ORDER BY v")
    assert versions == [(v,) for v in range(len(PG_MIGRATIONS))]
    versions = rows(pg_url, "SELECT v, count(*) FROM store_migrations GROUP BY v")
    assert versions and all(n == 1 for _, n in versions)
    assert rows(pg_url, "SELECT count(*) FROM checkpoint_migrations")[0][0] > 0


def test_reopening_with_other_dimensions_is_refused(open_pg: Any, pg_url: str) -> None:
    open_pg().put(NS, "k", {"content": "x"})
    with pytest.raises(StoreConfigError, match="384-d"):
        PostgresMemoryStore.open(
            pg_url, index={"dims": 3, "embed": _WrongSizeEmbeddings(), "fields": ["content"]}
        )


def test_setup_is_idempotent(open_pg: Any, pg_url: str) -> None:
    store = open_pg()
    store.put(NS, "k", {"content": "x"})
    store.setup()
    open_pg().setup()
    assert store.count() == 1
    assert rows(pg_url, "SELECT count(*) FROM hippograph_migrations")[0][0] == len(PG_MIGRATIONS)


# ----------------------------------------------------------------- concurrency


def test_threads_share_one_pooled_store(open_pg: Any) -> None:
    store = open_pg(max_connections=4)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                store.put(NS, f"w{n}-{i}", {"content": f"worker {n} fact {i}"})
                assert store.get(NS, f"w{n}-{i}") is not None
                store.search(NS, query=f"fact {i}", limit=3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert store.count(NS) == 30
    assert len(store.history(NS, limit=100)) == 30


async def test_async_calls_run_off_the_event_loop(
    open_pg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database work of `a*` calls happens in worker threads (psycopg's blocking waits are
    invisible to blockbuster, so the thread is checked directly)."""
    store = open_pg()
    threads: list[int] = []
    real_execute = store._execute

    def recording_execute(plan: Any) -> Any:
        threads.append(threading.get_ident())
        return real_execute(plan)

    monkeypatch.setattr(store, "_execute", recording_execute)
    await store.aput(NS, "k", {"content": "I work with NeoVim"})
    assert (await store.asearch(NS, query="editor"))[0].key == "k"
    assert (await store.aget(NS, "k")) is not None
    await store.adelete(NS, "k")
    assert len(threads) == 4
    assert threading.get_ident() not in threads


_PEER = textwrap.dedent(
    """
    import json, sys
    from hippograph.backends import open_store
    with open_store(sys.argv[1]) as store:
        ns = ("memories", "alice")
        found = [h.key for h in store.search(ns, query="favourite dish", limit=1)]
        store.put(ns, "from-peer", {"content": "The peer process likes astronomy"})
        print(json.dumps(found))
    """
)


def test_two_processes_share_one_database(open_pg: Any, pg_url: str) -> None:
    """Each OS process finds what the other one wrote."""
    store = open_pg()
    store.put(NS, "mine", {"content": "My favourite dish is carbonara"})
    peer = subprocess.run(
        [sys.executable, "-c", _PEER, pg_url],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert peer.returncode == 0, peer.stderr
    assert json.loads(peer.stdout.strip().splitlines()[-1]) == ["mine"]
    hits = store.search(NS, query="stars and planets", limit=1)
    assert [h.key for h in hits] == ["from-peer"]


# ----------------------------------------------------------------- bulk writes (COPY)


def _bulk_ops(n: int) -> list[PutOp]:
    ops = []
    for i in range(n):
        value: dict[str, Any] = {"content": f"fact number {i}", "n": i, "meta": {"i": i}}
        if i % 5 == 0:
            ops.append(PutOp(NS, f"k{i}", value, index=False))
        elif i % 5 == 1:
            ops.append(PutOp(NS, f"k{i}", {**value, "tags": ["a", "b"]}, index=["tags[*]"]))
        else:
            ops.append(PutOp(NS, f"k{i}", value, ttl=90.0 if i % 5 == 2 else None))
    return ops


def _dump(url: str) -> tuple[list[tuple[Any, ...]], ...]:
    return (
        rows(
            url,
            "SELECT prefix, key, value, ttl_minutes, expires_at IS NULL FROM store ORDER BY key",
        ),
        rows(
            url, "SELECT prefix, key, field_name, embedding::text FROM store_vectors ORDER BY 1,2,3"
        ),
        rows(url, "SELECT prefix, key, op, old, new FROM hippograph_history ORDER BY key, op"),
    )


@pytest.mark.parametrize("existing", [False, True], ids=["new keys", "upserts"])
def test_bulk_batches_write_exactly_what_small_batches_write(
    open_pg: Any, pg_databases: Any, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    """From `COPY_THRESHOLD` rows on, puts stream through COPY (straight into the tables for
    new keys, through staging for upserts); the rows, vectors and history are the same."""
    from hippograph.store import pg_writes

    urls = [pg_databases(), pg_databases()]
    for url, threshold in zip(urls, (pg_writes.COPY_THRESHOLD, 10**9), strict=True):
        monkeypatch.setattr(pg_writes, "COPY_THRESHOLD", threshold)
        store = open_pg(url=url)
        if existing:
            store.batch(_bulk_ops(150)[::7])  # a few keys exist already: the upsert path
        store.batch(_bulk_ops(150))
        assert store.count(NS) == 150
        assert store.search(NS, query="fact number 42", limit=1)[0].key == "k42"
    assert _dump(urls[0]) == _dump(urls[1])
    item = open_pg(url=urls[0]).get(NS, "k2")
    assert item is not None and item.created_at == item.updated_at


def test_a_bulk_load_refuses_a_value_postgres_cannot_store(open_pg: Any) -> None:
    store = open_pg()
    ops = [*_bulk_ops(100), PutOp(NS, "bad", {"content": "nul \x00 inside"})]
    with pytest.raises(InvalidValueError, match="NUL character"):
        store.batch(ops)
    assert store.count() == 0 and store.history(NS) == []
