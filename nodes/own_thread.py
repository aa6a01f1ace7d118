"""own_thread: record the run's user as the owner of its conversation thread (the first node).

A thread belongs to the user whose turns run in it (`hippograph.store.threads`): the record
lets `erase_user` delete exactly that user's conversations, and a turn of another user in
the thread fails here with `ThreadOwnerError` before any memory is read or written.

LangGraph saves a run's input to the thread before the first node runs, so the compiled
agent (`hippograph.graph.thread_check.ThreadCheckedGraph`) claims the thread when a run
starts, before anything is saved; this node is the check that remains when the agent runs
as a subgraph of another graph (whose runs start elsewhere).
"""

from __future__ import annotations

from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from hippograph.memory.context import Context, memory_context
from hippograph.memory.search import require_store
from hippograph.memory.state import State
from hippograph.store.threads import claim_thread


def own_thread(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Claim the run's thread for the run's user; runs without a thread id claim nothing."""
    thread_id = (get_config().get("configurable") or {}).get("thread_id")
    user_id = memory_context(runtime).user_id
    if thread_id is not None:
        claim_thread(require_store(runtime), user_id, str(thread_id))
    return {}
