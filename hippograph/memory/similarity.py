"""Exact cosine similarity between a text and stored memories, for decisions that change data.

A store's search `score` is its own ranking score: plain cosine for LangGraph's stores, a
fusion of cosine and BM25 for `FaissSqliteStore` with hybrid search. That is right for
ranking but wrong for thresholds that decide whether to skip a write ("is this a
duplicate?") or to delete ("is this what the user asked to forget?"): a keyword match can
lift an unrelated memory past them. Those decisions re-score the few search hits with the
store's own embedder, so they mean the same on every backend.

The cosine of a hit is already known when the search that found it was explained
(`hippograph.store.ranking.explain`): its `cosine` part is the query's cosine with the
memory's stored vector. That is the same number when the store embeds a memory's `content`
alone, with an embedder that embeds queries and documents alike (`LocalEmbeddings`); then
the memory's text is not run through the model again (`search_each` asks for explained
hits). Otherwise the text is embedded.

Core pieces:
    - `exact_cosines` / `exact_cosine`: `(item, cosine)` for search hits, best first (all
      texts of a turn embedded in one call, through the process's cache of the
      embedder that the store's writes share; known cosines reused).
    - `text_similarity`: the cosine of two texts.
    - `store_embeddings`: the store's embedder, if it exposes one.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, SearchItem

from hippograph.store.embedding_scope import embedding_scope, scope_for, tenant_scope
from hippograph.store.embeddings import LocalEmbeddings, cached_embeddings


def store_embeddings(store: BaseStore) -> Embeddings | None:
    """The embedder `store` indexes with (`FaissSqliteStore`, `InMemoryStore` and
    `PostgresStore` all keep it as `.embeddings`), or `None`."""
    embedder = getattr(store, "embeddings", None)
    return embedder if isinstance(embedder, Embeddings) else None


def stored_cosines_exact(store: BaseStore) -> bool:
    """Whether a search's `cosine` part on `store` is the exact cosine `exact_cosines` would
    compute: the store embeds each memory's `content` and nothing else, and its embedder
    embeds a query as it embeds a document (the local MiniLM; other embedders may not)."""
    config = getattr(store, "index_config", None)
    fields = config.get("fields") if isinstance(config, dict) else None
    return fields == ["content"] and isinstance(store_embeddings(store), LocalEmbeddings)


def _known_cosine(item: SearchItem) -> float | None:
    """The cosine an explained search reported for `item`; `None` when it reported none (a
    result reached through a link) or 0.0, which a hybrid search also reports for a
    keyword match stored without a vector."""
    explain = getattr(item, "explain", None)
    cosine = explain.get("cosine") if isinstance(explain, dict) else None
    return float(cosine) if isinstance(cosine, int | float) and cosine != 0.0 else None


def _scope(store: BaseStore, hits: Sequence[SearchItem]) -> Hashable:
    """Whose texts are compared (`scope_for`): the caller's scope, else the one tenant the
    hits belong to, else a scope of its own."""
    return scope_for(tenant_scope(store, item.namespace) for item in hits)


def _unit_vectors(embedder: Embeddings, texts: Sequence[str], scope: Hashable) -> list[np.ndarray]:
    """Each text's unit vector, embedded as a document in `scope`, through the process's
    cache of the embedder (`cached_embeddings`), which the store's writes share."""
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return []
    with embedding_scope(scope):
        embedded = cached_embeddings(embedder).embed_documents(distinct)
    vectors = {}
    for text, raw in zip(distinct, embedded, strict=True):
        vector = np.asarray(raw, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        vectors[text] = vector / norm if norm > 0 else vector
    return [vectors[text] for text in texts]


def exact_cosines(
    store: BaseStore, requests: Sequence[tuple[str, Sequence[tuple[SearchItem, float]]]]
) -> list[list[tuple[SearchItem, float]]]:
    """For each `(text, hits)`: the hits re-scored by the cosine between `text` and each
    memory's `content`, best first. A cosine an explained search already reported is used
    when it is the same number (`stored_cosines_exact`); every other text not cached yet is
    embedded, all in one call.

    Falls back to the hits' own scores when the store exposes no embedder.
    """
    embedder = store_embeddings(store)
    if embedder is None:
        return [list(hits) for _, hits in requests]
    reuse = stored_cosines_exact(store)
    known = [[_known_cosine(item) if reuse else None for item, _ in hits] for _, hits in requests]
    texts = [
        t
        for (text, hits), cosines in zip(requests, known, strict=True)
        if None in cosines
        for t in (text, *(c for c, k in zip(_contents(hits), cosines, strict=True) if k is None))
    ]
    scope = _scope(store, [item for _, hits in requests for item, _ in hits])
    vectors = dict(zip(texts, _unit_vectors(embedder, texts, scope), strict=True))
    scored_all = []
    for (text, hits), cosines in zip(requests, known, strict=True):
        query = vectors.get(text)
        scored = [
            (item, cosine if cosine is not None else _dot(query, vectors[content]))
            for (item, _), content, cosine in zip(hits, _contents(hits), cosines, strict=True)
        ]
        scored_all.append(sorted(scored, key=lambda pair: pair[1], reverse=True))
    return scored_all


def exact_cosine(
    store: BaseStore, text: str, hits: Sequence[tuple[SearchItem, float]]
) -> list[tuple[SearchItem, float]]:
    """`hits` re-scored by the cosine between `text` and each memory's `content`, best first."""
    return exact_cosines(store, [(text, hits)])[0]


def text_similarity(store: BaseStore, a: str, b: str) -> float | None:
    """Exact cosine of two texts with the store's embedder (`None` without one)."""
    embedder = store_embeddings(store)
    if embedder is None:
        return None
    first, second = _unit_vectors(embedder, [a, b], _scope(store, []))
    return _dot(first, second)


def _contents(hits: Sequence[tuple[SearchItem, float]]) -> list[str]:
    return [str(item.value.get("content", "")) for item, _ in hits]


def _dot(a: np.ndarray | None, b: np.ndarray) -> float:
    return float(np.dot(a, b)) if a is not None and a.shape == b.shape else 0.0
