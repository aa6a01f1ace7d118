"""Memory as building blocks: the recall and remember subgraphs for other people's agents.

Core pieces:
    - `build_recall_graph`: retrieve only → `recalled`.
    - `build_remember_graph`: extract → reconcile → `candidates`, `ops`.

Add them as nodes of a larger graph (`builder.add_node("recall", build_recall_graph())`);
compiled without a store they use the parent graph's store. Both read the run context's
`user_id` (a parent's own context object works if it has one).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from hippograph.memory.chat_models import ModelSpec, resolve_chat_model
from hippograph.memory.context import Context
from hippograph.memory.state import RecallOutput, RememberOutput, State, TurnInput
from hippograph.nodes.extract import extract
from hippograph.nodes.reconcile import reconcile
from hippograph.nodes.retrieve import retrieve
from hippograph.profile import update_profile


def build_recall_graph(*, store: BaseStore | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Retrieve the user's memories relevant to the latest user message (no LLM).

    Args:
        store: The memory store; omit it to use the parent graph's store.

    Returns:
        A compiled graph: input `messages`, output `recalled` (best first, with scores).
    """
    builder = StateGraph(
        State, context_schema=Context, input_schema=TurnInput, output_schema=RecallOutput
    )
    builder.add_node("retrieve", retrieve)
    builder.add_edge(START, "retrieve")
    builder.add_edge("retrieve", END)
    return builder.compile(store=store, name="recall")


def build_remember_graph(
    *,
    store: BaseStore | None = None,
    model: ModelSpec = None,
    profile: type[BaseModel] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Remember the latest user message: extract facts, reconcile them with the store.

    Args:
        store: The memory store; omit it to use the parent graph's store.
        model: A chat model, a `provider:model` spec or `"local"`; `None` is the offline
            mode (each statement is stored verbatim, near-duplicates are skipped with their
            provenance merged).
        profile: A profile schema to patch after reconcile (`hippograph.profile`).

    Returns:
        A compiled graph: input `messages` (the last `HumanMessage` is the turn); output
        `candidates`, `ops` and `warnings`. The turn's time is `context={"turn_at": ...}`
        (default: now). No checkpointer is needed.
    """
    chat = resolve_chat_model(model)
    builder = StateGraph(
        State, context_schema=Context, input_schema=TurnInput, output_schema=RememberOutput
    )
    builder.add_node("extract", partial(extract, model=chat))
    builder.add_node("reconcile", partial(reconcile, model=chat))
    builder.add_edge(START, "extract")
    builder.add_edge("extract", "reconcile")
    if profile is None:
        builder.add_edge("reconcile", END)
    else:
        builder.add_node("profile", partial(update_profile, model=chat, schema=profile))
        builder.add_edge("reconcile", "profile")
        builder.add_edge("profile", END)
    return builder.compile(store=store, name="remember")
