"""The `BaseStore` contract, run unchanged against every backend in `BACKENDS`.

LangGraph's `InMemoryStore` is the oracle: a case that fails only for our store is a bug in
our store; a case that fails for the oracle is a bug in the test.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import BaseStore, GetOp, InvalidNamespaceError, PutOp, SearchOp

from hippograph.store import FaissSqliteStore, LocalEmbeddings
from tests.store.conftest import StoreFactory

NS = ("memories", "alice")


def keys(results: list[Any]) -> list[str]:
    return [r.key for r in results]


# ----------------------------------------------------------------- CRUD


def test_put_get_update_delete(store: BaseStore) -> None:
    assert store.get(NS, "k1") is None
    store.put(NS, "k1", {"text": "I work with NeoVim", "n": 1, "tags": ["a", "b"]})
    item = store.get(NS, "k1")
    assert item is not None
    assert item.value == {"text": "I work with NeoVim", "n": 1, "tags": ["a", "b"]}
    assert item.namespace == NS
    assert item.key == "k1"
    assert item.created_at.tzinfo is not None
    first_created = item.created_at

    time.sleep(0.002)
    store.put(NS, "k1", {"text": "I work with Emacs"})
    updated = store.get(NS, "k1")
    assert updated is not None
    assert updated.value == {"text": "I work with Emacs"}
    assert updated.updated_at > first_created

    store.delete(NS, "k1")
    assert store.get(NS, "k1") is None
    store.delete(NS, "never-existed")  # deleting a missing key is a no-op


def test_namespaces_are_isolated(store: BaseStore) -> None:
    store.put(("memories", "alice"), "k", {"text": "alice's secret"})
    store.put(("memories", "alicia"), "k", {"text": "alicia's note"})
    store.put(("memories", "alice", "work"), "k2", {"text": "deeper"})
    assert store.get(("memories", "bob"), "k") is None
    assert keys(store.search(("memories", "alicia"))) == ["k"]
    found = store.search(("memories", "alice"), query="secret")
    assert sorted(keys(found)) == ["k", "k2"]
    assert all(r.namespace[:2] == ("memories", "alice") for r in found)


def test_batch_mixes_ops_and_dedupes_puts(store: BaseStore) -> None:
    results = store.batch(
        [
            PutOp(NS, "a", {"text": "first"}),
            PutOp(NS, "b", {"text": "bee"}),
            PutOp(NS, "a", {"text": "second"}),
            GetOp(NS, "a"),
        ]
    )
    assert results[:3] == [None, None, None]
    after = store.get(NS, "a")
    assert after is not None and after.value == {"text": "second"}
    assert store.get(NS, "b") is not None


# ----------------------------------------------------------------- semantic search


MEMORIES = {
    "editor": "I work with NeoVim",
    "food": "I love Italian food, especially carbonara",
    "sister": "My sister lives in Paris",
    "pet": "We adopted a golden retriever named Max",
}


def _load(store: BaseStore, ns: tuple[str, ...] = NS) -> None:
    for key, text in MEMORIES.items():
        store.put(ns, key, {"text": text})


def test_search_ranks_by_meaning(store: BaseStore) -> None:
    _load(store)
    results = store.search(NS, query="What tools do I use?", limit=4)
    assert results[0].key == "editor"
    assert results[0].score is not None
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert store.search(NS, query="dog")[0].key == "pet"
    assert store.search(NS, query="which city is my sibling in")[0].key == "sister"


def test_query_scores_are_the_cosine_similarity(
    store: BaseStore, local_embeddings: LocalEmbeddings
) -> None:
    """A plain store scores `search(query=...)` by cosine, as every LangGraph store does
    (hybrid ranking is explicit configuration: `hippograph.backends.open_store`)."""
    texts = {"k1": "I work with NeoVim", "k2": "My sister lives in Paris", "k3": "Tea at five"}
    for key, text in texts.items():
        store.put(NS, key, {"text": text})
    query = "Which editor do I use?"
    vectors = np.asarray(local_embeddings.embed_documents([query, *texts.values()]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = dict(zip(texts, (vectors[1:] @ vectors[0]).tolist(), strict=True))
    hits = store.search(NS, query=query, limit=10)
    assert {hit.key: hit.score for hit in hits} == pytest.approx(expected, abs=1e-4)


def test_hybrid_ranking_is_explicit_configuration(tmp_path: Path) -> None:
    """The plain store is vector-only; the agent's memory store turns hybrid ranking on."""
    from hippograph.backends import MEMORY_SEARCH, open_store

    with FaissSqliteStore(str(tmp_path / "plain.db"), index={"embed": "local"}) as plain:
        assert plain.hybrid is None
    with open_store(tmp_path / "memories.db") as memory:
        assert isinstance(memory, FaissSqliteStore) and memory.hybrid is MEMORY_SEARCH


