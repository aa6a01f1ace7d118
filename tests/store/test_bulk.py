"""Bulk loading: `bulk_put` leaves exactly what `batch` would, durably, chunk by chunk."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore

from hippograph.store import (
    FaissSqliteStore,
    InvalidValueError,
    LocalEmbeddings,
    fulltext,
    provenance,
)
from hippograph.store.bulk import BulkItem, BulkReport, bulk_put
from hippograph.store.ranking import HybridSearch

NS = ("memories", "alice")
TOPICS = ["chess", "hiking", "python", "gardening", "jazz", "cooking", "astronomy", "sailing"]


def memory(i: int) -> dict[str, Any]:
    return {
        "content": f"Note {i}: I spent the afternoon on {TOPICS[i % len(TOPICS)]} ({i * 37 % 101})",
        "category": "personal",
        "importance": round((i % 10) / 10, 1),
    }


def dump(db: str) -> dict[str, Any]:
    """What a store holds, without ids or times: items, vectors, history, keyword index."""
    conn = sqlite3.connect(db)
    try:
        return {
            "items": sorted(conn.execute("SELECT prefix, key, value FROM items")),
            "vectors": sorted(
                conn.execute(
                    "SELECT i.prefix, i.key, v.field, v.text_hash, v.blob FROM vectors v "
                    "JOIN items i ON i.id = v.item_id"
                )
            ),
            "history": sorted(
                conn.execute("SELECT prefix, key, op, old, new, source FROM history")
            ),
            "keyword_docs": sorted(
                conn.execute(
                    "SELECT i.key, d.grp, d.len0, d.len1, d.len2, d.len3, d.terms "
                    "FROM keyword_docs d JOIN items i ON i.id = d.item_id"
                )
            ),
            "keyword_postings": sorted(
                conn.execute(
                    "SELECT p.grp, p.term, p.impact, i.key FROM keyword_postings p "
                    "JOIN items i ON i.id = p.item_id"
                )
            ),
            "keyword_terms": sorted(conn.execute("SELECT grp, term, df FROM keyword_terms")),
            "keyword_groups": sorted(conn.execute("SELECT * FROM keyword_groups")),
        }
    finally:
        conn.close()


@pytest.fixture
def vectors(local_embeddings: LocalEmbeddings) -> np.ndarray:
    """The real embeddings of `memory(i)["content"]` for i < 300."""
    texts = [memory(i)["content"] for i in range(300)]
    return np.asarray(local_embeddings.embed_documents(texts), dtype=np.float32)


def test_a_bulk_load_leaves_exactly_what_batch_puts_would(
    open_store: Any, tmp_path: Path, vectors: np.ndarray
) -> None:
    # Half the items bring their vectors (pre-embedded), half are embedded by the store.
    items = [
        BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]} if i % 2 else None)
        for i in range(300)
    ]
    # Hybrid: the keyword index is written in the same chunk transactions.
    loaded = open_store(path=str(tmp_path / "bulk.db"), hybrid=True)
    report = loaded.bulk_put(items, chunk_size=64)
    assert (report.items, report.chunks, report.embedded) == (300, 5, 150)
    batched = open_store(path=str(tmp_path / "batch.db"), hybrid=True)
    batched.batch([PutOp(NS, f"m{i}", memory(i)) for i in range(300)])

    held = dump(loaded.path)
    assert len(held["keyword_docs"]) == 300 and held["keyword_terms"]
    assert held == dump(batched.path)
    for query in ("board games", "stars and planets", "boats"):
        assert [h.key for h in loaded.search(NS, query=query, limit=10)] == [
            h.key for h in batched.search(NS, query=query, limit=10)
        ]
    assert loaded.verify().ok
    loaded.close()
    with FaissSqliteStore(loaded.path, index={"embed": vectors_embedder(vectors)}) as reopened:
        assert reopened.count(NS) == 300 and reopened.verify().ok


def vectors_embedder(vectors: np.ndarray) -> Any:
    """An embedder that must never be called (the file holds every vector)."""
    from langchain_core.embeddings import Embeddings

    class Refuses(Embeddings):
        dims = vectors.shape[1]

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise AssertionError(f"re-embedded {len(texts)} texts")

        def embed_query(self, text: str) -> list[float]:
            raise AssertionError("embedded a query")

    return Refuses()


def test_given_vectors_are_used_as_given_and_never_embedded_again(
    open_store: Any, vectors: np.ndarray
) -> None:
    store = open_store(embed=vectors_embedder(vectors))
    store.bulk_put(
        [
            BulkItem(NS, "unit", memory(0), {"content": vectors[0]}),
            BulkItem(NS, "long", memory(1), {"content": (vectors[1] * 3).tolist()}),
        ]
    )
    conn = sqlite3.connect(store.path)
    blobs = dict(
        conn.execute("SELECT i.key, v.blob FROM vectors v JOIN items i ON i.id = v.item_id")
    )
    conn.close()
    assert np.allclose(np.frombuffer(blobs["unit"], np.float32), vectors[0], atol=1e-6)
    assert np.allclose(np.frombuffer(blobs["long"], np.float32), vectors[1], atol=1e-6)


def test_upserts_keep_unchanged_vectors_and_record_updates_with_provenance(
    open_store: Any, vectors: np.ndarray
) -> None:
    store = open_store()
    store.bulk_put([BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]}) for i in range(10)])
    conn = sqlite3.connect(store.path)
    vector_ids = "SELECT i.key, v.id FROM vectors v JOIN items i ON i.id = v.item_id"
    before = dict(conn.execute(vector_ids))
    changed = {**memory(3), "content": memory(200)["content"]}
    with provenance({"tool": "import", "file": "x.jsonl"}):
        store.bulk_put(
            [
                BulkItem(NS, "m2", {**memory(2), "importance": 0.99}),  # same text
                BulkItem(NS, "m3", changed, {"content": vectors[200]}),
                BulkItem(NS, "m3", {**changed, "category": "work"}, {"content": vectors[200]}),
            ]
        )
    after = dict(conn.execute(vector_ids))
    rows = conn.execute(
        "SELECT key, op, new, source FROM history WHERE op = 'UPDATE' ORDER BY id"
    ).fetchall()
    conn.close()
    assert after["m2"] == before["m2"] and after["m3"] != before["m3"]
    assert [(key, op) for key, op, _, _ in rows] == [("m2", "UPDATE"), ("m3", "UPDATE")]
    assert '"work"' in rows[1][2]  # the last put of a repeated key wins
    assert all(source == '{"tool": "import", "file": "x.jsonl"}' for *_, source in rows)
    assert store.get(NS, "m3").value["category"] == "work"  # type: ignore[union-attr]
    assert store.search(NS, query=memory(200)["content"], limit=1)[0].key == "m3"


def test_a_bad_item_stops_the_load_at_its_chunk_and_says_which_it_is(
    open_store: Any, vectors: np.ndarray
) -> None:
    store = open_store()
    items = [BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]}) for i in range(25)]
    items[17] = BulkItem(NS, "bad", {"content": "x", "score": float("nan")})
    with pytest.raises(InvalidValueError, match=r"bulk item 17 \(key 'bad'\): .*NaN") as caught:
        store.bulk_put(items, chunk_size=10)
    assert "the 10 items before this one's chunk were written" in "".join(caught.value.__notes__)
    assert store.count(NS) == 10 and store.verify().ok


@pytest.mark.parametrize(
    ("vectors_of", "message"),
    [
        ({"contnet": [0.1] * 384}, "vectors given for 'contnet'"),
        ({"content": [0.1] * 12}, "12 dimensions"),
        ({"content": [0.0] * 384}, "zero values"),
        ({"content": [float("inf")] * 384}, "infinite"),
    ],
)
def test_bad_vectors_are_refused_and_nothing_is_written(
    open_store: Any, vectors_of: dict[str, Any], message: str
) -> None:
    store = open_store()
    with pytest.raises(InvalidValueError, match=message):
        store.bulk_put([BulkItem(NS, "a", memory(0)), BulkItem(NS, "b", memory(1), vectors_of)])
    assert store.count(NS) == 0


def test_other_writers_take_turns_between_chunks(open_store: Any, vectors: np.ndarray) -> None:
    store = open_store()
    seen: list[int] = []

    def meanwhile(written: int) -> None:
        if not seen:  # another writer, between two chunks of the load
            store.put(("memories", "bob"), "b1", {"content": "Bob's note about tea"})
        seen.append(written)

    items = (BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]}) for i in range(300))
    store.bulk_put(items, chunk_size=50, on_progress=meanwhile)
    assert seen == [50, 100, 150, 200, 250, 300]
    conn = sqlite3.connect(store.path)
    keys = [key for (key,) in conn.execute("SELECT key FROM history ORDER BY id")]
    conn.close()
    assert 50 <= keys.index("b1") < 300  # committed while the load was under way


def test_keyword_fields_added_during_a_load_reach_every_chunk(
    open_store: Any, tmp_path: Path, vectors: np.ndarray
) -> None:
    """Chunks are analysed for the keyword index before they are written; when another
    process adds a keyword field meanwhile, the chunks already analysed are indexed under
    the database's fields as they are at the write, as `batch` would."""
    store = open_store(path=str(tmp_path / "bulk.db"), hybrid=True)
    wider = HybridSearch(fields=("content", "category"))

    def meanwhile(written: int) -> None:
        if written == 50:  # another store asks for one more field between two chunks
            open_store(path=store.path, hybrid=wider).close()

    items = (BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]}) for i in range(300))
    store.bulk_put(items, chunk_size=50, on_progress=meanwhile)
    assert store.keyword_fields() == ["content", "category"]
    batched = open_store(path=str(tmp_path / "batch.db"), hybrid=wider)
    batched.batch([PutOp(NS, f"m{i}", memory(i)) for i in range(300)])
    assert dump(store.path) == dump(batched.path)
    assert store.verify().ok


