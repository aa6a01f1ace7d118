"""A provider's embedder behind `CachedEmbeddings`: each text sent once per kind and tenant,
the provider's vectors returned exactly, async twins alike, the provider's name kept."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.embeddings import Embeddings

from hippograph.store import FaissSqliteStore
from hippograph.store.embedding_cache import CachedEmbeddings
from hippograph.store.embedding_scope import embedding_scope, tenant_scope
from hippograph.store.embeddings import cached_embeddings, embedder_name


class Provider(Embeddings):
    """A provider-like embedder: queries and documents embed differently (as with
    instruction-prefixed models), float64 values no float32 can hold; records every request."""

    model = "provider-model-1"

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[str]]] = []

    @staticmethod
    def _vector(kind: str, text: str) -> list[float]:
        return [len(text) / 3, 1.0 if kind == "query" else -1.0, 0.1 + len(text) * 1e-12]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.requests.append(("documents", list(texts)))
        return [self._vector("documents", t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.requests.append(("query", [text]))
        return self._vector("query", text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.requests.append(("adocuments", list(texts)))
        return [self._vector("documents", t) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        self.requests.append(("aquery", [text]))
        return self._vector("query", text)


def test_each_text_is_sent_once_per_kind_and_comes_back_exact() -> None:
    provider = Provider()
    cached = CachedEmbeddings(provider)
    assert cached.embed_documents(["a", "bb", "a"]) == [
        Provider._vector("documents", t) for t in ["a", "bb", "a"]
    ]
    assert cached.embed_documents(["bb", "ccc"]) == [
        Provider._vector("documents", t) for t in ["bb", "ccc"]
    ]
    assert cached.embed_query("a") == Provider._vector("query", "a")  # a query is not a document
    assert cached.embed_query("a") == Provider._vector("query", "a")
    assert provider.requests == [
        ("documents", ["a", "bb"]),
        ("documents", ["ccc"]),
        ("query", ["a"]),
    ]


def test_async_twins_share_the_cache() -> None:
    provider = Provider()
    cached = CachedEmbeddings(provider)
    cached.embed_query("x")

    async def go() -> tuple[list[float], list[list[float]]]:
        return await cached.aembed_query("x"), await cached.aembed_documents(["x", "y"])

    query, documents = asyncio.run(go())
    assert query == Provider._vector("query", "x")
    assert documents == [Provider._vector("documents", t) for t in ["x", "y"]]
    assert provider.requests == [("query", ["x"]), ("adocuments", ["x", "y"])]
    assert cached.embed_documents(["y"]) == [Provider._vector("documents", "y")]
    assert len(provider.requests) == 2


def test_the_oldest_texts_leave_a_full_cache_and_size_zero_keeps_none() -> None:
    provider = Provider()
    cached = CachedEmbeddings(provider, cache_size=2)
    for text in ["a", "b", "c", "c", "a"]:
        cached.embed_query(text)
    assert [texts for _, texts in provider.requests] == [["a"], ["b"], ["c"], ["a"]]
    uncached = CachedEmbeddings(Provider(), cache_size=0)
    uncached.embed_query("a")
    uncached.embed_query("a")
    assert len(uncached.inner.requests) == 2  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="cache_size"):
        CachedEmbeddings(provider, cache_size=-1)


def test_a_provider_returning_too_few_vectors_is_an_error_not_a_short_answer() -> None:
    class Short(Provider):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return super().embed_documents(texts)[:-1]

    with pytest.raises(ValueError, match="returned 1 vectors for 2 texts"):
        CachedEmbeddings(Short()).embed_documents(["a", "b"])


def test_a_returned_vector_changed_by_the_caller_does_not_change_the_cache() -> None:
    cached = CachedEmbeddings(Provider())
    cached.embed_query("a")[0] = 99.0
    assert cached.embed_query("a") == Provider._vector("query", "a")


def test_one_cache_per_embedder_and_the_store_keeps_the_embedder_it_was_given(tmp_path) -> None:
    provider = Provider()
    cached = cached_embeddings(provider)
    assert isinstance(cached, CachedEmbeddings) and cached.inner is provider
    assert cached_embeddings(provider) is cached  # every caller shares it
    assert cached_embeddings(cached) is cached  # never wrapped twice
    assert cached_embeddings(Provider()) is not cached
    # a store made before this cache recorded the provider's name: not a model swap now
    assert embedder_name(cached) == embedder_name(provider) == "Provider:provider-model-1"
    index = {"embed": provider, "dims": 3, "fields": ["content"]}
    with FaissSqliteStore.from_conn_string(str(tmp_path / "m.db"), index=index) as store:
        assert store.embeddings is provider  # LangGraph's contract
        store.put(("memories", "alice"), "k", {"content": "hello"})
        with embedding_scope(tenant_scope(store, ("memories", "alice"))):
            cached.embed_query("hello")  # as alice's turn does before the store searches
        assert store.search(("memories", "alice"), query="hello")[0].key == "k"
        assert store.search(("memories", "bob"), query="hello") == []
    # alice's search came from her cached query; bob's was sent again
    assert provider.requests == [
        ("documents", ["hello"]),
        ("query", ["hello"]),
        ("query", ["hello"]),
    ]


def test_one_tenants_vectors_are_never_anothers() -> None:
    provider = Provider()
    cached = CachedEmbeddings(provider)
    for scope in [("memories", "alice"), ("memories", "bob"), ("memories", "alice")]:
        with embedding_scope(scope):
            cached.embed_documents(["tea with the oncologist"])
            cached.embed_query("who is my doctor")
    assert [kind for kind, _ in provider.requests] == ["documents", "query"] * 2
