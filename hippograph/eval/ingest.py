"""Ingest dialogue turns into a memory store through the agent's real memory path.

`TurnIngestor` is the single place where the evaluation writes memories: every turn goes
through `build_remember_graph` (extract → reconcile), exactly as a chat turn does. The
turn and the one before it become `HumanMessage(text, name=speaker, id=dia_id)`, so the
memory is `"<speaker>: <text>"` with the previous turn as `context`, the session date
(the run context's `turn_at`) as `timestamp`, the dia_id as provenance and the session
as its thread.

- verbatim mode (`model=None`): the turn is stored as is; a near-duplicate of a stored
  memory is a NOOP that appends the turn's id to that memory's provenance.
- extract mode (a chat model): the model extracts facts and reconciles them (ADD /
  UPDATE / DELETE / NOOP); every memory keeps the dia_id it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langgraph.store.base import BaseStore

from hippograph.eval.dataset import Turn
from hippograph.graph import build_remember_graph
from hippograph.graph.context import Context
from hippograph.store.memory import as_utc

DEFAULT_DEDUPE_THRESHOLD = Context.duplicate_threshold
"""Exact cosine at or above which a verbatim turn merges into a stored memory (the agent's
own default)."""

DEFAULT_ENTITY_LINK_LIMIT = Context.entity_link_limit
"""Entity links at ingest: the agent's own default."""

Mode = Literal["verbatim", "extract"]

INGEST_CONTEXT: dict[str, Any] = {"store_questions": True, "granularity": "message"}
"""The evaluation's own settings (a chat user's defaults differ): every turn is stored,
questions included, as one memory per turn — the verbatim baseline of the benchmark."""


@dataclass(frozen=True, slots=True)
class IngestOp:
    """One change ingesting a turn made to the store (as the remember graph reports it)."""

    op: str
    key: str | None
    content: str


class TurnIngestor:
    """Remembers dialogue turns for users through the remember subgraph.

    Args:
        store: The memory store (any `BaseStore` indexing the memory fields).
        model: The chat model of extract mode; `None` for verbatim mode (no LLM).
        dedupe_threshold: Exact cosine at which a verbatim turn is a duplicate.
        entity_link_limit: `Context.entity_link_limit` (on stores that keep links).

    Example:
        ```python
        ingest = TurnIngestor(store)
        ops = ingest("conv-26", previous, turn, session_at, thread_id="conv-26/session_1")
        ```
    """

    def __init__(
        self,
        store: BaseStore,
        *,
        model: BaseChatModel | None = None,
        dedupe_threshold: float = DEFAULT_DEDUPE_THRESHOLD,
        entity_link_limit: int = DEFAULT_ENTITY_LINK_LIMIT,
    ) -> None:
        self.graph = build_remember_graph(store=store, model=model)
        self.dedupe_threshold = dedupe_threshold
        self.entity_link_limit = entity_link_limit

    def __call__(
        self,
        user_id: str,
        previous: Turn | None,
        turn: Turn,
        turn_at: datetime,
        *,
        thread_id: str,
    ) -> list[IngestOp]:
        """Remember `turn` for `user_id`; returns what the remember graph did.

        Args:
            user_id: Whose memories (namespace `memory_namespace(user_id)`).
            previous: The turn just before (the memory's `context`), `None` at the start
                of a session.
            turn: The turn to remember; its `dia_id` becomes the provenance message id.
            turn_at: When the turn was said (the session date; naive times are UTC).
            thread_id: The chat the turn belongs to (one session), kept as provenance.
        """
        turn_at = as_utc(turn_at)
        messages = [_message(t) for t in (previous, turn) if t is not None]
        out = self.graph.invoke(
            {"messages": messages},
            config={"configurable": {"thread_id": thread_id}},
            context={
                "user_id": user_id,
                "turn_at": turn_at.isoformat(),
                "duplicate_threshold": self.dedupe_threshold,
                "entity_link_limit": self.entity_link_limit,
                **INGEST_CONTEXT,
            },
        )
        ops: list[dict[str, Any]] = out.get("ops") or []
        return [IngestOp(str(op["op"]), op.get("key"), str(op.get("content", ""))) for op in ops]


def _message(turn: Turn) -> HumanMessage:
    return HumanMessage(turn.text, name=turn.speaker, id=turn.dia_id)
