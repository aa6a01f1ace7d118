"""Ingest one dialogue turn into a memory store, the way the agent remembers a chat turn.

`ingest_turn` is the single place where the evaluation writes memories. In verbatim mode it
writes the CONTRACTS.md memory value — content `"<speaker>: <text>"`, `context` = the
previous turn, `timestamp` = when the turn was said, `source.message_ids = [dia_id]` — and
treats a near-duplicate of an existing memory as NOOP, appending the turn's id to that
memory's provenance so no evidence is lost.

When the remember subgraph lands, its body becomes
`build_remember_graph(store=store, model=model).invoke(...)` with the two turns as
`HumanMessage(text, name=speaker, id=dia_id)`, `turn_at`, `thread_id` and `user_id`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.store.base import BaseStore

from hippograph.eval.dataset import Turn
from hippograph.store import Memory, memory_namespace

MAX_CONTEXT_CHARS = 1000
"""Longest `context` stored with a verbatim memory (CONTRACTS.md)."""

DEFAULT_DEDUPE_THRESHOLD = 0.95
"""Search score at or above which a new turn counts as a duplicate of a stored memory."""

Mode = Literal["verbatim", "extract"]


class ExtractModeUnavailableError(RuntimeError):
    """Extract mode needs the remember subgraph of the agent workstream."""


@dataclass(frozen=True, slots=True)
class IngestOp:
    """What ingesting one turn did to the store."""

    op: Literal["ADD", "NOOP"]
    key: str
    content: str


def memory_value(
    previous: Turn | None, turn: Turn, turn_at: datetime, thread_id: str
) -> dict[str, Any]:
    """The verbatim memory value of `turn` (CONTRACTS.md), with `previous` as its context.

    A naive `turn_at` (LoCoMo dates carry no zone) is taken as UTC, as `Memory` does.
    """
    turn_at = turn_at if turn_at.tzinfo else turn_at.replace(tzinfo=UTC)
    source = {"thread_id": thread_id, "message_ids": [turn.dia_id], "turn_at": turn_at.isoformat()}
    value = Memory(content=turn.content, timestamp=turn_at, source=source).to_value()
    if previous is not None:
        value["context"] = previous.content[:MAX_CONTEXT_CHARS]
    return value


def _merge_provenance(
    store: BaseStore, namespace: tuple[str, ...], key: str, value: dict[str, Any], dia_id: str
) -> None:
    source = dict(value.get("source") or {})
    ids = list(source.get("message_ids") or [])
    if dia_id in ids:
        return
    source["message_ids"] = [*ids, dia_id]
    store.put(namespace, key, {**value, "source": source})


def ingest_turn(
    store: BaseStore,
    user_id: str,
    previous: Turn | None,
    turn: Turn,
    turn_at: datetime,
    *,
    thread_id: str,
    mode: Mode = "verbatim",
    dedupe_threshold: float = DEFAULT_DEDUPE_THRESHOLD,
) -> IngestOp:
    """Remember `turn` for `user_id`: ADD a verbatim memory, or NOOP on a near-duplicate.

    Args:
        store: The memory store (any `BaseStore` indexing the memory fields).
        user_id: Whose memories (namespace `memory_namespace(user_id)`).
        previous: The turn just before, stored as the memory's `context` (`None` at the
            start of a session).
        turn: The turn to remember; its `dia_id` becomes the provenance message id.
        turn_at: When the turn was said (the session date): the memory's `timestamp`.
        thread_id: Provenance thread id (the chat the turn belongs to, e.g. one session).
        mode: `"verbatim"` (no LLM) or `"extract"` (needs the remember subgraph).
        dedupe_threshold: Search score at or above which the turn merges into the best match.

    Raises:
        ExtractModeUnavailableError: `mode="extract"` before the agent workstream lands.
    """
    if mode == "extract":
        raise ExtractModeUnavailableError(
            "extract mode goes through the remember subgraph, which requires the agent "
            "workstream (hippograph.graph.build_remember_graph); use --mode verbatim"
        )
    namespace = memory_namespace(user_id)
    value = memory_value(previous, turn, turn_at, thread_id)
    best = store.search(namespace, query=value["content"], limit=1)
    if best and best[0].score is not None and best[0].score >= dedupe_threshold:
        _merge_provenance(store, namespace, best[0].key, best[0].value, turn.dia_id)
        return IngestOp("NOOP", best[0].key, str(best[0].value.get("content", "")))
    key = str(uuid.uuid4())
    store.put(namespace, key, value)
    return IngestOp("ADD", key, value["content"])
