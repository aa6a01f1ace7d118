"""Hybrid search in `FaissSqliteStore`: the per-tenant keyword index beside the vectors, and
fused ranking."""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hippograph.store import FaissSqliteStore, HybridSearch, LocalEmbeddings, analysis
from hippograph.store.schema import SCHEMA_VERSION

NS = ("memories", "alice")

NOTES = {
    "editor": "I work with NeoVim every day",
    "food": "I love Italian food, especially carbonara",
    "sister": "My sister lives in Paris",
    "pet": "We adopted a golden retriever named Max",
    "car": "My car is a blue hatchback",
    "ticket": "The support ticket number is QX-4471",
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "hybrid.db")


@pytest.fixture
def open_store(db: str, local_embeddings: LocalEmbeddings) -> Iterator[Any]:
    opened: list[FaissSqliteStore] = []

    def factory(fields: list[str] | None = None, **kwargs: Any) -> FaissSqliteStore:
        index = {"embed": local_embeddings, "fields": fields or ["content"]}
        kwargs.setdefault("hybrid", True)  # a plain store is vector-only (LangGraph's scores)
        store = FaissSqliteStore(db, index=index, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def load(store: FaissSqliteStore, ns: tuple[str, ...] = NS) -> None:
    for key, text in NOTES.items():
        store.put(ns, key, {"content": text, "kind": "note"})


def fulltext_rows(db: str) -> int:
    """Items in the keyword index."""
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM keyword_docs").fetchone()[0])


def reference_bm25(query: str, documents: dict[str, str]) -> tuple[dict[str, float], float]:
    """Okapi BM25 (k1 1.2, b 0.75, probabilistic IDF) of `documents` alone, by brute force,
    and the most any document could score (every query term, saturated)."""
    terms = {key: analysis.terms(text) for key, text in documents.items()}
    mean = sum(len(t) for t in terms.values()) / len(terms)
    scores: dict[str, float] = {}
    attainable = 0.0
    for word in analysis.query_terms(query):
        df = sum(word in t for t in terms.values())
        idf = math.log(1 + (len(terms) - df + 0.5) / (df + 0.5))
        attainable += idf * 2.2
        if not df:
            continue
        for key, found in terms.items():
            tf = Counter(found)[word]
            if tf:
                norm = 1.2 * (1 - 0.75 + 0.75 * len(found) / mean)
                scores[key] = scores.get(key, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores, attainable


def test_keyword_only_match_is_found_and_scores_are_ordered(open_store: Any) -> None:
    store = open_store()
    load(store)
    hits = store.search(NS, query="QX-4471", limit=6)
    assert hits[0].key == "ticket"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s is not None and -1.0 <= s <= 1.0 for s in scores)
    assert store.search(NS, query=NOTES["sister"], limit=1)[0].key == "sister"


def test_fused_score_is_cosine_plus_bm25_share(
    open_store: Any, db: str, local_embeddings: LocalEmbeddings
) -> None:
    store = open_store()
    load(store)
    query = "golden retriever puppy"
    hits = store.search(NS, query=query, limit=len(NOTES))
    q = np.asarray(local_embeddings.embed_query(query))
    bm25, attainable = reference_bm25(query, NOTES)
    assert hits[0].key == "pet" and set(bm25) == {"pet"}
    for hit in hits:
        cosine = float(q @ np.asarray(local_embeddings.embed_query(NOTES[hit.key])))
        expected = 0.5 * cosine + 0.5 * bm25.get(hit.key, 0.0) / attainable
        assert hit.score == pytest.approx(expected, abs=1e-4)


def test_hybrid_off_is_pure_vector_search(open_store: Any, tmp_path: Path) -> None:
    store = open_store(hybrid=None)
    load(store)
    assert store.hybrid is None and store.fulltext_fields is None
    hits = store.search(NS, query="What tools do I use?", limit=2)
    assert hits[0].key == "editor"
    assert fulltext_rows(store.path) == 0
    store.put(NS, "editor", {"content": "I switched to Emacs"})
    assert fulltext_rows(store.path) == 0


def test_deletes_and_updates_keep_the_fulltext_index_exact(open_store: Any, db: str) -> None:
    store = open_store()
    load(store)
    assert fulltext_rows(db) == len(NOTES)
    store.put(NS, "ticket", {"content": "The ticket was closed"})
    assert "ticket" not in [h.key for h in store.search(NS, query="QX-4471", limit=6)[:1]]
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM keyword_postings WHERE term = 'qx'"
        ).fetchone() == (0,)
    store.delete(NS, "ticket")
    store.put(NS, "car", {"content": "unindexed now"}, index=False)
    assert fulltext_rows(db) == len(NOTES) - 2
    keys = [h.key for h in store.search(NS, query="ticket closed", limit=10)]
    assert "ticket" not in keys
    assert keys[-1] == "car"  # unindexed items follow, unscored


