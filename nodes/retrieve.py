"""retrieve: find the user's memories relevant to the latest turn (no LLM call).

On stores that keep links, the best matches may bring the memories they link to (see
`Context.expand_links`); those carry `via` in `recalled`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from hippograph.memory import decay
from hippograph.memory.context import Context, memory_context
from hippograph.memory.prefetch import run_prefetched
from hippograph.memory.search import Query, require_store, search_memories
from hippograph.memory.state import RecalledMemory, State
from hippograph.memory.turn import last_human_index, message_text
from hippograph.memory.window import window_vectors
from hippograph.store import memory_namespace
from hippograph.store.embedding_scope import embedding_scope, tenant_scope
from hippograph.store.links import LinkExpansion, link_expansion
from hippograph.store.query_vectors import query_vectors

RERANK_POOL = 3
"""With recency or importance weighting on, this many times `k` candidates are re-ranked."""

WINDOW_WEIGHT = 0.9
"""Scores from the window query count slightly less than those of the latest message."""


def recall_queries(messages: list[AnyMessage], window: int) -> list[Query]:
    """The latest user message, and — when there are earlier user turns — the last `window`
    of them joined with it, as a second query.

    The second query lets a follow-up ("and her birthday?") match what the conversation
    is about. Its `parts` are the earlier messages it joins: on our stores its vector is
    pooled from theirs and the latest one's (`hippograph.memory.window`), not embedded.
    It skips memories that came from the turns it quotes (they are in the conversation
    already, and would otherwise be recalled again and again), and assistant messages are
    left out for the same reason: they quote recalled memories.
    """
    index = last_human_index(messages)
    if index is None:
        return []
    latest = Query(message_text(messages[index]))
    earlier = [m for m in messages[:index] if isinstance(m, HumanMessage)]
    recent = [m for m in earlier[-window:] if message_text(m)] if window else []
    if not recent:
        return [latest]
    parts = tuple(message_text(m) for m in recent)
    quoted = frozenset(m.id for m in recent if m.id)
    return [latest, Query("\n".join([*parts, latest.text]), WINDOW_WEIGHT, quoted, parts)]


def expansion_scope(store: BaseStore, wanted: bool | None) -> AbstractContextManager[None]:
    """Where retrieve's searches run: the store's own link expansion (`None`), none
    (`False`), or the store's — else the default `LinkExpansion` — (`True`)."""
    if wanted is None:
        return nullcontext()
    if not wanted:
        return link_expansion(None)
    return link_expansion(getattr(store, "expand_links", None) or LinkExpansion())


def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search the user's memories with the latest turn; returns `recalled`, best first.

    Scores are clamped to [0, 1] (a fused score may overshoot 1 by float error). Items in
    the namespace stored without a vector are not memories to recall and are skipped.
    On stores that take query vectors, the turn's messages are embedded here (only those
    the thread's `recent_vectors` lack) and kept in `recent_vectors` for the next turn; the
    latest message's vector may have been started with the run (`PrefetchedVector` in the
    run's config, `hippograph.memory.prefetch`).
    """
    context = memory_context(runtime)
    queries = recall_queries(state.get("messages") or [], context.recall_window)
    weighted = context.recency_half_life_days is not None or bool(context.importance_weight)
    store = require_store(runtime)
    namespace = memory_namespace(context.user_id)
    with embedding_scope(tenant_scope(store, namespace)):  # the user's own cached vectors
        vectors, recent = window_vectors(
            store, queries, state.get("recent_vectors"), context.recall_window, run_prefetched()
        )
        with expansion_scope(store, context.expand_links), query_vectors(vectors):
            found = search_memories(
                store, namespace, queries, context.k * RERANK_POOL if weighted else context.k
            )
    found = [(item, score) for item, score in found if score >= context.min_score]
    found = decay.weigh(
        found,
        now=decay.as_moment(context.turn_at, datetime.now(UTC)),
        half_life_days=context.recency_half_life_days,
        importance_weight=context.importance_weight,
    )[: context.k]
    recalled = []
    for item, score in found:
        memory = RecalledMemory(
            key=item.key,
            content=str(item.value.get("content", "")),
            score=round(min(1.0, max(0.0, score)), 4),
            category=str(item.value.get("category", "other")),
            importance=float(item.value.get("importance", 0.5)),
            timestamp=str(item.value.get("timestamp", item.created_at.isoformat())),
        )
        via = getattr(item, "via", None)
        if isinstance(via, dict):
            memory["via"] = dict(via)
        recalled.append(memory)
    if recent is None:
        return {"recalled": recalled}
    return {"recalled": recalled, "recent_vectors": recent}
