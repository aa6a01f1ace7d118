"""Issue 16: hybrid search reads a tenant's keyword index from an in-process copy
(`store/keyword_cache.py`) that ranks exactly as the SQLite tables do — keys, order and
scores — through writes, updates, deletes, erasures and rebuilds made by this store, by
another store on the same file, and by another process.
"""

from __future__ import annotations

import multiprocessing
import random
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import PutOp

from hippograph.store import FaissSqliteStore, HybridSearch, LocalEmbeddings
from hippograph.store.fulltext import SqliteKeywords
from hippograph.store.keyword_cache import KeywordCache
from hippograph.store.ranking import MEMORY_SEARCH

ALICE = ("memories", "alice")
BOB = ("memories", "bob")
WORDS = [
    "tea", "coffee", "paris", "lisbon", "max", "dog", "cat", "bread", "hiking", "paint",
    "ticket", "golden", "retriever", "sister", "neovim", "beach", "sunday", "garden", "piano",
    "violin", "market", "river",
]  # fmt: skip
QUERIES = [
    "tea in paris",
    "golden retriever max",
    "hiking near the river on sunday",
    "piano and violin",
    "the ticket",
    "zeppelin",
    "bread market coffee dog cat",
]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))


def _memories(rng: random.Random, count: int, start: int = 0) -> list[tuple[str, dict]]:
    return [
        (f"m{n}", {"content": _text(rng), "kind": rng.choice("ab")})
        for n in range(start, start + count)
    ]


def _put(store: FaissSqliteStore, namespace: tuple[str, ...], items: list[tuple[str, dict]]):
    store.batch([PutOp(namespace, key, value) for key, value in items])


def ranking(store: FaissSqliteStore, namespace: tuple[str, ...] = ALICE) -> list[Any]:
    """Every query's top 10, plain and filtered (the filtered path reads whole posting lists)."""
    found = []
    for query in QUERIES:
        for kind in (None, {"kind": "b"}):
            hits = store.search(namespace, query=query, filter=kind, limit=10)
            found.append([(hit.key, hit.score) for hit in hits])
    return found


def warm(store: FaissSqliteStore, namespace: tuple[str, ...] = ALICE) -> list[Any]:
    """`ranking(store, namespace)`, then wait for the keyword cache's background load (a
    tenant's first search reads SQLite while its copy loads)."""
    found = ranking(store, namespace)
    assert isinstance(store._keywords, KeywordCache)
    store._keywords.settle()
    return found


@pytest.fixture
def stores(tmp_path: Path, local_embeddings: LocalEmbeddings) -> Iterator[tuple[Any, Any]]:
    """Two stores on one file: one with the keyword cache, one reading SQLite only."""
    index = {"embed": local_embeddings, "fields": ["content"]}
    path = str(tmp_path / "k.db")
    with (
        FaissSqliteStore(path, index=index, hybrid=HybridSearch()) as cached,  # type: ignore[arg-type]
        FaissSqliteStore(path, index=index, hybrid=HybridSearch(), keyword_cache_bytes=0) as plain,  # type: ignore[arg-type]
    ):
        yield cached, plain