def test_namespaces_are_isolated_and_filters_apply(open_store: Any) -> None:
    store = open_store()
    load(store)
    store.put(("memories", "bob"), "secret", {"content": "Bob's ticket QX-4471 is private"})
    store.put(("memories", "alicia"), "other", {"content": "QX-4471 QX-4471"})
    hits = store.search(NS, query="QX-4471", limit=10)
    assert {h.namespace for h in hits} == {NS}
    store.put(NS, "draft", {"content": "ticket QX-4471 draft", "kind": "draft"})
    filtered = store.search(NS, query="QX-4471", filter={"kind": "note"}, limit=10)
    assert "draft" not in [h.key for h in filtered]
    assert filtered[0].key == "ticket"
    page = store.search(NS, query="QX-4471", limit=2, offset=1)
    assert [h.key for h in page] == [h.key for h in store.search(NS, query="QX-4471")][1:3]


def test_the_keyword_index_persists_and_every_store_keeps_it_current(
    open_store: Any, db: str
) -> None:
    store = open_store()
    load(store)
    store.close()
    reopened = open_store()
    assert reopened.search(NS, query="QX-4471", limit=1)[0].key == "ticket"
    reopened.close()
    plain = open_store(hybrid=False)
    plain.put(NS, "late", {"content": "Written while hybrid search was off: ZEBRA-99"})
    plain.put(NS, "ticket", {"content": "ticket closed"})
    assert plain.verify().ok
    plain.close()
    assert fulltext_rows(db) == len(NOTES) + 1  # kept current, not dropped
    again = open_store()
    assert again.search(NS, query="ZEBRA-99", limit=1)[0].key == "late"
    assert "ticket" not in [h.key for h in again.search(NS, query="QX-4471", limit=1)]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 4


