"""BM25 top-k (`ranking.bm25`): exact against brute force while terms fit their champion
lists, close when they do not; SQLite and the in-memory reference agree."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hippograph.store import analysis, fulltext
from hippograph.store.ranking.bm25 import BM25, QueryScorer, score_documents, top_documents
from hippograph.store.ranking.in_memory import InMemoryKeywords
from hippograph.store.schema import migrate

WORDS = ["alpha", "beta", "gamma", "delta", "paris", "painting", "paints", "max", "dog", "tea"]
documents = st.dictionaries(
    st.integers(1, 400),
    st.tuples(
        st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join),
        st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
    ),
    min_size=1,
    max_size=60,
)
params = st.builds(
    BM25,
    k1=st.sampled_from([0.5, 1.2, 2.0]),
    b=st.sampled_from([0.0, 0.4, 0.75, 1.0]),
    weights=st.sampled_from([(1.0, 1.0, 1.0, 1.0), (1.0, 0.5, 1.0, 1.0), (1.0, 0.0, 0.0, 1.0)]),
)


def _brute_force(p: BM25, source: InMemoryKeywords, terms: list[str], ids: list[int]) -> dict:
    """Every document scored from the forward index (no champion list involved)."""
    return score_documents(p, source, terms, ids)


@settings(max_examples=150, deadline=None)
@given(
    docs=documents,
    p=params,
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
    count=st.integers(1, 12),
)
def test_top_documents_is_the_brute_force_top(docs, p, query, count) -> None:
    source = InMemoryKeywords({i: [a, b] for i, (a, b) in docs.items()})
    terms = analysis.query_terms(" ".join(query))
    every = _brute_force(p, source, terms, list(docs))
    top = top_documents(p, source, terms, count, per_term=len(docs))  # every posting a champion
    expected = sorted(every.values(), reverse=True)[:count]
    assert sorted(top.values(), reverse=True) == pytest.approx(expected)
    for doc_id, score in top.items():
        assert score == pytest.approx(every[doc_id])
    allowed = {i for i in docs if i % 2}
    kept = top_documents(p, source, terms, count, allowed=allowed)  # filtered: reads everything
    assert set(kept) <= allowed
    wanted = sorted((v for i, v in every.items() if i in allowed), reverse=True)[:count]
    assert sorted(kept.values(), reverse=True) == pytest.approx(wanted)


@settings(max_examples=40, deadline=None)
@given(docs=documents, p=params, query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))
def test_sqlite_keyword_index_scores_like_the_in_memory_one(docs, p, query) -> None:
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    rows = [(i, "g" if i % 3 else "other", [a, b, "", ""]) for i, (a, b) in docs.items()]
    fulltext.write_rows(conn, rows)
    fulltext.delete_rows(conn, [i for i in docs if i % 5 == 0])
    kept = {i: [a, b] for i, (a, b) in docs.items() if i % 3 and i % 5}
    terms = analysis.query_terms(" ".join(query))
    sqlite = fulltext.SqliteKeywords(conn, ["g"])
    memory = InMemoryKeywords(kept)
    sqlite_scores = top_documents(p, sqlite, terms, 1000)
    memory_scores = top_documents(p, memory, terms, 1000)
    assert sqlite_scores.keys() == memory_scores.keys()
    for doc_id, score in memory_scores.items():
        assert sqlite_scores[doc_id] == pytest.approx(score)
    assert sqlite.champions(terms, 3) == memory.champions(terms, 3)  # same impact order


def test_short_champion_lists_still_find_the_best_documents() -> None:
    """Champion lists bound the reading; the documents they miss are the weakest matches."""
    words = ["alpha", "beta", "gamma", "paris", "dog", "tea", "max", "delta"]
    docs = {}
    for i in range(600):
        text = " ".join(words[(i * k) % len(words)] for k in range(1, 2 + i % 7))
        docs[i] = [f"{text} filler{i % 13}", ""]
    source = InMemoryKeywords(docs)
    query = analysis.query_terms("alpha paris tea")
    exact = top_documents(BM25(), source, query, 20, per_term=10_000)
    bounded = QueryScorer(BM25(), source, query).top(20, per_term=100)
    assert len(set(bounded) & set(exact)) >= 18
    for doc_id, score in bounded.items():
        assert score == pytest.approx(score_documents(BM25(), source, query, [doc_id])[doc_id])