def test_updated_content_is_searched_by_its_new_text(store: BaseStore) -> None:
    _load(store)
    store.put(NS, "editor", {"text": "I bake sourdough bread every weekend"})
    top = store.search(NS, query="baking bread", limit=1)
    assert keys(top) == ["editor"]
    editor_score = next(
        r.score for r in store.search(NS, query="text editor", limit=4) if r.key == "editor"
    )
    assert editor_score is not None and editor_score < 0.3


def test_deleted_item_is_gone_from_search(store: BaseStore) -> None:
    _load(store)
    store.delete(NS, "editor")
    results = store.search(NS, query="What tools do I use?", limit=10)
    assert "editor" not in keys(results)
    assert len(results) == 3


def test_index_false_items_are_stored_but_not_scored(store: BaseStore) -> None:
    _load(store)
    store.put(NS, "hidden", {"text": "I work with NeoVim too"}, index=False)
    assert store.get(NS, "hidden") is not None
    top = store.search(NS, query="NeoVim editor", limit=4)
    assert "hidden" not in keys(top)
    everything = store.search(NS, query="NeoVim editor", limit=10)
    assert everything[-1].key == "hidden"
    assert everything[-1].score is None


def test_index_fields_override_and_json_paths(make_store: StoreFactory) -> None:
    store = make_store(fields=["title"])
    store.put(NS, "doc", {"title": "gardening tips", "body": "quantum chromodynamics"})
    store.put(NS, "other", {"title": "car maintenance", "body": "roses and tulips"})
    assert store.search(NS, query="flowers in the garden", limit=1)[0].key == "doc"
    store.put(
        NS,
        "nested",
        {"meta": {"title": "cooking pasta"}, "chapters": [{"t": "volcanoes"}, {"t": "sushi"}]},
        index=["meta.title", "chapters[*].t"],
    )
    assert store.search(NS, query="erupting lava mountain", limit=1)[0].key == "nested"
    assert store.search(NS, query="raw fish rice", limit=1)[0].key == "nested"


def test_max_pooling_over_multiple_vectors(make_store: StoreFactory) -> None:
    store = make_store(fields=["notes[*]"])
    store.put(NS, "multi", {"notes": ["I play the violin", "I climb mountains on weekends"]})
    store.put(NS, "single", {"notes": ["I collect stamps"]})
    results = store.search(NS, query="rock climbing", limit=2)
    assert keys(results) == ["multi", "single"]
    assert len({r.key for r in store.search(NS, query="music", limit=10)}) == 2


