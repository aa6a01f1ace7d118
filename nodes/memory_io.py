"""How the memory nodes touch the store: find the store, search a user's memories.

Core pieces:
    - `require_store`: the run's store, or a clear `NoStoreError`.
    - `Query`: one search text, its weight, and message ids whose memories it should skip.
    - `search_memories`: one batched store round trip for several queries, merged by key
      (best weighted score wins), best first.
    - `NoStoreError`, `UnindexedStoreError`: the two ways a store can be unusable here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore, SearchItem, SearchOp


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
    """

    text: str
    weight: float = 1.0
    skip_ids: frozenset[str] = frozenset()


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


def search_memories(
    store: BaseStore, namespace: tuple[str, ...], queries: Sequence[Query], limit: int
) -> list[tuple[SearchItem, float]]:
    """The memories under `namespace` closest to any of `queries`, best first.

    A memory found by several queries keeps its best weighted score.

    Raises:
        UnindexedStoreError: the store returned results without similarity scores.
    """
    queries = [q for q in queries if q.text.strip()]
    if not queries or limit <= 0:
        return []
    results = store.batch([SearchOp(namespace, query=q.text, limit=limit) for q in queries])
    best: dict[tuple[tuple[str, ...], str], tuple[SearchItem, float]] = {}
    for items, query in zip(results, queries, strict=True):
        assert isinstance(items, list)
        unindexed = getattr(store, "index_config", None) is None
        if items and unindexed and all(getattr(item, "score", None) is None for item in items):
            raise UnindexedStoreError(
                "the store returned no similarity scores: open it with an index "
                "(hippograph.backends.memory_index_config(...))"
            )
        for item in items:
            assert isinstance(item, SearchItem)
            if item.score is None:  # stored unindexed (e.g. a profile): no memory to recall
                continue
            if _sourced_from(item, query.skip_ids):
                continue
            score = float(item.score) * query.weight
            seen = best.get((item.namespace, item.key))
            if seen is None or score > seen[1]:
                best[(item.namespace, item.key)] = (item, score)
    return sorted(best.values(), key=lambda pair: pair[1], reverse=True)[:limit]
