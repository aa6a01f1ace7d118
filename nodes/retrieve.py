"""retrieve: find the user's memories relevant to the latest turn (no LLM call)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AnyMessage
from langgraph.runtime import Runtime

from hippograph.nodes.context import Context, memory_context
from hippograph.nodes.memory_io import require_store, search_memories
from hippograph.nodes.state import RecalledMemory, State
from hippograph.nodes.turn import last_human_index, message_text
from hippograph.store import memory_namespace


def recall_queries(messages: list[AnyMessage], window: int) -> list[str]:
    """The latest user message, plus it with the `window` messages before it as a second query.

    The second query lets a follow-up ("and her birthday?") match memories about what the
    conversation was already about.
    """
    index = last_human_index(messages)
    if index is None:
        return []
    latest = message_text(messages[index])
    recent = [message_text(m) for m in messages[max(0, index - window) : index]]
    recent = [text for text in recent if text]
    return [latest, "\n".join([*recent, latest])] if recent else [latest]


def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search the user's memories with the latest turn; returns `recalled`, best first."""
    context = memory_context(runtime)
    queries = recall_queries(state.get("messages") or [], context.recall_window)
    found = search_memories(
        require_store(runtime), memory_namespace(context.user_id), queries, context.k
    )
    recalled = [
        RecalledMemory(
            key=item.key,
            content=str(item.value.get("content", "")),
            score=round(score, 4),
            category=str(item.value.get("category", "other")),
            importance=float(item.value.get("importance", 0.5)),
            timestamp=str(item.value.get("timestamp", item.created_at.isoformat())),
        )
        for item, score in found
        if score >= context.min_score
    ]
    return {"recalled": recalled}
