"""The memory agent: START → retrieve → respond → extract → reconcile → END.

`retrieve` first claims the run's thread for its user (`hippograph.nodes.own_thread`).

Core pieces:
    - `build_agent_graph`: the wiring (an uncompiled `StateGraph`), readable in one screen.
    - `build_agent`: the compiled agent; store and checkpointer default to the user's data
      dir (our `FaissSqliteStore` + `SqliteSaver`) or to `store_url` (a SQLite path, or a
      `postgresql://` URL: `PostgresStore` + `PostgresSaver`), closed when the last graph
      using them — the agent or any graph derived from it (`with_config`, `copy`) — is
      collected, or at interpreter exit.
    - `open_agent` / `aopen_agent`: the same as context managers that close what they
      opened; `aopen_agent` gives an async-capable agent (`AsyncTurnSqliteSaver` /
      `AsyncPostgresSaver`).

Storage and settings come from `hippograph.backends` / `hippograph.config`, imported when
a default is actually needed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from hippograph.background.agent import Background, BackgroundOption, deferred, owned_former
from hippograph.graph.thread_check import ThreadCheckedGraph
from hippograph.memory.chat_models import ModelSpec, resolve_chat_model
from hippograph.memory.context import Context
from hippograph.memory.state import AgentOutput, State, TurnInput
from hippograph.nodes.extract import extract
from hippograph.nodes.own_thread import owning_thread
from hippograph.nodes.reconcile import reconcile
from hippograph.nodes.respond import respond
from hippograph.nodes.retrieve import retrieve
from hippograph.profile import update_profile

if TYPE_CHECKING:
    from hippograph.config import Settings

AGENT_NAME = "hippograph"


class _OpenedStorage:
    """The storage `build_agent` opened, closed when nothing refers to it any more.

    The compiled agent's builder holds it, and every graph derived from the agent
    (`with_config`, `copy`) shares that builder, so the storage stays open exactly as long
    as some graph can still use it (and is closed at interpreter exit at the latest).
    """

    def __init__(self, opened: ExitStack) -> None:
        self._close = weakref.finalize(self, opened.close)


class AgentBuilder(StateGraph[Any, Any, Any, Any]):
    """The agent's `StateGraph`, able to own the storage its compiled graphs use; it compiles
    to a `ThreadCheckedGraph` (another user's thread is refused before anything is saved)."""

    owned: _OpenedStorage | None = None
    prefetches = False
    """Whether its runs start embedding their message for `retrieve` as they start
    (`hippograph.memory.prefetch`): set by `build_agent_graph`, whose graph begins with
    retrieve; another graph would run the model for nothing."""
    streams_tokens: bool | None = None
    """Whether its answer comes from a chat model, token by token (`build_agent_graph` sets
    it; `None`: unknown). `TurnStream` asks LangGraph for the `messages` stream mode only
    when it does: offline, that mode would only move every node onto a worker thread."""

    one_node_per_step = False
    """Whether its nodes never start other nodes themselves (no `Send`, no `Command(goto=)`):
    set by `build_agent_graph`, whose nodes do not. With edges that make a chain too
    (`runs_one_node_per_step`), every step of a run runs one node, and a sync run that
    streams nothing while a node runs keeps LangGraph's background work — the checkpoint
    saves — on one thread (`max_concurrency=1`, unless the caller sets it) instead of a new
    thread per save (`hippograph.graph.thread_check`)."""

    def runs_one_node_per_step(self) -> bool:
        """Whether every step of its runs runs one node: its nodes start none themselves
        (`one_node_per_step`) and its edges make a chain — no conditional edge, no join, at
        most one edge out of each node — so a node added beside the agent's is seen."""
        if not self.one_node_per_step or self.branches or self.waiting_edges:
            return False
        sources = [source for source, _ in self.edges]
        return len(sources) == len(set(sources))

    def compile(self, *args: Any, **kwargs: Any) -> ThreadCheckedGraph:
        """`StateGraph.compile`, as a `ThreadCheckedGraph` (built the way `Pregel.copy` is)."""
        compiled = super().compile(*args, **kwargs)
        return ThreadCheckedGraph(
            **{k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"}
        )


def build_agent_graph(
    *,
    model: BaseChatModel | None = None,
    background: Background | None = None,
    profile: type[BaseModel] | None = None,
) -> AgentBuilder:
    """The memory agent's graph, uncompiled (`model=None`: the offline mode).

    With `background`, the turn ends after `respond` with `defer`, which queues the turn for
    extract + reconcile later (a `MemoryFormer` here, or a `ServerFormation` run). With a
    `profile` schema, `profile` patches the user's profile after reconcile.

    A run takes `TurnInput` (`messages`) and returns `AgentOutput` (`messages`, `recalled`,
    `ops`, `warnings`); the scratch key `candidates` stays in the checkpoint only.
    """
    builder = AgentBuilder(
        State, context_schema=Context, input_schema=TurnInput, output_schema=AgentOutput
    )
    builder.prefetches = True  # retrieve takes the vector its run started
    builder.streams_tokens = model is not None
    builder.one_node_per_step = True  # a chain: START → retrieve → … → END
    builder.add_node("retrieve", owning_thread(retrieve))  # checks the thread's owner first
    builder.add_node("respond", partial(respond, model=model))
    builder.add_edge(START, "retrieve")
    builder.add_edge("retrieve", "respond")
    if background is not None:
        builder.add_node("defer", deferred(background))  # memory formed after the reply
        builder.add_edge("respond", "defer")
        builder.add_edge("defer", END)
        return builder
    builder.add_node("extract", partial(extract, model=model))
    builder.add_node("reconcile", partial(reconcile, model=model))
    builder.add_edge("respond", "extract")
    builder.add_edge("extract", "reconcile")
    if profile is None:
        builder.add_edge("reconcile", END)
        return builder
    builder.add_node("profile", partial(update_profile, model=model, schema=profile))
    builder.add_edge("reconcile", "profile")
    builder.add_edge("profile", END)
    return builder


def _settings(
    settings: Settings | None,
    store_url: str | Path | None = None,
    given: tuple[object | None, object | None] = (None, None),
) -> Settings:
    """`settings` (default: the environment) pointed at `store_url` when one is given.

    `given` is the caller's `(store, checkpointer)`: with both, `store_url` would open
    nothing, which is a mistake worth saying rather than ignoring.
    """
    from hippograph.config import Settings

    if store_url is not None and all(part is not None for part in given):
        raise ValueError(
            "store_url= only chooses where the default store and checkpointer are opened; "
            "both were given, so drop store_url= (or one of store= / checkpointer=)"
        )
    return (settings or Settings.from_env()).with_store(store_url)


def _chat_model(model: ModelSpec, settings: Settings) -> BaseChatModel | None:
    spec = model if model is not None else settings.model
    return resolve_chat_model(spec, base_url=settings.base_url)


def _open_defaults(
    opened: ExitStack,
    store: BaseStore | None,
    checkpointer: BaseCheckpointSaver[Any] | None,
    embeddings: Embeddings | str | None,
    settings: Settings,
) -> tuple[BaseStore, BaseCheckpointSaver[Any]]:
    """The given store and checkpointer, opening the configured ones in `opened` if missing."""
    from hippograph.backends import open_checkpointer, open_store

    if store is None:
        store = opened.enter_context(open_store(embeddings=embeddings, settings=settings))
    if checkpointer is None:
        checkpointer = opened.enter_context(open_checkpointer(settings=settings))
    return store, checkpointer


def build_agent(
    *,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    model: ModelSpec = None,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    store_url: str | Path | None = None,
    background: BackgroundOption = None,
    profile: type[BaseModel] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the compiled memory agent.

    Args:
        store: Long-term memory store (default: `hippograph.backends.open_store(settings)`,
            our `FaissSqliteStore` under the user's data dir, or `HIPPOGRAPH_DB` /
            `HIPPOGRAPH_STORE_URL`).
        checkpointer: Short-term per-thread state (default: a `SqliteSaver` beside the
            store). For async use (`ainvoke`/`astream`) use `aopen_agent`.
        model: A chat model or `provider:model` spec (default: `settings.model`, i.e.
            `HIPPOGRAPH_MODEL`; unset means the offline mode).
        embeddings: Embedder of the default store (`"local"` unless configured); ignored
            when `store` is given.
        settings: Where defaults come from (default: `Settings.from_env()`).
        store_url: Where the default store and checkpointer live, overriding `settings`:
            a SQLite file path (our `FaissSqliteStore` + `SqliteSaver`) or a
            `postgresql://` URL (LangGraph's `PostgresStore` with hippograph's history,
            + `PostgresSaver`, both in that database). Many agent processes may share one.
        background: Form memories after the reply instead of before it returns: seconds of
            quiet per thread before its turns are formed (`True`: the default 5 s), or a
            `MemoryFormer` / `ServerFormation` of your own. The turn's `ops` are then
            empty; pending turns are kept in the store until formed (see the README).
        profile: A pydantic model of the user profile to keep (one item per user, patched
            by the model from each turn's memory changes; `hippograph.profile`).

    Returns:
        A compiled graph; invoke it with `{"messages": [...]}`,
        `config={"configurable": {"thread_id": ...}}` and `context={"user_id": ...}`.
        The result has `recalled` and `ops` besides `messages`.

    Example:
        ```python
        agent = build_agent()
        out = agent.invoke(
            {"messages": [{"role": "user", "content": "I code in Python"}]},
            config={"configurable": {"thread_id": "t1"}},
            context={"user_id": "alice"},
        )
        out["ops"]  # [{"op": "ADD", "key": "...", "content": "I code in Python", ...}]
        replica = build_agent(store_url="postgresql://user:pw@db/memories")
        ```

    Raises:
        ValueError: `store_url` given together with both `store` and `checkpointer`.
    """
    settings = _settings(settings, store_url, (store, checkpointer))
    chat = _chat_model(model, settings)
    opened = ExitStack()
    try:
        store, checkpointer = _open_defaults(opened, store, checkpointer, embeddings, settings)
    except BaseException:
        opened.close()
        raise
    former = owned_former(opened, background, store, chat, profile)  # stopped before storage
    builder = build_agent_graph(model=chat, background=former, profile=profile)
    builder.owned = _OpenedStorage(opened)
    return builder.compile(store=store, checkpointer=checkpointer, name=AGENT_NAME)


@contextmanager
def open_agent(
    *,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    model: ModelSpec = None,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    store_url: str | Path | None = None,
    background: BackgroundOption = None,
    profile: type[BaseModel] | None = None,
) -> Iterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """`build_agent` as a context manager: storage it opened (and a background
    `MemoryFormer` it made, before the storage) is closed on exit."""
    settings = _settings(settings, store_url, (store, checkpointer))
    with ExitStack() as opened:
        store, checkpointer = _open_defaults(opened, store, checkpointer, embeddings, settings)
        spec = model if model is not None else settings.model
        former = owned_former(opened, background, store, spec, profile)  # closed before storage
        yield build_agent(
            store=store,
            checkpointer=checkpointer,
            model=model,
            settings=settings,
            background=former,
            profile=profile,
        )


@asynccontextmanager
async def aopen_agent(
    *,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    model: ModelSpec = None,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    store_url: str | Path | None = None,
) -> AsyncIterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """An async-capable agent (`ainvoke` / `astream`): defaults open an `AsyncTurnSqliteSaver`
    (`AsyncPostgresSaver` for a `postgresql://` `store_url`).

    Example:
        ```python
        async with aopen_agent(store_url="postgresql://…") as agent:
            out = await agent.ainvoke({"messages": [...]}, config=..., context=...)
        ```
    """
    from hippograph.backends import aopen_checkpointer, aopen_store

    settings = _settings(settings, store_url, (store, checkpointer))
    async with AsyncExitStack() as opened:
        if store is None:
            store = await opened.enter_async_context(
                aopen_store(embeddings=embeddings, settings=settings)
            )
        if checkpointer is None:
            checkpointer = await opened.enter_async_context(aopen_checkpointer(settings=settings))
        yield await asyncio.to_thread(
            build_agent, store=store, checkpointer=checkpointer, model=model, settings=settings
        )
