"""The seed's two-call API, as thin wrappers over the graph.

Core pieces:
    - `answer_with_memory(question, user_id)`: one full agent turn — recall, answer,
      remember — returning the answer with what was recalled and changed.
    - `process_message(message, user_id)`: remember one message (extract + reconcile) and
      return the memory operations.

Both open the configured store (or use `store=`) for the call. For a conversation, build
the agent once with `build_agent` / `open_agent` instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore

from hippograph.backends import open_checkpointer, open_store
from hippograph.config import Settings
from hippograph.graph import build_agent, build_remember_graph
from hippograph.graph.state import MemoryOp, RecalledMemory
from hippograph.memory.chat_models import ModelSpec, resolve_chat_model
from hippograph.turns import CHAT_DURABILITY


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to a question, with the memories it used, the changes the turn made, and
    what its memory steps could not do (`warnings`: the answer is kept either way)."""

    text: str
    recalled: list[RecalledMemory] = field(default_factory=list)
    ops: list[MemoryOp] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text


@contextmanager
def _store(store: BaseStore | None, settings: Settings) -> Iterator[BaseStore]:
    if store is not None:
        yield store
    else:
        with open_store(settings=settings) as opened:
            yield opened


def answer_with_memory(
    question: str,
    user_id: str,
    *,
    thread_id: str | None = None,
    model: ModelSpec = None,
    store: BaseStore | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer `question` for `user_id` with their memories, and remember what it says.

    The turn is checkpointed once, when it ends (`CHAT_DURABILITY`, as `hippograph chat`
    does): a continued thread holds whole turns.

    Args:
        question: The user's message.
        user_id: Whose memories to use and update.
        thread_id: Continue this checkpointed conversation; omitted, the turn stands alone.
        model: Chat model or spec (default: `HIPPOGRAPH_MODEL`; unset = offline).
        store: Memory store (default: the configured one, opened for this call).
        settings: Where defaults come from (default: the environment).
    """
    settings = settings or Settings.from_env()
    with _store(store, settings) as memory_store, _checkpointer(thread_id, settings) as saver:
        agent = build_agent(store=memory_store, checkpointer=saver, model=model, settings=settings)
        out = agent.invoke(
            {"messages": [HumanMessage(question)]},
            config={"configurable": {"thread_id": thread_id or f"answer-{uuid.uuid4()}"}},
            context={"user_id": user_id},
            durability=CHAT_DURABILITY,
        )
    return Answer(
        out["messages"][-1].text,
        out.get("recalled", []),
        out.get("ops", []),
        out.get("warnings", []),
    )


@contextmanager
def _checkpointer(thread_id: str | None, settings: Settings) -> Iterator[Any]:
    if thread_id is None:
        yield InMemorySaver()
    else:
        with open_checkpointer(settings=settings) as saver:
            yield saver


def process_message(
    message: str,
    user_id: str,
    *,
    thread_id: str | None = None,
    model: ModelSpec = None,
    store: BaseStore | None = None,
    settings: Settings | None = None,
) -> list[MemoryOp]:
    """Remember `message` for `user_id` (extract + reconcile); returns the memory ops.

    Args: as for `answer_with_memory`; `thread_id` is only recorded as provenance.
    """
    settings = settings or Settings.from_env()
    spec = model if model is not None else settings.model
    with _store(store, settings) as memory_store:
        remember = build_remember_graph(
            store=memory_store, model=resolve_chat_model(spec, base_url=settings.base_url)
        )
        out = remember.invoke(
            {"messages": [HumanMessage(message)]},
            config={"configurable": {"thread_id": thread_id}},
            context={"user_id": user_id},
        )
    return list(out["ops"])