def test_search_with_filters(store: BaseStore) -> None:
    docs = {
        "d1": {"text": "red apple", "color": "red", "score": 4.5},
        "d2": {"text": "red car", "color": "red", "score": 3.0},
        "d3": {"text": "green apple", "color": "green", "score": 4.0},
        "d4": {"text": "blue car", "color": "blue", "score": 3.5},
    }
    for key, value in docs.items():
        store.put(("test",), key, value)
    assert keys(store.search(("test",), query="apple", filter={"color": "red"})) == ["d1", "d2"]
    assert keys(store.search(("test",), query="car", filter={"color": "red"})) == ["d2", "d1"]
    assert sorted(keys(store.search(("test",), filter={"score": {"$gt": 3.2}}))) == [
        "d1",
        "d3",
        "d4",
    ]
    assert keys(
        store.search(("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"})
    ) == ["d3"]
    assert sorted(keys(store.search(("test",), filter={"score": {"$lt": 3.5}}))) == ["d2"]
    assert sorted(keys(store.search(("test",), filter={"score": {"$lte": 3.5}}))) == ["d2", "d4"]
    assert sorted(keys(store.search(("test",), filter={"color": {"$ne": "red"}}))) == ["d3", "d4"]
    assert sorted(keys(store.search(("test",), filter={"color": {"$eq": "blue"}}))) == ["d4"]
    assert store.search(("test",), filter={"color": "purple"}) == []


def test_comparisons_order_numbers_as_numbers(store: BaseStore) -> None:
    for n in (2, 9, 10, 100):
        store.put(("t",), f"n{n}", {"text": f"item {n}", "n": n})
    assert sorted(keys(store.search(("t",), filter={"n": {"$gt": 9}}))) == ["n10", "n100"]
    assert sorted(keys(store.search(("t",), filter={"n": {"$lt": 10}}))) == ["n2", "n9"]


def test_nested_and_list_filters(store: BaseStore) -> None:
    store.put(("t",), "a", {"text": "x", "meta": {"lang": "en", "level": 2}, "tags": ["p", "q"]})
    store.put(("t",), "b", {"text": "y", "meta": {"lang": "fr", "level": 5}, "tags": ["p"]})
    store.put(("t",), "c", {"text": "z"})
    assert keys(store.search(("t",), filter={"meta": {"lang": "en"}})) == ["a"]
    assert keys(store.search(("t",), filter={"meta": {"level": {"$gt": 3}}})) == ["b"]
    assert keys(store.search(("t",), filter={"tags": ["p", "q"]})) == ["a"]
    assert keys(store.search(("t",), filter={"tags": ["p"]})) == ["b"]
    assert sorted(keys(store.search(("t",), filter={"meta": {"lang": {"$ne": "en"}}}))) == ["b"]


def test_filter_only_pagination(store: BaseStore) -> None:
    for i in range(12):
        store.put(NS, f"k{i:02d}", {"text": f"note {i}", "i": i})
    seen: list[str] = []
    for offset in range(0, 12, 5):
        page = store.search(NS, limit=5, offset=offset)
        seen.extend(keys(page))
    assert sorted(seen) == [f"k{i:02d}" for i in range(12)]
    assert store.search(NS, limit=5, offset=12) == []


def test_vector_pagination_is_a_consistent_ranking(store: BaseStore) -> None:
    for i in range(9):
        store.put(NS, f"doc{i}", {"text": f"test document number {i} about topic {i % 3}"})
    full = keys(store.search(NS, query="test document", limit=9))
    assert len(full) == 9
    pages = [keys(store.search(NS, query="test document", limit=4, offset=o)) for o in (0, 4, 8)]
    assert [key for page in pages for key in page] == full


def test_query_edge_cases(store: BaseStore) -> None:
    store.put(NS, "doc1", {"text": "test document"})
    assert len(store.search(NS, query="")) == 1
    assert len(store.search(NS, query=None)) == 1
    assert len(store.search(NS, query="test " * 300)) == 1
    assert len(store.search(NS, query="test!@#$%^&*()'; DROP TABLE items; --")) == 1
    assert store.search(("nobody", "here"), query="test") == []


def test_unindexed_store_searches_by_filter(make_store: StoreFactory) -> None:
    store = make_store(index=False)
    store.put(NS, "a", {"text": "hello", "kind": "x"})
    results = store.search(NS, query="hello", filter={"kind": "x"})
    assert keys(results) == ["a"]
    assert results[0].score is None


# ----------------------------------------------------------------- namespaces


LIST_NAMESPACES = [
    ("a", "b", "c"),
    ("a", "b", "d", "e"),
    ("a", "b", "d", "i"),
    ("a", "b", "f"),
    ("a", "c", "f"),
    ("b", "a", "f"),
    ("users", "123"),
    ("users", "456", "settings"),
    ("admin", "users", "789"),
]


