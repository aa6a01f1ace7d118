"""The compiled agent refuses another user's thread before LangGraph writes anything to it.

LangGraph saves a run's input to the thread's checkpoint before the first node runs, so the
check in the first node (`hippograph.nodes.own_thread`) alone would refuse user B's turn on
user A's thread only after B's message is in A's conversation. `ThreadCheckedGraph` checks
(and, for a new thread, claims) the thread when a run starts — in `stream` / `astream`,
which `invoke`, `ainvoke`, `astream_events` and the LangGraph server all go through — so a
refused run writes nothing. It hands the claim to the first node (`ClaimedThread` in the
run's config), which then skips its own check; the check in the node is what remains when
the agent runs as a subgraph of another graph (whose runs do not start here).

A run of the agent's graph (`AgentBuilder.prefetches`) also starts embedding its message
(`hippograph.memory.prefetch`) before the thread check, so the model runs while LangGraph
sets the run up; retrieve takes the vector from the run's config (`PrefetchedVector`).

On a `TurnSqliteSaver` / `AsyncTurnSqliteSaver` (the default SQLite checkpointers) a run's
checkpoints are made durable once, when it ends (`hippograph.graph.checkpoints`). Runs keep
LangGraph's durability (`"async"` unless chosen): waiting for each step's save (`"sync"`)
was measured cheaper at p50 but not at p95, where `"async"` hides the save behind the next
node's work (issue 16, `benchmarks/results/agent_overhead.md`).

LangGraph hands each checkpoint save of a sync run to a thread pool it makes for the run,
and a save that finds no idle thread starts a new one: 4–5 thread starts per agent turn,
which on 2 cores cost more than the saves. The agent's graph runs one node per step
(`AgentBuilder.runs_one_node_per_step`), so the pool only ever runs saves (in order, each waiting
for the one before): a sync run that streams nothing while its nodes run gets
`max_concurrency=1`, and its saves share one thread. A caller's own `max_concurrency` is
kept, and a run streaming tokens or custom events keeps LangGraph's pool (its nodes run on
workers beside a stream waiter there, and one worker would hold the tokens back).

Core pieces:
    - `ThreadCheckedGraph`: the agent's compiled graph class (`AgentBuilder.compile`).
    - `run_owner`: the `(user_id, thread_id)` a run's arguments name, if both are there.
    - `turn_text`: the text of the turn a run's input carries, as retrieve will search it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import HumanMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs
from langgraph.graph.state import CompiledStateGraph

from hippograph.graph.checkpoints import AsyncTurnSqliteSaver, TurnSqliteSaver
from hippograph.memory.prefetch import PREFETCHED_VECTOR_KEY, PrefetchedVector, prefetch_vector
from hippograph.memory.turn import message_text
from hippograph.nodes.own_thread import CLAIMED_THREAD_KEY, ClaimedThread
from hippograph.store import memory_namespace
from hippograph.store.embedding_scope import embedding_scope, tenant_scope
from hippograph.store.threads import aclaim_thread, claim_thread

_STREAMS_WHILE_RUNNING = frozenset({"messages", "custom"})
"""Stream modes that make LangGraph run nodes on worker threads beside a stream waiter."""


class ThreadCheckedGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """A compiled agent whose runs claim their thread for their user before anything is
    written (`ThreadOwnerError` when it is someone else's)."""

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """`CompiledStateGraph.stream`, after the thread check; on a `TurnSqliteSaver`, its
        checkpoints fsynced once when the run ends."""
        target = run_owner(self.config, args, kwargs)
        prefetched = self._prefetched(args, kwargs, target)
        claimed = None
        if target is not None and self.store is not None:
            with _cancelled_on_error(prefetched):
                claim_thread(self.store, *target)
            claimed = ClaimedThread(*target)
        args, kwargs = _with_marks(
            args, kwargs, claimed, prefetched, self._saves_on_one_thread(args, kwargs)
        )
        if target is None or not isinstance(self.checkpointer, TurnSqliteSaver):
            return super().stream(*args, **kwargs)
        return _synced_once(super().stream(*args, **kwargs), self.checkpointer, target[1])

    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """`CompiledStateGraph.astream`, after the thread check; on an
        `AsyncTurnSqliteSaver`, its checkpoints fsynced once when the run ends."""
        target = run_owner(self.config, args, kwargs)
        prefetched = self._prefetched(args, kwargs, target)
        claimed = None
        if target is not None and self.store is not None:
            with _cancelled_on_error(prefetched):
                await aclaim_thread(self.store, *target)
            claimed = ClaimedThread(*target)
        args, kwargs = _with_marks(args, kwargs, claimed, prefetched)
        chunks = super().astream(*args, **kwargs)
        if target is None or not isinstance(self.checkpointer, AsyncTurnSqliteSaver):
            async for chunk in chunks:
                yield chunk
            return
        async with self.checkpointer.syncing_once(target[1]):
            async for chunk in chunks:
                yield chunk

    def _saves_on_one_thread(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """Whether this sync run should keep LangGraph's background work on one thread
        (`max_concurrency=1`; see the module docstring): its graph runs one node per step
        (`AgentBuilder.runs_one_node_per_step`), nothing streams while a node runs (no
        `messages` / `custom` mode, no subgraphs, not eager), and the caller set no
        `max_concurrency` of their own."""
        one_per_step = getattr(self.builder, "runs_one_node_per_step", None)
        if one_per_step is None or not one_per_step() or self.checkpointer is None:
            return False
        if self.stream_eager or kwargs.get("subgraphs"):
            return False
        modes = kwargs.get("stream_mode") or self.stream_mode
        if not set([modes] if isinstance(modes, str) else modes).isdisjoint(_STREAMS_WHILE_RUNNING):
            return False
        return (
            merge_configs(self.config, _given_config(args, kwargs)).get("max_concurrency") is None
        )

    def _prefetched(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], target: tuple[str, str] | None
    ) -> PrefetchedVector | None:
        """The run's message, being embedded for retrieve in its user's `embedding_scope`,
        if this graph starts with retrieve and the run names its user (`target`)."""
        if not getattr(self.builder, "prefetches", False) or target is None:
            return None
        scope = tenant_scope(self.store, memory_namespace(target[0]))
        with embedding_scope(scope):  # the worker runs in a copy of this context
            return prefetch_vector(self.store, turn_text(args, kwargs))


def _synced_once(chunks: Iterator[Any], saver: TurnSqliteSaver, thread_id: str) -> Iterator[Any]:
    with saver.syncing_once(thread_id):
        yield from chunks


def _given_config(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> RunnableConfig | None:
    return args[1] if len(args) > 1 else kwargs.get("config")


@contextmanager
def _cancelled_on_error(prefetched: PrefetchedVector | None) -> Iterator[None]:
    """Drop the prefetched vector of a run refused before it started."""
    try:
        yield
    except BaseException:
        if prefetched is not None:
            prefetched.cancel()
        raise


def _with_marks(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    claimed: ClaimedThread | None,
    prefetched: PrefetchedVector | None,
    one_thread: bool = False,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The run's arguments with `claimed` and `prefetched` in its config, for retrieve, and
    `max_concurrency=1` if its background work should stay on `one_thread`."""
    marks: dict[str, Any] = {}
    if claimed is not None:
        marks[CLAIMED_THREAD_KEY] = claimed
    if prefetched is not None:
        marks[PREFETCHED_VECTOR_KEY] = prefetched
    if not marks and not one_thread:
        return args, kwargs
    added: RunnableConfig = {"configurable": marks}
    if one_thread:
        added["max_concurrency"] = 1
    config = merge_configs(_given_config(args, kwargs), added)
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


def turn_text(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The text retrieve will search for a run called as `stream(input, ...)`: its input's
    last user message (`message_text`), or `""` when the input carries none (a resume
    `Command`, `None`, or messages the graph will refuse)."""
    given = args[0] if args else kwargs.get("input")
    messages = given.get("messages") if isinstance(given, Mapping) else None
    if not messages:
        return ""
    try:
        converted = convert_to_messages(messages if isinstance(messages, list) else [messages])
    except (ValueError, TypeError, NotImplementedError):
        return ""  # the run fails on them as it would have
    humans = [m for m in converted if isinstance(m, HumanMessage)]
    return message_text(humans[-1]) if humans else ""
