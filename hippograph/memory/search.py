"""How the memory nodes touch the store: find the store, search a user's memories.

Core pieces:
    - `require_store`: the run's store, or a clear `NoStoreError`.
    - `Query`: one search text, its weight, and message ids whose memories it should skip.
    - `search_memories`: one batched store round trip for several queries, merged by key
      (best weighted score wins), best first.
    - `search_each`: one batched round trip, each text's hits kept apart (reconcile), with
      the cosine of each hit when the store can explain its scores.
    - `NoStoreError`, `UnindexedStoreError`: the two ways a store can be unusable here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore, SearchItem, SearchOp

from hippograph.memory.similarity import store_embeddings
from hippograph.store.ranking.explain import search_explain


class NoStoreError(RuntimeError):
    """A memory node ran in a graph compiled without a store."""


class UnindexedStoreError(RuntimeError):
    """The store has no vector index, so memories cannot be searched by meaning."""


class Query(NamedTuple):
    """A search of the user's memories.

    Attributes:
        text: What to search for.
        weight: Multiplies this query's scores before results of several queries merge.
        skip_ids: Memories remembered from any of these messages (`source.message_ids`)
            are not returned by this query.
        parts: The message texts a window query joins (`text` is them joined); its
            vector can be pooled from theirs (`hippograph.memory.window`).
    """

    text: str
    weight: float = 1.0
    skip_ids: frozenset[str] = frozenset()
    parts: tuple[str, ...] = ()


def require_store(runtime: Runtime[Any]) -> BaseStore:
    """The run's long-term store.

    Raises:
        NoStoreError: the graph (and its parent, if any) was compiled without a store.
    """
    if runtime.store is None:
        raise NoStoreError(
            "memory nodes need a store: compile with store=... (build_agent and the "
            "subgraph builders accept one), or run inside a parent graph that has one"
        )
    return runtime.store


def _sourced_from(item: SearchItem, ids: frozenset[str]) -> bool:
    """True if any message `item` was remembered from is in `ids`."""
    source = item.value.get("source")
    found = source.get("message_ids") if isinstance(source, dict) else None
    return bool(ids) and isinstance(found, list) and not ids.isdisjoint(found)


def _scored(store: BaseStore, items: Sequence[object]) -> list[SearchItem]:
    """The search hits that carry a similarity score.

    An item stored without a vector (e.g. a profile dict kept with `index=False` in the
    user's namespace) has none and is no memory to recall: it is skipped. Only a store
    with no vector index at all is an error.

    Raises:
        UnindexedStoreError: no hit has a score and the store has no embedder.
    """
    hits = [item for item in items if isinstance(item, SearchItem)]
    scored = [item for item in hits if item.score is not None]
    if hits and not scored and store_embeddings(store) is None:
        raise UnindexedStoreError(
            "the store returned no similarity scores: open it with an index "
            "(hippograph.backends.memory_index_config(...))"
        )
    return scored


def search_each(
    store: BaseStore, namespace: tuple[str, ...], texts: Sequence[str], limit: int
) -> list[list[tuple[SearchItem, float]]]:
    """The memories under `namespace` closest to each of `texts` (one store batch), best
    first; an empty text finds nothing.

    The searches are explained (`search_explain`), so on our stores each hit carries its
    cosine with the text (`explain["cosine"]`) and `exact_cosines` need not embed the
    memory again; other stores ignore the request.
    """
    wanted = [i for i, text in enumerate(texts) if text.strip()]
    found: list[list[tuple[SearchItem, float]]] = [[] for _ in texts]
    if not wanted or limit <= 0:
        return found
    with search_explain():
        results = store.batch([SearchOp(namespace, query=texts[i], limit=limit) for i in wanted])
    for i, items in zip(wanted, results, strict=True):
        assert isinstance(items, list)
        found[i] = [(item, float(item.score or 0.0)) for item in _scored(store, items)]
    return found


def search_memories(
    store: BaseStore, namespace: tuple[str, ...], queries: Sequence[Query], limit: int
) -> list[tuple[SearchItem, float]]:
    """The memories under `namespace` closest to any of `queries`, best first.

    All queries go in one store batch. A memory found by several queries keeps its best
    weighted score. Items without a score (stored unindexed) are skipped.

    Raises:
        UnindexedStoreError: the store has no vector index.
    """
    queries = [q for q in queries if q.text.strip()]
    if not queries or limit <= 0:
        return []
    results = store.batch([SearchOp(namespace, query=q.text, limit=limit) for q in queries])
    best: dict[tuple[tuple[str, ...], str], tuple[SearchItem, float]] = {}
    for items, query in zip(results, queries, strict=True):
        assert isinstance(items, list)
        for item in _scored(store, items):
            if _sourced_from(item, query.skip_ids):
                continue
            score = float(item.score or 0.0) * query.weight
            seen = best.get((item.namespace, item.key))
            if seen is None or score > seen[1]:
                best[(item.namespace, item.key)] = (item, score)
    return sorted(best.values(), key=lambda pair: pair[1], reverse=True)[:limit]
