"""Background memory formation: reply first, form memories after, debounced per thread.

Core pieces:
    - `MemoryFormer`: in-process (a timer and a small thread pool), for
      `build_agent(background=...)` and for any other graph (`submit` after the reply).
    - `ServerFormation` / `build_formation_graph`: the same as scheduled runs on a LangGraph
      server (`langgraph dev`): `runs.create(after_seconds=..., multitask_strategy="rollback")`.
    - `hippograph.background.pending`: the durable queue both use, in the memory store.
"""

from hippograph.background.executor import DEFAULT_DELAY, MemoryFormer, form_thread
from hippograph.background.pending import PendingThread, PendingTurn, forget_pending
from hippograph.background.server import (
    FORMATION_GRAPH,
    ServerFormation,
    build_formation_graph,
)

__all__ = [
    "DEFAULT_DELAY",
    "FORMATION_GRAPH",
    "MemoryFormer",
    "PendingThread",
    "PendingTurn",
    "ServerFormation",
    "build_formation_graph",
    "forget_pending",
    "form_thread",
]