def test_cached_ranking_equals_sqlite_through_writes_updates_and_deletes(
    stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    cached, plain = stores
    rng = random.Random(16)
    _put(cached, ALICE, _memories(rng, 300))
    _put(cached, BOB, _memories(rng, 100))
    assert warm(cached) == ranking(plain)  # read from SQLite while the copy loads
    assert "memories.alice" in cached.keyword_cache_bytes()
    assert ranking(cached) == ranking(plain)
    for round_ in range(4):
        writer = cached if round_ % 2 else plain  # this store, then another store on the file
        _put(writer, ALICE, _memories(rng, 20, start=1000 + 20 * round_))  # new
        _put(writer, ALICE, _memories(rng, 15, start=rng.randrange(250)))  # updated
        for n in rng.sample(range(300), 10):
            writer.delete(ALICE, f"m{n}")
        _put(writer, BOB, _memories(rng, 5, start=500 + 5 * round_))
        assert ranking(cached) == ranking(plain), f"round {round_}"
    _put(plain, ALICE, [("z", {"content": "zeppelin over lisbon"})])
    assert [h.key for h in cached.search(ALICE, query="zeppelin", limit=1)] == ["z"]
    assert ranking(cached, BOB) == ranking(plain, BOB)


def test_cached_source_answers_exactly_as_the_tables(
    stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    """Every `KeywordSource` primitive, term by term, on a copy holding changes since load."""
    cached, plain = stores
    rng = random.Random(7)
    _put(cached, ALICE, _memories(rng, 200))
    warm(cached)
    _put(plain, ALICE, _memories(rng, 30, start=150))  # 50 updated, 30 new: replayed, not reloaded
    for n in range(0, 40, 3):
        plain.delete(ALICE, f"m{n}")
    cache = cached._keywords
    assert isinstance(cache, KeywordCache)
    with cached._conns.read() as conn:
        source = cache.source(conn, "memories.alice")
        assert source is not None and source.group.added and len(source.group.removed)
        table = SqliteKeywords(conn, ["memories.alice"])
        assert source.collection() == table.collection()
        ids = [row[0] for row in conn.execute("SELECT item_id FROM keyword_docs")]
        for _ in range(40):
            terms = rng.sample([*WORDS, "zeppelin"], rng.randint(1, 6))
            frequencies = source.document_frequencies(terms)
            assert list(frequencies.items()) == list(table.document_frequencies(terms).items())
            for limit in (1, 3, 25, None):
                assert source.champions(terms, limit) == table.champions(terms, limit)
            wanted = [*rng.sample(ids, 60), 10**9]
            mine, theirs = source.documents(wanted, terms), table.documents(wanted, terms)
            for a, b in zip(mine, theirs, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b)


def _other_process(path: str, erase: bool) -> None:
    """Process B: writes, deletes or erases on the shared file."""
    index = {"embed": LocalEmbeddings(), "fields": ["content"]}
    with FaissSqliteStore(path, index=index, hybrid=HybridSearch()) as store:  # type: ignore[arg-type]
        if erase:
            store.purge(BOB)
            return
        store.put(ALICE, "zep", {"content": "a zeppelin over the tea market"})
        store.put(ALICE, "m1", {"content": "zeppelin zeppelin"})
        store.delete(ALICE, "m2")


def _run_other(path: str, *, erase: bool) -> None:
    process = multiprocessing.get_context("spawn").Process(
        target=_other_process, args=(path, erase)
    )
    process.start()
    process.join(120)
    assert process.exitcode == 0


def test_another_process_writes_deletes_and_erasure_are_seen(
    stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    cached, plain = stores
    rng = random.Random(3)
    _put(cached, ALICE, _memories(rng, 120))
    _put(cached, BOB, _memories(rng, 40))
    warm(cached)
    warm(cached, BOB)
    assert {"memories.alice", "memories.bob"} <= set(cached.keyword_cache_bytes())

    _run_other(cached.path, erase=False)
    hits = [h.key for h in cached.search(ALICE, query="zeppelin", limit=5)]
    assert hits[:2] == ["m1", "zep"] and "m2" not in hits
    assert ranking(cached) == ranking(plain)

    _run_other(cached.path, erase=True)
    ranking(cached)  # any search notices the fence and drops the erased group
    assert "memories.bob" not in cached.keyword_cache_bytes()
    assert cached.search(BOB, query="tea") == []
    assert ranking(cached) == ranking(plain)


def test_erasure_in_this_process_drops_the_group(
    stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    cached, _ = stores
    _put(cached, BOB, _memories(random.Random(1), 30))
    warm(cached, BOB)
    assert "memories.bob" in cached.keyword_cache_bytes()
    cached.purge(BOB, compact=False)
    assert "memories.bob" not in cached.keyword_cache_bytes()


def test_cold_groups_are_evicted_past_the_memory_bound(
    tmp_path: Path, local_embeddings: LocalEmbeddings
) -> None:
    index = {"embed": local_embeddings, "fields": ["content"]}
    path = str(tmp_path / "lru.db")
    rng = random.Random(5)
    users = [("memories", f"u{n}") for n in range(4)]
    with FaissSqliteStore(path, index=index, hybrid=HybridSearch()) as writer:  # type: ignore[arg-type]
        for user in users:
            _put(writer, user, _memories(rng, 60))
        warm(writer, users[0])
        one_group = writer.keyword_cache_bytes()["memories.u0"]
    bound = 2 * one_group + 1
    with (
        FaissSqliteStore(
            path, index=index, hybrid=HybridSearch(), keyword_cache_bytes=bound
        ) as small,  # type: ignore[arg-type]
        FaissSqliteStore(path, index=index, hybrid=HybridSearch(), keyword_cache_bytes=0) as plain,  # type: ignore[arg-type]
    ):
        for user in [*users, *users]:
            assert warm(small, user) == ranking(plain, user)
            held = small.keyword_cache_bytes()
            assert len(held) <= 2 and sum(held.values()) <= bound
        assert list(small.keyword_cache_bytes()) == ["memories.u2", "memories.u3"]


def test_a_rebuilt_index_is_reloaded(stores: tuple[FaissSqliteStore, FaissSqliteStore]) -> None:
    """A store asking for another field rebuilds the keyword index: slots change meaning."""
    cached, plain = stores
    _put(cached, ALICE, _memories(random.Random(9), 80))
    warm(cached)
    index = {"embed": cached.embeddings, "fields": ["content", "kind"]}
    with FaissSqliteStore(cached.path, index=index, hybrid=HybridSearch()):  # type: ignore[arg-type]
        pass
    assert ranking(cached) == ranking(plain)


TABLES = re.compile(r"keyword_(postings|docs|terms|groups)\b")


@contextmanager
def keyword_statements(
    store: FaissSqliteStore, pattern: re.Pattern[str] = TABLES
) -> Iterator[list[str]]:
    """The SQL statements of the reads made inside that match `pattern` (by default: that
    touch the keyword tables)."""
    seen: list[str] = []
    original = store._conns.read

    @contextmanager
    def read() -> Iterator[sqlite3.Connection]:
        with original() as conn:
            conn.set_trace_callback(lambda sql: seen.append(sql) if pattern.search(sql) else None)
            try:
                yield conn
            finally:
                conn.set_trace_callback(None)

    store._conns.read = read  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        store._conns.read = original  # type: ignore[method-assign]


def test_a_warm_tenants_search_reads_no_keyword_rows(
    stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    """Failed before the cache: every hybrid search read postings, terms and documents."""
    cached, _ = stores
    _put(cached, ALICE, _memories(random.Random(2), 100))
    warm(cached)
    with keyword_statements(cached) as seen:
        ranking(cached)
    assert seen == []


def test_a_copy_that_fell_far_behind_reloads_in_the_background(
    stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    """Past 500 changed items (2 % of a large group) the copy reloads instead of replaying."""
    cached, plain = stores
    rng = random.Random(11)
    _put(cached, ALICE, _memories(rng, 50))
    warm(cached)
    before = cached.keyword_cache_bytes()["memories.alice"]
    _put(plain, ALICE, _memories(rng, 600, start=50))
    assert ranking(cached) == ranking(plain)  # read from SQLite while the copy reloads
    assert warm(cached) == ranking(plain)
    assert cached.keyword_cache_bytes()["memories.alice"] > before
    assert ranking(cached) == ranking(plain)


DATED_QUERIES = [
    "tea in paris on 8 May 2023",
    "what did my sister paint on May 20, 2023",
    "hiking near the river",
    "golden retriever max in 2023-05-14",
]


def _dated(rng: random.Random, count: int, start: int = 0) -> list[tuple[str, dict]]:
    return [
        (
            f"d{n}",
            {
                "content": _text(rng),
                "context": _text(rng),
                "timestamp": f"2023-05-{rng.randint(1, 28):02d}T10:00:00",
                "source": {"thread_id": rng.choice(["t1", "t2", "t3", "t4"])},
                "kind": rng.choice("ab"),
            },
        )
        for n in range(start, start + count)
    ]


def dated_ranking(store: FaissSqliteStore) -> list[Any]:
    """Every dated query's top 10 with scores, plain and filtered."""
    return [
        [(hit.key, hit.score) for hit in store.search(ALICE, query=q, filter=f, limit=10)]
        for q in DATED_QUERIES
        for f in (None, {"kind": "a"})
    ]


@pytest.fixture
def memory_stores(tmp_path: Path, local_embeddings: LocalEmbeddings) -> Iterator[tuple[Any, Any]]:
    """`stores` ranking as memory search does: by date (`timestamp`) and thread too."""
    index = {"embed": local_embeddings, "fields": ["content"]}
    path = str(tmp_path / "m.db")
    with (
        FaissSqliteStore(path, index=index, hybrid=MEMORY_SEARCH) as cached,  # type: ignore[arg-type]
        FaissSqliteStore(path, index=index, hybrid=MEMORY_SEARCH, keyword_cache_bytes=0) as plain,  # type: ignore[arg-type]
    ):
        yield cached, plain


def test_dates_threads_and_expiry_rank_as_the_tables_through_value_edits(
    memory_stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    """The copy holds each item's date, thread and whether it has a TTL; edits that leave
    the keyword text alone (a new timestamp, another thread, a TTL) must reach it, and an
    expired item must drop out, exactly as when SQLite is read."""
    cached, plain = memory_stores
    rng = random.Random(11)
    _put(cached, ALICE, _dated(rng, 200))
    expiring = [PutOp(ALICE, f"x{n}", v, ttl=0.002) for n, (_, v) in enumerate(_dated(rng, 30))]
    cached.batch(expiring)  # in the copy as loaded, expired by the time it is searched
    warm(cached)
    time.sleep(0.3)
    assert dated_ranking(cached) == dated_ranking(plain)
    assert not any(key.startswith("x") for hits in dated_ranking(cached) for key, _ in hits)
    for round_ in range(3):
        writer = cached if round_ % 2 else plain
        items = dict(_dated(random.Random(11), 200))
        edited = []
        for key in rng.sample(sorted(items), 40):
            value = dict(items[key])
            value["timestamp"] = f"2023-05-{rng.choice([8, 14, 20]):02d}T09:00:00"
            value["source"] = {"thread_id": rng.choice(["t1", "t5"])}
            edited.append(PutOp(ALICE, key, value))
        writer.batch(edited)
        assert dated_ranking(cached) == dated_ranking(plain), f"round {round_}"
    # 3 s: both rankings (24 searches) must run before it passes, also on a loaded machine
    # (at 0.12 s the items expired between the two rankings under load).
    short = [PutOp(ALICE, f"e{n}", v, ttl=0.05) for n, (_, v) in enumerate(_dated(rng, 30))]
    cached.batch(short)
    before = dated_ranking(cached)
    assert before == dated_ranking(plain)
    assert any(key.startswith("e") for hits in before for key, _ in hits)
    time.sleep(3.2)  # the TTL passes; nothing sweeps, searches must omit them
    after = dated_ranking(cached)
    assert after == dated_ranking(plain)
    assert not any(key.startswith("e") for hits in after for key, _ in hits)


def test_a_warm_search_reads_no_values_of_its_candidates(
    memory_stores: tuple[FaissSqliteStore, FaissSqliteStore],
) -> None:
    """Failed before the cached values: every hybrid search read each candidate's date and
    thread with `json_extract` (and its admissibility) in SQL."""
    cached, _ = memory_stores
    _put(cached, ALICE, _dated(random.Random(3), 150))
    warm(cached)
    with keyword_statements(cached, re.compile("json_extract|json_type")) as seen:
        for query in DATED_QUERIES:
            assert cached.search(ALICE, query=query, limit=10)
    assert seen == []