def test_list_namespaces(store: BaseStore) -> None:
    for i, ns in enumerate(LIST_NAMESPACES):
        store.put(ns, f"id{i}", {"text": f"v{i}"})
    assert store.list_namespaces(prefix=("a", "b")) == [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(suffix=("f",)) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("a",), suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(prefix=("a", "b"), limit=2) == [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
    ]
    assert store.list_namespaces(prefix=("a", "b"), offset=2) == [
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(suffix=("*", "f")) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("users", "*")) == [
        ("users", "123"),
        ("users", "456", "settings"),
    ]
    assert store.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == []
    assert store.list_namespaces(prefix=("nonexistent",)) == []
    assert store.list_namespaces(prefix=("users", "123")) == [("users", "123")]
    assert store.list_namespaces(max_depth=1) == [("a",), ("admin",), ("b",), ("users",)]
    assert len(store.list_namespaces()) == len(LIST_NAMESPACES)


def test_list_namespaces_prefix_is_label_aware(store: BaseStore) -> None:
    store.put(("foo",), "k", {"text": "x"})
    store.put(("foobar",), "k", {"text": "y"})
    store.put(("fo_", "x"), "k", {"text": "z"})
    assert store.list_namespaces(prefix=("foo",)) == [("foo",)]
    assert store.list_namespaces(prefix=("fo_",)) == [("fo_", "x")]
    assert keys(store.search(("foo",))) == ["k"]


def test_list_namespaces_pagination(store: BaseStore) -> None:
    for i in range(20):
        store.put(("namespace", f"sub_{i:02d}"), "k", {"text": str(i)})
    assert store.list_namespaces(prefix=("namespace",), limit=5, offset=15) == [
        ("namespace", f"sub_{i:02d}") for i in range(15, 20)
    ]


INVALID = [("foo.bar",), ("foo", ""), (123,), ("a\x00b",)]


@pytest.mark.parametrize("namespace", INVALID)
def test_invalid_namespaces_are_rejected(store: BaseStore, namespace: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(namespace, "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.get(namespace, "k")
    with pytest.raises(InvalidNamespaceError):
        store.search(namespace)
    with pytest.raises(InvalidNamespaceError):
        store.list_namespaces(prefix=namespace)
    assert store.list_namespaces() == []


def test_reserved_and_empty_namespaces(store: BaseStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put((), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph", "x"), "k", {"text": "x"})
    store.put(("foo", "langgraph"), "k", {"text": "x"})  # only the root label is reserved
    store.batch([PutOp(("langgraph", "internal"), "k", {"text": "x"})])  # batch is internal
    assert store.get(("langgraph", "internal"), "k") is not None


# ----------------------------------------------------------------- async twins


async def test_async_methods_match_sync(store: BaseStore) -> None:
    await store.aput(NS, "editor", {"text": "I work with NeoVim"})
    await store.aput(NS, "food", {"text": "I love pizza"})
    item = await store.aget(NS, "editor")
    assert item is not None and item.value["text"] == "I work with NeoVim"
    results = await store.asearch(NS, query="What tools do I use?")
    assert results[0].key == "editor"
    assert await store.alist_namespaces() == [NS]
    await store.adelete(NS, "editor")
    assert await store.aget(NS, "editor") is None
    many = await asyncio.gather(
        *(store.aput(NS, f"c{i}", {"text": f"fact {i}"}) for i in range(10))
    )
    assert many == [None] * 10
    assert len(await store.asearch(NS, limit=20)) == 11


async def test_abatch_search_ops(store: BaseStore) -> None:
    _load(store)
    results = await store.abatch(
        [SearchOp(NS, query="dog", limit=1), SearchOp(NS, filter={"text": "I work with NeoVim"})]
    )
    assert keys(results[0]) == ["pet"]  # type: ignore[arg-type]
    assert keys(results[1]) == ["editor"]  # type: ignore[arg-type]