def test_the_helper_loads_any_store_and_the_async_twin_works(
    local_embeddings: LocalEmbeddings, open_store: Any, vectors: np.ndarray
) -> None:
    memory_store = InMemoryStore(
        index={"dims": 384, "embed": local_embeddings, "fields": ["content"]}
    )
    items = [BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]}) for i in range(20)]
    report = bulk_put(memory_store, items, chunk_size=8)
    assert isinstance(report, BulkReport) and (report.items, report.chunks) == (20, 3)
    assert len(memory_store.search(NS, limit=50)) == 20
    store = open_store()
    report = asyncio.run(store.abulk_put(items))
    assert report.items == 20 and store.count(NS) == 20
    with pytest.raises(InvalidValueError, match="value None"):
        store.bulk_put([PutOp(NS, "m1", None)])


def test_a_load_inside_history_paused_writes_no_history(
    open_store: Any, vectors: np.ndarray
) -> None:
    from hippograph.store.history import history_paused

    store = open_store()
    with history_paused():  # e.g. a migration, which copies the source's own history
        store.bulk_put(
            [BulkItem(NS, f"m{i}", memory(i), {"content": vectors[i]}) for i in range(5)]
        )
    assert store.count(NS) == 5 and store.history(NS) == []


AWKWARD = [
    "Café au lait, naïve façade — 東京で寿司 😀",
    "line one\nline two\u2028separator\ttab",
    'quotes "double" and \\ backslash, NUL \x00 inside',
    "",
    "x" * 5000,
]


