"""Background formation on a LangGraph server (`langgraph dev`, LangGraph Platform).

Core pieces:
    - `ServerFormation`: schedules formation as a run of the `memory_formation` graph on
      the server the agent runs in: `runs.create(..., after_seconds=delay,
      multitask_strategy="rollback")` on a formation thread per conversation, so a new
      message within `delay` seconds cancels the pending run and schedules a new one.
    - `build_formation_graph`: that graph (registered in `langgraph.json`): it forms the
      conversation's pending turns from the server's store, with the same step as the
      in-process `MemoryFormer` (`form_thread`).

The turns themselves wait in the store (`hippograph.background.pending`), not in the run's
input: a run that is cancelled and replaced loses nothing, and the replacement forms every
turn still waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict

from hippograph.background.executor import DEFAULT_DELAY, form_thread, pending_turn
from hippograph.background.pending import (
    LEASE,
    PendingTurn,
    add_turn,
    owner_id,
    read_thread,
)

FORMATION_GRAPH = "memory_formation"
"""The graph id `langgraph.json` registers the formation graph under."""

_NAMESPACE = uuid.UUID("6f1d3c2a-8b7e-4c1a-9d5e-2f4b6a8c0e1d")


def formation_thread(user_id: str, thread_id: str | None) -> str:
    """The server thread that formation runs of one conversation share (so a new run
    replaces the pending one)."""
    return str(uuid.uuid5(_NAMESPACE, f"{user_id}\x00{thread_id}"))


@dataclass(frozen=True, slots=True)
class ServerFormation:
    """Form memories in scheduled runs on the LangGraph server (use as
    `build_agent_graph(background=ServerFormation())` in a graph that server serves).

    Attributes:
        delay: Debounce: seconds after a conversation's last turn before it is formed.
        assistant_id: The formation graph's id on the server.
        url: The server (default: the one this graph runs in, reached in-process).
    """

    delay: float = DEFAULT_DELAY
    assistant_id: str = FORMATION_GRAPH
    url: str | None = None

    def close(self) -> None:
        """Nothing to stop: the server runs the formation."""

    async def asubmit(
        self,
        store: BaseStore,
        messages: Sequence[BaseMessage],
        *,
        context: Mapping[str, Any],
        thread_id: str | None,
        turn_at: str | None = None,
    ) -> PendingTurn | None:
        """Queue the latest user turn in the store, then (re)schedule its formation run."""
        from langgraph_sdk import get_client

        user_id = str(context["user_id"])
        turn = pending_turn(messages, context, turn_at=turn_at)
        if turn is None:
            return None
        await asyncio.to_thread(add_turn, store, user_id, thread_id, turn, delay=self.delay)
        client = get_client(url=self.url)
        await client.runs.create(
            formation_thread(user_id, thread_id),
            self.assistant_id,
            input={"user_id": user_id, "thread_id": thread_id},
            after_seconds=math.ceil(self.delay),
            multitask_strategy="rollback",
            if_not_exists="create",
        )
        return turn


class FormationInput(TypedDict):
    """Which conversation's pending turns to form."""

    user_id: str
    thread_id: str | None


class FormationOutput(TypedDict):
    """The memory ops formation made."""

    ops: list[dict[str, Any]]


class FormationState(FormationInput, FormationOutput):
    """The formation graph's state: its input and its output."""


def _form_when_free(
    store: BaseStore, remember: Any, user_id: str, thread_id: str | None
) -> list[dict[str, Any]]:
    """Form the conversation's turns, first waiting out a run this one replaced that is
    still forming (a rollback cancels it, but a step already running finishes)."""
    owner = owner_id()
    deadline = time.monotonic() + LEASE.total_seconds()
    ops: list[dict[str, Any]] = []
    while True:
        ops += form_thread(store, remember, user_id, thread_id, owner)
        pending = read_thread(store, user_id, thread_id)
        if pending is None or not pending.turns or time.monotonic() > deadline:
            return ops
        time.sleep(0.5)


def build_formation_graph(
    *, model: BaseChatModel | str | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph a `ServerFormation` run executes: form one conversation's pending turns.

    Compiled without a store: the server gives it the same store as the agent.
    """
    from hippograph.graph.subgraphs import build_remember_graph

    def form(state: FormationState, runtime: Runtime[Any]) -> dict[str, Any]:
        if runtime.store is None:
            raise RuntimeError("the formation graph needs the server's store (langgraph.json)")
        remember = build_remember_graph(store=runtime.store, model=model)
        user_id, thread_id = state["user_id"], state.get("thread_id")
        return {"ops": _form_when_free(runtime.store, remember, user_id, thread_id)}

    builder = StateGraph(FormationState, input_schema=FormationInput, output_schema=FormationOutput)
    builder.add_node("form", form)
    builder.add_edge(START, "form")
    builder.add_edge("form", END)
    return builder.compile(name=FORMATION_GRAPH)
