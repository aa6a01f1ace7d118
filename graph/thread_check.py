"""The compiled agent refuses another user's thread before LangGraph writes anything to it.

LangGraph saves a run's input to the thread's checkpoint before the first node runs, so the
check in the first node (`hippograph.nodes.own_thread`) alone would refuse user B's turn on
user A's thread only after B's message is in A's conversation. `ThreadCheckedGraph` checks
(and, for a new thread, claims) the thread when a run starts — in `stream` / `astream`,
which `invoke`, `ainvoke`, `astream_events` and the LangGraph server all go through — so a
refused run writes nothing.
The first node still checks, for the agent embedded as a subgraph of another graph (whose
runs do not start here). On a `TurnSqliteSaver` (the default SQLite checkpointer) a run's
checkpoints are made durable once, when it ends (`hippograph.graph.checkpoints`).

Core pieces:
    - `ThreadCheckedGraph`: the agent's compiled graph class (`AgentBuilder.compile`).
    - `run_owner`: the `(user_id, thread_id)` a run's arguments name, if both are there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs
from langgraph.graph.state import CompiledStateGraph

from hippograph.graph.checkpoints import TurnSqliteSaver
from hippograph.store.threads import aclaim_thread, claim_thread


class ThreadCheckedGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """A compiled agent whose runs claim their thread for their user before anything is
    written (`ThreadOwnerError` when it is someone else's)."""

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """`CompiledStateGraph.stream`, after the thread check; on a `TurnSqliteSaver`, its
        checkpoints fsynced once when the run ends."""
        target = run_owner(self.config, args, kwargs)
        if target is not None and self.store is not None:
            claim_thread(self.store, *target)
        chunks = super().stream(*args, **kwargs)
        if target is None or not isinstance(self.checkpointer, TurnSqliteSaver):
            return chunks
        return _synced_once(chunks, self.checkpointer, target[1])

    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """`CompiledStateGraph.astream`, after the thread check."""
        target = run_owner(self.config, args, kwargs)
        if target is not None and self.store is not None:
            await aclaim_thread(self.store, *target)
        async for chunk in super().astream(*args, **kwargs):
            yield chunk


def _synced_once(chunks: Iterator[Any], saver: TurnSqliteSaver, thread_id: str) -> Iterator[Any]:
    with saver.syncing_once(thread_id):
        yield from chunks


def run_owner(
    bound: RunnableConfig | None, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, str] | None:
    """`(user_id, thread_id)` of a run called as `stream(input, config, context=...)` on a
    graph bound to config `bound`; `None` when either is missing (a run without a user
    fails in the graph with `MissingUserError`; one without a thread has nothing to guard).
    """
    given: RunnableConfig | None = args[1] if len(args) > 1 else kwargs.get("config")
    config = merge_configs(bound, given)
    thread_id = (config.get("configurable") or {}).get("thread_id")
    context = kwargs.get("context")
    user_id = (
        context.get("user_id")
        if isinstance(context, Mapping)
        else getattr(context, "user_id", None)
    )
    if thread_id is None or not isinstance(user_id, str) or not user_id.strip():
        return None
    return user_id, str(thread_id)
