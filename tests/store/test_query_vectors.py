"""`query_vectors`: a search ranks by a vector the caller already has instead of embedding its
query text (both of our back ends); LangGraph's `InMemoryStore` ignores it and embeds."""

from __future__ import annotations

import pytest

from hippograph.store import InvalidValueError, query_vectors
from hippograph.store.query_vectors import takes_query_vectors

NS = ("docs",)
CAT, TEA = "Where does my cat sleep?", "Which tea do I drink?"


@pytest.fixture
def docs(make_store, counting_embeddings):
    store = make_store(embed=counting_embeddings)
    store.put(NS, "cat", {"text": "My cat sleeps on the windowsill all afternoon."})
    store.put(NS, "tea", {"text": "I drink green tea every morning."})
    counting_embeddings.queries.clear()
    counting_embeddings.documents.clear()
    return store


def test_a_given_vector_ranks_the_search_and_the_text_is_not_embedded(
    docs, counting_embeddings, local_embeddings, backend
):
    tea = local_embeddings.embed_query(TEA)
    with query_vectors({CAT: tea}):
        hits = docs.search(NS, query=CAT)
    embedded = counting_embeddings.queries + counting_embeddings.documents
    if takes_query_vectors(docs):
        assert hits[0].key == "tea" and embedded == []
    else:  # LangGraph's store embeds the text, as it always did
        assert backend == "inmemory" and hits[0].key == "cat" and embedded == [CAT]
    assert docs.search(NS, query=CAT)[0].key == "cat"  # nothing was cached under the text


@pytest.mark.parametrize(
    "vector",
    [[float("nan")] * 384, [0.0] * 384, [[0.1] * 384], ["x"] * 384, "text"],
    ids=["nan", "zero", "2d", "strings", "str"],
)
def test_a_malformed_vector_is_refused_before_any_search(vector):
    with (
        pytest.raises(InvalidValueError, match="query vector for 'q'"),
        query_vectors({"q": vector}),
    ):
        pass


def test_a_vector_of_another_size_is_a_clear_error(docs, backend):
    if not takes_query_vectors(docs):
        pytest.skip("LangGraph's store does not read given vectors")
    wrong = pytest.raises(InvalidValueError, match="has 3 dimensions; this store's index has 384")
    with wrong, query_vectors({CAT: [1.0, 0.0, 0.0]}):
        docs.search(NS, query=CAT)


async def test_async_searches_use_the_given_vector(docs, local_embeddings):
    if not takes_query_vectors(docs):
        pytest.skip("LangGraph's store does not read given vectors")
    with query_vectors({CAT: local_embeddings.embed_query(TEA)}):
        hits = await docs.asearch(NS, query=CAT)
    assert hits[0].key == "tea"
