"""Issue 15.1: hybrid search on PostgreSQL ranks exactly as on SQLite, per tenant.

The same LoCoMo turns (content, the previous turn as context, the session's date and thread)
go into a `FaissSqliteStore` and a `PostgresMemoryStore`, both opened with the shipped
`MEMORY_SEARCH`, in the same batches (large ones through PostgreSQL's `COPY` path, small
ones through plain statements), then are updated and deleted the same way. Every query must
return the same keys in the same order with the same scores (1e-6) on both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import PutOp

from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.store.ranking import MEMORY_SEARCH
from hippograph.store.ranking.policy import MEMORY_FIELDS

LOCOMO = Path("/work/shared/data/locomo/26.json")
ALICE = ("memories", "alice")
BOB = ("memories", "bob")


def _turns(sessions: range) -> list[tuple[str, dict[str, Any]]]:
    """`(dia_id, memory value)` of LoCoMo conversation 26's turns in `sessions`."""
    data = json.loads(LOCOMO.read_text())
    memories: list[tuple[str, dict[str, Any]]] = []
    for n in sessions:
        when = datetime.strptime(data[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        previous = ""
        for turn in data[f"session_{n}"]:
            value = {
                "content": f"{turn['speaker']}: {turn['text']}",
                "context": previous,
                "timestamp": when.isoformat(),
                "source": {"thread_id": f"session-{n}"},
            }
            memories.append((turn["dia_id"], value))
            previous = turn["text"]
    return memories


def _questions(count: int) -> list[str]:
    data = json.loads(LOCOMO.read_text())
    return [qa["question"] for qa in data["qa"] if qa.get("category") != 5][:count]


QUERIES = [
    *_questions(12),
    "When did Caroline go to the LGBTQ support group?",
    "What did Melanie paint on 8 May 2023?",
    "the the and of",  # stop words only: pure vector ranking
    "adoption agencies",
]


def _fill(store: Any) -> None:
    """The same writes, in the same order, on either backend."""
    alice, bob = _turns(range(1, 4)), _turns(range(4, 6))
    # Alice in one large batch (PostgreSQL: COPY), Bob in small ones (array statements).
    store.batch([PutOp(ALICE, dia, value) for dia, value in alice])
    for start in range(0, len(bob), 10):
        store.batch([PutOp(BOB, dia, value) for dia, value in bob[start : start + 10]])
    # Updates keep an item's identity; deletes and stop-word-only texts change statistics.
    first, value = alice[3]
    store.put(ALICE, first, {**value, "content": value["content"] + " She adopted a puppy."})
    store.delete(ALICE, alice[5][0])
    store.put(ALICE, "empty", {"content": "the and of", "timestamp": alice[0][1]["timestamp"]})
    store.put(ALICE, "unindexed", {"content": "adoption agencies"}, index=False)


def _rankings(store: Any, namespace: tuple[str, ...], **kwargs: Any) -> list[list[Any]]:
    return [
        [(hit.key, hit.score) for hit in store.search(namespace, query=q, limit=10, **kwargs)]
        for q in QUERIES
    ]


@pytest.fixture(scope="module")
def sqlite_store(
    tmp_path_factory: pytest.TempPathFactory, local_embeddings: LocalEmbeddings
) -> Iterator[FaissSqliteStore]:
    index = {"embed": local_embeddings, "fields": list(MEMORY_FIELDS)}
    path = tmp_path_factory.mktemp("hybrid") / "m.db"
    with FaissSqliteStore(str(path), index=index, hybrid=MEMORY_SEARCH) as store:  # type: ignore[arg-type]
        _fill(store)
        yield store


@pytest.fixture(scope="module")
def pg_store(pg_server: Any, local_embeddings: LocalEmbeddings) -> Iterator[Any]:
    from hippograph.store.postgres import PostgresMemoryStore

    index = {"dims": 384, "embed": local_embeddings, "fields": list(MEMORY_FIELDS)}
    store = PostgresMemoryStore.open(
        pg_server.create_database(),
        index=index,  # type: ignore[arg-type]
        hybrid=MEMORY_SEARCH,
    )
    try:
        _fill(store)
        yield store
    finally:
        store.close()


def _assert_same(sqlite: list[list[Any]], postgres: list[list[Any]]) -> None:
    for query, want, got in zip(QUERIES, sqlite, postgres, strict=True):
        assert [k for k, _ in got] == [k for k, _ in want], query
        for (key, a), (_, b) in zip(want, got, strict=True):
            assert b == pytest.approx(a, abs=1e-6), (query, key)


def test_postgres_ranks_exactly_as_sqlite(sqlite_store: Any, pg_store: Any) -> None:
    sqlite, postgres = _rankings(sqlite_store, ALICE), _rankings(pg_store, ALICE)
    _assert_same(sqlite, postgres)
    # The keyword part is really there: vector search alone ranks differently.
    from hippograph.store.postgres import PostgresMemoryStore

    vector_only = PostgresMemoryStore(pg_store.conn, index=pg_store.index_config)
    assert _rankings(vector_only, ALICE) != postgres
    assert pg_store.keyword_fields() == ["content", "context"]


def test_the_same_across_tenants_filters_and_pages(sqlite_store: Any, pg_store: Any) -> None:
    _assert_same(_rankings(sqlite_store, BOB), _rankings(pg_store, BOB))
    # A search spanning both users' groups sums their statistics the same way.
    _assert_same(_rankings(sqlite_store, ("memories",)), _rankings(pg_store, ("memories",)))
    only = {"source": {"thread_id": "session-2"}}
    _assert_same(
        _rankings(sqlite_store, ALICE, filter=only), _rankings(pg_store, ALICE, filter=only)
    )
    _assert_same(_rankings(sqlite_store, ALICE, offset=5), _rankings(pg_store, ALICE, offset=5))


# ---------------------------------------------------------------------- per tenant, any delete

NOTES = [
    "I adopted a golden retriever named Max",
    "My sister lives in Paris and paints",
    "I work with NeoVim every day",
    "We went hiking near Lisbon in May",
    "The support ticket number is QX-4471",
    "Max loves the beach",
]
OTHER = ["Bob paints golden sunsets", "Bob's retriever chews brushes", "ticket for the golden gate"]


def _keyword_state(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every keyword table's rows except document ids (sorted)."""
    queries = {
        "docs": "SELECT prefix, key, grp, len0, len1, len2, len3, terms "
        "FROM hippograph_keyword_docs",
        "postings": "SELECT p.grp, p.term, p.impact, d.key FROM hippograph_keyword_postings p "
        "JOIN hippograph_keyword_docs d ON d.id = p.doc_id",
        "terms": "SELECT grp, term, df FROM hippograph_keyword_terms",
        "groups": "SELECT grp, docs, len0, len1, len2, len3 FROM hippograph_keyword_groups",
    }
    with store._batch_cursor(write=False) as cur:
        return {
            name: sorted(tuple(row.values()) for row in cur.execute(sql).fetchall())
            for name, sql in queries.items()
        }


def _rebuilt_state(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    assert store.verify().ok, store.verify().problems
    store.reindex_keywords()
    return _keyword_state(store)


def test_a_users_scores_ignore_other_users_writes(open_pg: Any) -> None:
    store = open_pg(hybrid=MEMORY_SEARCH)
    for n, text in enumerate(NOTES):
        store.put(ALICE, f"a{n}", {"content": text})
    queries = ["golden retriever", "painting in Paris", "ticket QX-4471", "hiking trip"]

    def ranking() -> list[list[tuple[str, float | None]]]:
        return [[(h.key, h.score) for h in store.search(ALICE, query=q)] for q in queries]

    before = ranking()
    store.batch([PutOp(BOB, f"b{n}", {"content": OTHER[n % 3] + f" #{n}"}) for n in range(200)])
    assert ranking() == before
    # ...whereas Alice's own write does move her statistics.
    store.put(ALICE, "a9", {"content": "golden golden golden"})
    assert ranking() != before


def test_statistics_stay_exact_whoever_deletes(open_pg: Any) -> None:
    """Deletes by our store, by a plain `PostgresStore` client (raw SQL), by the TTL sweep
    and by erasure leave exactly the rows and statistics a rebuild would compute."""
    store = open_pg(hybrid=MEMORY_SEARCH)
    store.batch([PutOp(ALICE, f"a{n}", {"content": t}) for n, t in enumerate(NOTES * 20)])
    store.batch([PutOp(BOB, f"b{n}", {"content": t}) for n, t in enumerate(OTHER)])
    store.put(ALICE, "a1", {"content": "My brother lives in Rome"})  # update
    store.delete(ALICE, "a2")
    store.put(ALICE, "soon", {"content": "an expiring golden note"}, ttl=0.0001)
    with store._batch_cursor(write=True) as cur:
        cur.execute("DELETE FROM store WHERE prefix = 'memories.alice' AND key = 'a3'")
        cur.execute("UPDATE store SET expires_at = now() - interval '1 minute' WHERE key = 'soon'")
    assert store.sweep_ttl() == 1
    assert _keyword_state(store) == _rebuilt_state(store)

    store.purge(BOB, compact=False)
    state = _keyword_state(store)
    assert state == _rebuilt_state(store)
    assert not [row for rows in state.values() for row in rows if "bob" in str(row)]
    assert store.search(BOB, query="golden sunsets") == []


def test_verify_finds_items_a_plain_client_wrote_and_reindex_fixes_them(open_pg: Any) -> None:
    from langgraph.store.postgres import PostgresStore

    store = open_pg(hybrid=MEMORY_SEARCH)
    store.put(ALICE, "a0", {"content": "I adopted a golden retriever named Max"})
    plain = PostgresStore(store.conn, index=store.index_config)
    plain.put(ALICE, "p1", {"content": "Max chews golden slippers"})
    report = store.verify()
    assert not report.ok
    assert any("memories.alice/p1 has no keyword row" in p for p in report.problems)
    with store._batch_cursor(write=True) as cur:
        cur.execute("UPDATE hippograph_keyword_terms SET df = df + 1 WHERE term = 'golden'")
    assert any("'golden'" in p for p in store.verify().problems)
    assert store.reindex_keywords() == 2
    assert store.verify().ok
    assert store.search(ALICE, query="slippers")[0].key == "p1"


def test_explain_gives_the_same_parts_on_both(sqlite_store: Any, pg_store: Any) -> None:
    for query in QUERIES[:6]:
        want = sqlite_store.search(ALICE, query=query, limit=5, explain=True)
        got = pg_store.search(ALICE, query=query, limit=5, explain=True)
        assert [h.key for h in got] == [h.key for h in want]
        for a, b in zip(want, got, strict=True):
            assert set(b.explain) == set(a.explain) >= {"score", "cosine", "bm25", "keyword"}
            for part, value in a.explain.items():
                assert b.explain[part] == pytest.approx(value, abs=1e-6), (query, part)
    assert not hasattr(pg_store.search(ALICE, query="Max", limit=1)[0], "explain")