def awkward(i: int) -> tuple[tuple[str, ...], dict[str, Any], list[str] | None, float | None]:
    """Item `i` of a load that touches every way a row is written: two tenants, odd text
    (a NUL, separators, emoji), an empty and a missing indexed field, a per-put index list,
    a TTL, and keys loaded twice."""
    ns = ("memories", "alice" if i % 3 else "bob")
    value: dict[str, Any] = {"content": f"{AWKWARD[i % len(AWKWARD)]} {memory(i)['content']}"}
    if i % 7 == 0:
        value = {"notes": ["sailing at dawn", f"note {i}"], "kind": "list"}
    index = ["notes[*]", "content"] if i % 7 == 0 else None
    return ns, value, index, (30.0 if i % 11 == 0 else None)


def test_bulk_and_one_put_at_a_time_store_the_same_rows_scores_and_statistics(
    open_store: Any, tmp_path: Path
) -> None:
    """What `bulk_put` writes (many rows per statement) equals what a put per item writes:
    every table, TTLs, every search's keys and scores, on both tenants."""
    order = [*range(120), *range(0, 100, 9)]  # keys loaded again in a later chunk: updates
    puts = []
    for n, i in enumerate(order):
        ns, value, index, ttl = awkward(i)
        puts.append(PutOp(ns, f"m{i}", {**value, "round": n}, index=index, ttl=ttl))
    bulk = open_store(path=str(tmp_path / "bulk.db"), hybrid=True)
    bulk.bulk_put(puts, chunk_size=50)
    single = open_store(path=str(tmp_path / "put.db"), hybrid=True)
    for op in puts:
        single.put(op.namespace, op.key, op.value, index=op.index, ttl=op.ttl)

    held = dump(bulk.path)
    assert held == dump(single.path)
    assert len(held["items"]) == 120 and held["keyword_terms"] and held["keyword_groups"]
    assert any("\\u0000" in value for _, _, value in held["items"])  # a NUL, escaped
    last = {op.key: op for op in puts}
    assert all(bulk.get(op.namespace, key).value == op.value for key, op in last.items())

    def ttl_rows(path: str) -> list[Any]:
        with sqlite3.connect(path) as conn:
            return sorted(conn.execute("SELECT key, ttl_minutes FROM items"))

    assert ttl_rows(bulk.path) == ttl_rows(single.path)
    for ns in (("memories", "alice"), ("memories", "bob")):
        for query in ("sushi in Tokyo", "sailing", "backslash quotes", "chess afternoon"):
            hits = [
                [(h.key, h.score) for h in store.search(ns, query=query, limit=15)]
                for store in (bulk, single)
            ]
            assert hits[0] == hits[1] and hits[0]
    assert bulk.verify().ok and single.verify().ok


