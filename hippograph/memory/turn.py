"""The turn being processed: which message it is, its text, its time and its provenance.

Core pieces:
    - `Turn`: the last user message of the state, its speaker-prefixed text, the message
      before it, when it was said and where it came from (thread id, message ids).
    - `current_turn`: build a `Turn` from the state and the run config.
    - `message_text`: a message's text, prefixed `"<name>: "` when the message has a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage
from langgraph.config import get_config

CONTEXT_CHARS = 1000
"""Longest `context` (the message before a verbatim turn) kept with a memory."""


def message_text(message: BaseMessage) -> str:
    """The message's text, prefixed with `"<name>: "` when it has a speaker name."""
    text = message.text.strip()
    return f"{message.name}: {text}" if message.name else text


def _thread_id() -> str | None:
    try:
        configurable = get_config().get("configurable") or {}
    except RuntimeError:  # called outside a runnable context
        return None
    thread_id = configurable.get("thread_id")
    return None if thread_id is None else str(thread_id)


@dataclass(frozen=True, slots=True)
class Turn:
    """The latest user turn of a conversation.

    Attributes:
        message: The last `HumanMessage` in the state.
        text: Its text, speaker-prefixed (`"Caroline: I went to…"`).
        previous: The text of the message just before it, speaker-prefixed, or `None`
            (shown to the extract model, whoever said it).
        previous_is_human: Whether a person said `previous` (another speaker of a
            conversation), not the assistant.
        at: When it was said (ISO-8601): the run context's `turn_at`, else now.
        thread_id: The conversation thread, from the run config.
    """

    message: HumanMessage
    text: str
    previous: str | None
    at: str
    thread_id: str | None
    previous_is_human: bool = False

    @property
    def context(self) -> str | None:
        """What a verbatim memory of this turn keeps as its `context`: the message before
        it when a person said it (the other side of a conversation), never the assistant's
        reply — that reply quotes recalled memories, and keyword search over it would make
        memories match each other's words."""
        return self.previous if self.previous_is_human else None

    @property
    def message_ids(self) -> list[str]:
        """Ids of the messages this turn's memories come from."""
        return [self.message.id] if self.message.id else []

    @property
    def source(self) -> dict[str, Any]:
        """Provenance for memories written from this turn."""
        return {"thread_id": self.thread_id, "message_ids": self.message_ids, "turn_at": self.at}


def last_human_index(messages: Sequence[AnyMessage]) -> int | None:
    """Index of the last `HumanMessage`, or `None`."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return None


def current_turn(state: dict[str, Any] | Any, turn_at: str | None = None) -> Turn | None:
    """The latest user turn in `state` (`None` when there is no user message), said at
    `turn_at` (the run context's; default: now)."""
    messages: list[AnyMessage] = list(state.get("messages") or [])
    index = last_human_index(messages)
    if index is None:
        return None
    message = messages[index]
    assert isinstance(message, HumanMessage)
    before = messages[index - 1] if index > 0 else None
    previous = message_text(before)[:CONTEXT_CHARS] if before is not None else None
    at = turn_at or datetime.now(UTC).isoformat()
    return Turn(
        message,
        message_text(message),
        previous or None,
        at,
        _thread_id(),
        previous_is_human=isinstance(before, HumanMessage),
    )
