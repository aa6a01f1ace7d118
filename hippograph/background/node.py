"""defer: the agent's last node when memory is formed in the background.

Instead of extract → reconcile, the turn is queued (durably, in the store) for a
`MemoryFormer` in this process or a `ServerFormation` run on the LangGraph server; the
reply is already in the state, so the user sees it without waiting for memory formation.
The turn's `ops` are empty: what the turn changes is formed later (see `pending`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from hippograph.background.executor import MemoryFormer
from hippograph.background.server import ServerFormation


def _thread_id() -> str | None:
    thread_id = (get_config().get("configurable") or {}).get("thread_id")
    return None if thread_id is None else str(thread_id)


def run_context(runtime: Runtime[Any]) -> dict[str, Any]:
    """The run context as plain data (what a later formation run is given again)."""
    from hippograph.graph.context import memory_context

    context = memory_context(runtime)
    if dataclasses.is_dataclass(context):
        found = {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    else:
        found = dict(vars(context))
    return {k: v for k, v in found.items() if isinstance(v, str | int | float | bool | None)}


def _turn_at(context: Mapping[str, Any]) -> str | None:
    at = context.get("turn_at")
    return None if at is None else str(at)


def defer(
    state: Mapping[str, Any], runtime: Runtime[Any], *, former: MemoryFormer
) -> dict[str, Any]:
    """Queue the turn for the in-process `MemoryFormer`."""
    context = run_context(runtime)
    former.submit(
        state.get("messages") or [],
        context=context,
        thread_id=_thread_id(),
        turn_at=_turn_at(context),
    )
    return {"ops": []}


async def adefer(
    state: Mapping[str, Any], runtime: Runtime[Any], *, server: ServerFormation
) -> dict[str, Any]:
    """Queue the turn and schedule its formation run on the LangGraph server."""
    if runtime.store is None:
        raise RuntimeError("background formation needs the graph's store")
    context = run_context(runtime)
    await server.asubmit(
        runtime.store,
        state.get("messages") or [],
        context=context,
        thread_id=_thread_id(),
        turn_at=_turn_at(context),
    )
    return {"ops": []}