def test_opening_without_an_index_destroys_no_derived_data(
    open_store: Any, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13.3: a store opened with another configuration never wipes the keyword index
    that a running hybrid store searches."""
    store = open_store()
    load(store)
    before = store.search(NS, query="QX-4471 golden retriever", limit=6)
    for other in (
        FaissSqliteStore(db),  # no index at all
        FaissSqliteStore(db, hybrid=True),  # "hybrid" asked for, but nothing to embed
        FaissSqliteStore(db, index=store.index_config, hybrid=None),  # pure vector search
    ):
        assert other.get(NS, "ticket") is not None
        other.close()
        after = store.search(NS, query="QX-4471 golden retriever", limit=6)
        assert [(h.key, h.score) for h in after] == [(h.key, h.score) for h in before]
    with caplog.at_level("INFO"):
        again = open_store()
    assert "keyword index" not in caplog.text  # nothing had to be rebuilt
    assert again.verify().ok


def test_a_store_asking_for_more_fields_adds_them_and_drops_none(open_store: Any, db: str) -> None:
    store = open_store()
    load(store)
    store.put(NS, "kyoto", {"content": "Definitely Kyoto!", "context": "best pottery city?"})
    assert store.keyword_fields() == ["content"]
    store.close()
    wider = open_store(hybrid=HybridSearch(fields=("content", "context")))
    assert wider.keyword_fields() == ["content", "context"]
    wide = {h.key: h.score for h in wider.search(NS, query="pottery", limit=10)}
    assert max(wide, key=lambda k: wide[k] or 0.0) == "kyoto"
    wider.close()
    narrow = open_store()  # searches content only: context is weighted 0, not dropped
    assert narrow.keyword_fields() == ["content", "context"]
    kept = {h.key: h.score for h in narrow.search(NS, query="pottery", limit=10)}
    assert (kept["kyoto"] or 0.0) < (wide["kyoto"] or 0.0) - 0.1  # no keyword part
    assert narrow.verify().ok


def test_separate_fulltext_fields_weights_and_dates(open_store: Any) -> None:
    hybrid = HybridSearch(
        fields=("content", "context"), field_weights={"context": 0.5}, time_field="timestamp"
    )
    store = open_store(hybrid=hybrid)
    store.put(
        NS, "q", {"content": "Which city is best for pottery classes?", "timestamp": "2023-01-02"}
    )
    store.put(
        NS,
        "a",
        {
            "content": "Definitely Kyoto!",
            "context": "Which city is best for pottery classes?",
            "timestamp": "2023-01-02",
        },
    )
    assert store.search(NS, query="pottery classes city", limit=2)[1].key == "a"
    store.put(NS, "may", {"content": "We went hiking", "timestamp": "2023-05-20T10:00:00"})
    store.put(NS, "june", {"content": "We went hiking", "timestamp": "2023-06-20T10:00:00"})
    top = store.search(NS, query="Where did we go hiking on 20 June, 2023?", limit=1)
    assert top[0].key == "june"
    top = store.search(NS, query="Where did we go hiking in May 2023?", limit=1)
    assert top[0].key == "may"


def test_threads_that_match_well_lift_their_members(open_store: Any) -> None:
    store = open_store(hybrid=HybridSearch(group_field="source.thread_id"))
    trip = {"thread_id": "trip"}
    store.put(NS, "plan", {"content": "We planned a trip to Lisbon", "source": trip})
    store.put(NS, "tram", {"content": "The old yellow tram 28 in Lisbon", "source": trip})
    store.put(NS, "food", {"content": "Pasteis de nata were delicious", "source": trip})
    store.put(NS, "bakery", {"content": "A bakery opened near work", "source": {"thread_id": "x"}})
    query = "Lisbon trip pastries"
    grouped = {h.key: h.score or 0.0 for h in store.search(NS, query=query, limit=4)}
    store.hybrid = HybridSearch()  # same index, no thread lift
    alone = {h.key: h.score or 0.0 for h in store.search(NS, query=query, limit=4)}
    assert grouped["food"] > alone["food"]  # its thread holds the two best matches
    assert grouped["plan"] >= alone["plan"]  # a lift never lowers a score
    assert grouped["bakery"] == pytest.approx(alone["bakery"])  # its thread is the weaker


def test_in_a_one_thread_chat_nothing_is_lifted(open_store: Any) -> None:
    """Issue 13.6: with every memory in one thread, the thread says nothing about relevance."""
    store = open_store(hybrid=HybridSearch(group_field="source.thread_id"))
    chat = {"thread_id": "only"}
    for key, text in NOTES.items():
        store.put(NS, key, {"content": text, "source": chat})
    grouped = {h.key: h.score for h in store.search(NS, query="golden retriever", limit=6)}
    store.hybrid = HybridSearch()
    alone = {h.key: h.score for h in store.search(NS, query="golden retriever", limit=6)}
    assert grouped == pytest.approx(alone)


def test_ttl_and_odd_queries(open_store: Any, db: str) -> None:
    store = open_store(ttl={"default_ttl": 1.0})
    store.put(NS, "brief", {"content": "temporary code WOMBAT-7"}, ttl=0.0001)
    store.put(NS, "kept", {"content": "kept note"})
    time.sleep(0.05)
    assert [h.key for h in store.search(NS, query="WOMBAT-7")] == ["kept"]
    assert store.sweep_ttl() == 1
    assert fulltext_rows(db) == 1
    for query in ('"unbalanced', "a AND OR NOT", "NEAR(x y)", "col:value*", "the of and", "^"):
        assert [h.key for h in store.search(NS, query=query)] == ["kept"]


def test_query_terms_are_stemmed_and_stop_words_dropped() -> None:
    assert analysis.query_terms("What is Caroline's dog's name?") == ["carolin", "dog", "name"]
    assert analysis.query_terms("the of and") == []
    assert len(analysis.query_terms(" ".join(f"w{i}" for i in range(500)))) == 64
    assert analysis.query_terms('say "hi" AND bye') == ["sai", "hi", "bye"]  # Porter
    assert analysis.terms("Painting paints, CAFÉ") == ["paint", "paint", "cafe"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("0123456789", min_size=1, max_size=25), min_size=1, max_size=5))
def test_numbers_are_their_own_terms_without_the_stemmer(numbers: list[str]) -> None:
    """Digit-only words skip the stemmer and its cache (a bulk load of ids and years
    would churn it), with the terms the stemmer gives them."""
    stemmer = analysis._stemmer()
    assert all(stemmer.stemWord(n) == n for n in numbers)
    misses = analysis._word_terms.cache_info().misses
    text = " ".join(f"{n}, ({n})" for n in numbers)
    assert analysis.terms(f"doc {text}") == ["doc"] + [n for n in numbers for _ in (1, 2)]
    assert analysis.query_terms(text) == list(dict.fromkeys(numbers))
    assert analysis._word_terms.cache_info().misses <= misses + 1  # "doc" at most
    assert analysis.terms("1990's ³ ٣") == ["1990", "3", "٣"]  # not ASCII digits: stemmed


def test_explain_gives_each_results_parts(open_store: Any) -> None:
    """Issue 17: `explain=True` says why a memory ranked; plain search is unchanged."""
    hybrid = HybridSearch(time_field="timestamp", group_field="source.thread_id")
    store = open_store(hybrid=hybrid)
    for n, (key, text) in enumerate(NOTES.items()):
        value = {"content": text, "timestamp": f"2023-05-0{n + 1}"}
        store.put(NS, key, {**value, "source": {"thread_id": "a" if n % 2 else "b"}})
    query = "ticket QX-4471 from May 2023"
    plain = store.search(NS, query=query, limit=3)
    explained = store.search(NS, query=query, limit=3, explain=True)
    assert [(h.key, h.score) for h in explained] == [(h.key, h.score) for h in plain]
    assert not hasattr(plain[0], "explain")
    top = explained[0]
    assert top.key == "ticket"
    parts = top.explain
    assert set(parts) >= {"score", "cosine", "bm25", "keyword", "date", "thread"}
    text = 0.5 * parts["cosine"] + 0.5 * parts["keyword"]
    dated = text * (1 - 0.3 * (1 - parts["date"]))
    assert parts["score"] == pytest.approx(dated + parts["thread"])
    assert top.dict()["explain"] == parts
    vector = open_store(hybrid=None).search(NS, query=query, limit=1, explain=True)[0]
    assert vector.explain == {"score": vector.score, "cosine": vector.score}
