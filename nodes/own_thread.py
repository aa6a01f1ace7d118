"""The thread check of the agent's first node: the run's user owns its conversation thread.

A thread belongs to the user whose turns run in it (`hippograph.store.threads`): the record
lets `erase_user` delete exactly that user's conversations, and a turn of another user in
the thread fails with `ThreadOwnerError` before any memory is read or written.

LangGraph saves a run's input to the thread before the first node runs, so the compiled
agent (`hippograph.graph.thread_check.ThreadCheckedGraph`) claims the thread when a run
starts, before anything is saved, and leaves a `ClaimedThread` in the run's config; the
check in the first node is what remains when the agent runs as a subgraph of another graph
(whose runs start elsewhere). It is part of the first node's work, not a node of its own: a
node costs the turn a superstep (a checkpoint write and a task) for one store read.

Core pieces:
    - `claim_run_thread`: claim the run's thread for the run's user, unless the run's start
      already did.
    - `owning_thread`: a node that runs `claim_run_thread` before its own work.
    - `ClaimedThread`: the mark of a claim made when the run started.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NamedTuple, TypeVar, cast

from langgraph.config import get_config
from langgraph.runtime import Runtime

from hippograph.memory.context import Context, memory_context
from hippograph.memory.search import require_store
from hippograph.memory.state import State
from hippograph.store.threads import claim_thread

NodeT = TypeVar("NodeT", bound=Callable[..., dict[str, Any]])

CLAIMED_THREAD_KEY = "__hippograph_claimed_thread"
"""The run config's `configurable` key of a `ClaimedThread` (`__`: not checkpoint metadata)."""


class ClaimedThread(NamedTuple):
    """`thread_id` was claimed for `user_id` when this run started. Only code can put one
    in a run's config: a client of the LangGraph server sends JSON, never this class."""

    user_id: str
    thread_id: str


def claim_run_thread(runtime: Runtime[Context]) -> None:
    """Claim the run's thread for the run's user; runs without a thread id claim nothing,
    and runs whose start claimed that thread for that user (`ClaimedThread`) read nothing.

    Raises:
        ThreadOwnerError: the thread is another user's.
    """
    configurable = get_config().get("configurable") or {}
    thread_id = configurable.get("thread_id")
    user_id = memory_context(runtime).user_id
    if thread_id is None:
        return
    claimed = configurable.get(CLAIMED_THREAD_KEY)
    if isinstance(claimed, ClaimedThread) and claimed == (user_id, str(thread_id)):
        return
    claim_thread(require_store(runtime), user_id, str(thread_id))


def owning_thread(node: NodeT) -> NodeT:
    """`node`, run after `claim_run_thread` (the agent's first node: `retrieve`)."""

    @wraps(node)
    def run(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        claim_run_thread(runtime)
        return node(state, runtime)

    return cast(NodeT, run)
