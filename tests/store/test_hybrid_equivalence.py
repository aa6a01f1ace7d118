"""Issue 16: a warm hybrid search (`store/keyword_cache.py`: keyword index, values and the
vector → item map in memory, cosines from the FAISS group) returns exactly what a search
reading the SQLite tables returns — keys, order, scores and every `explain` part — over
random corpora, settings and queries, through new, edited and deleted memories, edits that
swap one of an item's two vectors, expiring memories and sub-namespaces.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp

from hippograph.store import FaissSqliteStore, HybridSearch, LocalEmbeddings
from hippograph.store.ranking.explain import search_explain
from tests.store.test_keyword_cache import keyword_statements, warm

ALICE = ("memories", "alice")
WORK = ("memories", "alice", "work")
BOB = ("memories", "bob")


def _vocabulary(rng: random.Random) -> list[str]:
    """A small random vocabulary, so terms repeat across memories and queries."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 7))) for _ in range(40)}
    return sorted(words)


class _Corpus:
    """Random memories with a date, a thread and two indexed fields (two vectors each)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(self.rng)
        self.values: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}

    def text(self) -> str:
        return " ".join(self.rng.choice(self.words) for _ in range(self.rng.randint(1, 8)))

    def value(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "content": self.text(),
            "context": self.text(),
            "timestamp": f"2023-05-{self.rng.randint(1, 28):02d}T10:00:00",
            "kind": self.rng.choice("ab"),
        }
        if self.rng.random() < 0.8:
            value["source"] = {"thread_id": self.rng.choice(["t1", "t2", "t3", 4, None])}
        return value

    def puts(self, count: int, start: int) -> list[PutOp]:
        ops = []
        for n in range(start, start + count):
            namespace = WORK if self.rng.random() < 0.2 else ALICE
            value = self.value()
            self.values[(namespace, f"m{n}")] = value
            ttl = 60.0 if self.rng.random() < 0.1 else None
            ops.append(PutOp(namespace, f"m{n}", value, ttl=ttl))
        return ops

    def edits(self, count: int) -> list[PutOp]:
        """Edits of existing memories: the context only (one vector swapped, one kept), the
        content, or only the date and thread (no new text)."""
        ops = []
        for namespace, key in self.rng.sample(sorted(self.values), count):
            value = dict(self.values[(namespace, key)])
            kind = self.rng.choice(["context", "content", "values"])
            if kind == "values":
                value["timestamp"] = f"2023-05-{self.rng.randint(1, 28):02d}T09:00:00"
                value["source"] = {"thread_id": self.rng.choice(["t1", "t5"])}
            else:
                value[kind] = self.text()
            self.values[(namespace, key)] = value
            ops.append(PutOp(namespace, key, value))
        return ops

    def deletes(self, count: int) -> list[PutOp]:
        gone = self.rng.sample(sorted(self.values), count)
        for address in gone:
            del self.values[address]
        return [PutOp(namespace, key, None) for namespace, key in gone]

    def queries(self, count: int) -> list[str]:
        found = [self.text() for _ in range(count)]
        found.append(f"{self.text()} on 8 May 2023")
        found.append("zzzz unknown words")
        return found


def _results(store: FaissSqliteStore, queries: list[str]) -> list[Any]:
    """Every query's results with their explain parts: plain, filtered, a later page, and
    under a sub-namespace."""
    found = []
    with search_explain():
        for query in queries:
            for prefix, options in (
                (ALICE, {}),
                (ALICE, {"filter": {"kind": "a"}}),
                (ALICE, {"offset": 4}),
                (WORK, {}),
            ):
                hits = store.search(prefix, query=query, limit=8, **options)
                found.append([(h.key, h.score, getattr(h, "explain", None)) for h in hits])
    return found


class _Remembered(Embeddings):
    """The real embedder, each distinct text embedded once (the tests repeat queries)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.seen: dict[tuple[bool, str], list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if (False, t) not in self.seen]
        for text, vector in zip(missing, self.inner.embed_documents(missing), strict=True):
            self.seen[(False, text)] = vector
        return [self.seen[(False, t)] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        if (True, text) not in self.seen:
            self.seen[(True, text)] = self.inner.embed_query(text)
        return self.seen[(True, text)]


@pytest.fixture
def two_stores(tmp_path: Path, local_embeddings: LocalEmbeddings) -> Iterator[Any]:
    """A factory of two stores on one file with the same settings: the keyword cache on
    and off (off reads the tables: the path before the cache)."""
    opened: list[FaissSqliteStore] = []
    embedder = _Remembered(local_embeddings)

    def make(settings: HybridSearch) -> tuple[FaissSqliteStore, FaissSqliteStore]:
        index = {"embed": embedder, "fields": ["content", "context"]}
        path = str(tmp_path / f"h{len(opened)}.db")
        cached = FaissSqliteStore(path, index=index, hybrid=settings)  # type: ignore[arg-type]
        plain = FaissSqliteStore(path, index=index, hybrid=settings, keyword_cache_bytes=0)  # type: ignore[arg-type]
        opened.extend([cached, plain])
        return cached, plain

    yield make
    for store in opened:
        store.close()


@pytest.mark.parametrize("seed", range(3))
def test_warm_search_equals_the_tables_over_random_corpora(two_stores: Any, seed: int) -> None:
    rng = random.Random(seed)
    settings = HybridSearch(
        fields=("content", "context"),
        alpha=rng.choice([0.3, 0.5, 0.8]),
        candidates=rng.choice([5, 20, 50]),
        k1=rng.choice([0.8, 1.2]),
        time_field="timestamp",
        group_field="source.thread_id",
    )
    cached, plain = two_stores(settings)
    corpus = _Corpus(seed)
    queries = corpus.queries(6)
    cached.batch(corpus.puts(150, 0))
    plain.batch([PutOp(BOB, f"b{n}", corpus.value()) for n in range(30)])
    warm(cached)
    assert _results(cached, queries) == _results(plain, queries)
    for round_ in range(3):
        writer = plain if round_ % 2 else cached  # another store, then this one
        writer.batch(corpus.puts(15, 1000 + 100 * round_))
        writer.batch(corpus.edits(20))
        writer.batch(corpus.deletes(10))
        assert _results(cached, queries) == _results(plain, queries), f"round {round_}"
    short = [PutOp(ALICE, f"e{n}", corpus.value(), ttl=0.002) for n in range(20)]
    cached.batch(short)
    time.sleep(0.3)  # past their TTL, not swept: a search must leave them out
    after = _results(cached, queries)
    assert after == _results(plain, queries)
    assert not any(key.startswith("e") for hits in after for key, _, _ in hits)


def test_a_tenant_cached_while_empty_ranks_its_first_memories(two_stores: Any) -> None:
    """A new user's first search caches an empty copy; the memories stored next must be
    found from it (failed with an IndexError in the vector map: `hippograph chat`'s second
    turn crashed)."""
    cached, plain = two_stores(HybridSearch(time_field="timestamp", group_field="source.thread_id"))
    corpus = _Corpus(5)
    assert cached.search(ALICE, query="anything", limit=5) == []
    warm(cached)
    assert "memories.alice" in cached.keyword_cache_bytes()
    cached.batch(corpus.puts(3, 0))
    queries = corpus.queries(4)
    assert _results(cached, queries) == _results(plain, queries)
    assert any(_results(cached, queries))


def test_a_warm_search_reads_no_vector_rows(two_stores: Any) -> None:
    """Failed before the cached vector map: every hybrid search joined its FAISS hits with
    `vectors` and `items`, and read the blobs of keyword-only candidates."""
    cached, _ = two_stores(HybridSearch(time_field="timestamp", group_field="source.thread_id"))
    corpus = _Corpus(3)
    cached.batch(corpus.puts(150, 0))
    warm(cached)
    with keyword_statements(cached, re.compile(r"\bvectors\b")) as seen:
        for query in corpus.queries(8):
            cached.search(ALICE, query=query, limit=10)
    assert seen == []