@pytest.mark.parametrize(
    "keyword_fields",
    [None, ("content", "category"), ("category", "content")],
    ids=["the-vector-fields", "one-more", "another-order"],
)
def test_keyword_rows_are_what_a_rebuild_from_the_values_writes(
    open_store: Any, tmp_path: Path, keyword_fields: tuple[str, ...] | None
) -> None:
    """Keyword rows laid out from the texts a put was embedded from equal the rows the index
    is rebuilt with from the stored values, whether the keyword fields are the vector fields,
    more of them, or the same in another order (slots follow the keyword fields)."""
    hybrid = True if keyword_fields is None else HybridSearch(fields=keyword_fields)
    store = open_store(path=str(tmp_path / "bulk.db"), hybrid=hybrid)
    puts = []
    for i in [*range(60), *range(0, 60, 7)]:
        ns, value, _, ttl = awkward(i)  # (a rebuild knows no per-put index lists)
        puts.append(PutOp(ns, f"m{i}", {**value, "category": f"cat {i % 4}"}, ttl=ttl))
    store.bulk_put(puts[:40], chunk_size=15)
    store.batch(puts[40:])
    loaded = dump(store.path)
    assert loaded["keyword_docs"] and loaded["keyword_postings"]
    with store._conns.write() as conn:
        fulltext.rebuild(conn, fulltext.recorded_fields(conn) or [], store._group_of_prefix)
    assert dump(store.path) == loaded
