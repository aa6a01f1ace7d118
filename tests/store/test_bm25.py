"""BM25 top-k (`ranking.bm25`): exact against brute force, on SQLite and in memory alike."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hippograph.store import analysis, fulltext
from hippograph.store.ranking.bm25 import BM25, score_documents, top_documents
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
    top = top_documents(p, source, terms, count)
    expected = sorted(every.values(), reverse=True)[:count]
    assert sorted(top.values(), reverse=True) == pytest.approx(expected)
    for doc_id, score in top.items():
        assert score == pytest.approx(every[doc_id])
    allowed = {i for i in docs if i % 2}
    kept = top_documents(p, source, terms, count, allowed=allowed)
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
    sqlite_scores = top_documents(p, fulltext.SqliteKeywords(conn, ["g"]), terms, 1000)
    memory_scores = top_documents(p, InMemoryKeywords(kept), terms, 1000)
    assert sqlite_scores.keys() == memory_scores.keys()
    for doc_id, score in memory_scores.items():
        assert sqlite_scores[doc_id] == pytest.approx(score)
