"""The compiled agent refuses another user's thread before LangGraph writes anything to it.

LangGraph saves a run's input to the thread's checkpoint before the first node runs, so the
check in the first node (`hippograph.nodes.own_thread`) alone would refuse user B's turn on
user A's thread only after B's message is in A's conversation. `ThreadCheckedGraph` checks
(and, for a new thread, claims) the thread when a run starts — in `stream` / `astream`,
which `invoke`, `ainvoke`, `astream_events` and the LangGraph server all go through — so a
refused run writes nothing. It hands the claim to the first node (`ClaimedThread` in the
run's config), which then skips its own check; the check in the node is what remains when
the agent runs as a subgraph of another graph (whose runs do not start here).

On a `TurnSqliteSaver` / `AsyncTurnSqliteSaver` (the default SQLite checkpointers) a run's
checkpoints are made durable once, when it ends (`hippograph.graph.checkpoints`). Runs keep
LangGraph's durability (`"async"` unless chosen): waiting for each step's save (`"sync"`)
was measured cheaper at p50 but not at p95, where `"async"` hides the save behind the next
node's work (issue 16, `benchmarks/results/agent_overhead.md`).

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

from hippograph.graph.checkpoints import AsyncTurnSqliteSaver, TurnSqliteSaver
from hippograph.nodes.own_thread import CLAIMED_THREAD_KEY, ClaimedThread
from hippograph.store.threads import aclaim_thread, claim_thread


class ThreadCheckedGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """A compiled agent whose runs claim their thread for their user before anything is
    written (`ThreadOwnerError` when it is someone else's)."""

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """`CompiledStateGraph.stream`, after the thread check; on a `TurnSqliteSaver`, its
        checkpoints fsynced once when the run ends."""
        target = run_owner(self.config, args, kwargs)
        if target is None:
            return super().stream(*args, **kwargs)
        if self.store is not None:
            claim_thread(self.store, *target)
            args, kwargs = _with_claim(args, kwargs, ClaimedThread(*target))
        if not isinstance(self.checkpointer, TurnSqliteSaver):
            return super().stream(*args, **kwargs)
        return _synced_once(super().stream(*args, **kwargs), self.checkpointer, target[1])

    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """`CompiledStateGraph.astream`, after the thread check; on an
        `AsyncTurnSqliteSaver`, its checkpoints fsynced once when the run ends."""
        target = run_owner(self.config, args, kwargs)
        if target is not None and self.store is not None:
            await aclaim_thread(self.store, *target)
            args, kwargs = _with_claim(args, kwargs, ClaimedThread(*target))
        chunks = super().astream(*args, **kwargs)
        if target is None or not isinstance(self.checkpointer, AsyncTurnSqliteSaver):
            async for chunk in chunks:
                yield chunk
            return
        async with self.checkpointer.syncing_once(target[1]):
            async for chunk in chunks:
                yield chunk


def _synced_once(chunks: Iterator[Any], saver: TurnSqliteSaver, thread_id: str) -> Iterator[Any]:
    with saver.syncing_once(thread_id):
        yield from chunks


def _given_config(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> RunnableConfig | None:
    return args[1] if len(args) > 1 else kwargs.get("config")


def _with_claim(
    args: tuple[Any, ...], kwargs: dict[str, Any], claimed: ClaimedThread
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The run's arguments with `claimed` in its config, for the first node to find."""
    config = merge_configs(
        _given_config(args, kwargs), {"configurable": {CLAIMED_THREAD_KEY: claimed}}
    )
    if len(args) > 1:
        return (args[0], config, *args[2:]), kwargs
    return args, {**kwargs, "config": config}


def run_owner(
    bound: RunnableConfig | None, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, str] | None:
    """`(user_id, thread_id)` of a run called as `stream(input, config, context=...)` on a
    graph bound to config `bound`; `None` when either is missing (a run without a user
    fails in the graph with `MissingUserError`; one without a thread has nothing to guard).
    """
    config = merge_configs(bound, _given_config(args, kwargs))
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
