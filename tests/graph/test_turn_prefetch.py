"""A turn's one model run starts with the run, not when retrieve gets to it (issue 16): the
agent's run hands its message to the embedding worker before its thread check, and
retrieve takes that vector; the message is still embedded once, recall is unchanged, an
embedder failure is still retrieve's error, and the worker is reused, not a thread per turn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config
from langgraph.graph import START
from langgraph.store.base import GetOp

from hippograph.backends import memory_index_config
from hippograph.graph import build_agent
from hippograph.graph.agent import AgentBuilder
from hippograph.memory.context import Context
from hippograph.memory.prefetch import (
    PREFETCHED_VECTOR_KEY,
    THREAD_NAME,
    WORKERS,
    prefetch_vector,
)
from hippograph.memory.state import State
from hippograph.store import EmbeddingError, FaissSqliteStore, LocalEmbeddings
from hippograph.store.threads import THREADS, ThreadOwnerError
from tests.conftest import run_config, user_turn

WAIT = 5.0
"""How long the thread check waits for the model run to start (a bound, never reached
when the run starts it first)."""


class RecordingEmbeddings(LocalEmbeddings):
    """The real embedder (no cache), recording each text it runs on, the thread that ran
    it, and when a text in `watched` starts (`started`)."""

    def __init__(self, watched: str = "", fail_on: str = "") -> None:
        super().__init__(cache_size=0)
        self.ran: list[tuple[str, str]] = []
        self.watched = watched
        self.fail_on = fail_on
        self.started = threading.Event()

    def _compute(self, texts: Sequence[str]) -> np.ndarray:
        if self.watched in texts:
            self.started.set()
        self.ran += [(text, threading.current_thread().name) for text in texts]
        if self.fail_on in texts:
            raise RuntimeError("model crashed")
        return super()._compute(texts)


class CheckWaitingStore(FaissSqliteStore):
    """The real store whose thread check, once `waiting`, waits (up to `WAIT`) for the
    embedder to start on the turn's message, recording whether it had
    (`started_before_check`)."""

    waiting = False
    started_before_check: list[bool]

    def _check(self, ops: list[Any]) -> None:
        if self.waiting and any(isinstance(op, GetOp) and op.namespace == THREADS for op in ops):
            assert isinstance(self.embeddings, RecordingEmbeddings)
            self.started_before_check.append(self.embeddings.started.wait(WAIT))

    def batch(self, ops: Iterable[Any]) -> list[Any]:
        ops = list(ops)
        self._check(ops)
        return super().batch(ops)

    async def abatch(self, ops: Iterable[Any]) -> list[Any]:
        ops = list(ops)
        await asyncio.to_thread(self._check, ops)
        return await super().abatch(ops)


def _store(tmp_path, embedder: LocalEmbeddings) -> CheckWaitingStore:
    store = CheckWaitingStore(str(tmp_path / "m.db"), index=memory_index_config(embedder))
    store.started_before_check = []
    return store


@contextmanager
def _agent(tmp_path, embedder: Embeddings) -> Iterator[tuple[FaissSqliteStore, Any]]:
    """The agent on a real store with `embedder`."""
    with FaissSqliteStore.from_conn_string(
        str(tmp_path / "m.db"), index=memory_index_config(embedder)
    ) as store:
        yield store, build_agent(store=store, checkpointer=InMemorySaver())


QUESTION = "What is Ana allergic to?"


def test_the_model_runs_on_the_message_while_the_run_starts(tmp_path):
    embedder = RecordingEmbeddings(watched=QUESTION)
    store = _store(tmp_path, embedder)
    try:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        context = {"user_id": "alice"}
        agent.invoke(user_turn("Ana is allergic to peanuts."), run_config("t0"), context=context)
        embedder.ran.clear()
        store.waiting = True
        result = agent.invoke(user_turn(QUESTION), run_config("t1"), context=context)
        assert store.started_before_check[:1] == [True]  # before the thread check finished
        assert [m["content"] for m in result["recalled"]][:1] == ["Ana is allergic to peanuts."]
        runs = [thread for text, thread in embedder.ran if text == QUESTION]
        assert len(runs) == 1 and runs[0].startswith(THREAD_NAME)
    finally:
        store.close()


def test_an_async_turn_starts_its_model_run_with_the_run(tmp_path):
    embedder = RecordingEmbeddings(watched=QUESTION)
    store = _store(tmp_path, embedder)
    try:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        store.waiting = True
        result = asyncio.run(
            agent.ainvoke(user_turn(QUESTION), run_config("t1"), context={"user_id": "alice"})
        )
        assert store.started_before_check[:1] == [True]
        assert result["messages"][-1].type == "ai"
        assert [text for text, _ in embedder.ran].count(QUESTION) == 1
    finally:
        store.close()


def test_an_embedder_failure_is_still_retrieves_error(tmp_path):
    embedder = RecordingEmbeddings(fail_on="My cat is called Miso.")
    with _agent(tmp_path, embedder) as (store, agent):
        with pytest.raises(EmbeddingError, match=r"embedding the turn failed: RuntimeError"):
            agent.invoke(
                user_turn("My cat is called Miso."), run_config(), context={"user_id": "al"}
            )
        assert store.search(("memories", "al")) == []


def test_a_refused_turn_still_writes_nothing(tmp_path):
    embedder = RecordingEmbeddings()
    with _agent(tmp_path, embedder) as (store, agent):
        agent.invoke(user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "al"})
        with pytest.raises(ThreadOwnerError):
            agent.invoke(user_turn("I live in Porto."), run_config("t1"), context={"user_id": "bo"})
        assert store.search(("memories", "bo")) == []


def test_turns_reuse_the_embedding_worker(tmp_path, embeddings):
    with _agent(tmp_path, embeddings) as (_, agent):
        for n in range(8):
            agent.invoke(user_turn(f"I own {n} bikes."), run_config(), context={"user_id": "al"})
        workers = [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]
        assert 1 <= len(workers) <= WORKERS


def test_a_vector_named_in_the_config_is_not_taken(tmp_path, embeddings):
    """Only the run itself can hand retrieve a vector: a caller's JSON is ignored, and a
    vector of another text or embedder is not used."""
    embedder = RecordingEmbeddings()
    with _agent(tmp_path, embedder) as (store, agent):
        agent.invoke(user_turn("Ana likes tea."), run_config(), context={"user_id": "al"})
        forged = {"configurable": {"thread_id": "t2", PREFETCHED_VECTOR_KEY: [0.1] * 384}}
        result = agent.invoke(user_turn("What does Ana like?"), forged, context={"user_id": "al"})
        assert [m["content"] for m in result["recalled"]] == ["Ana likes tea."]
    other = prefetch_vector(store, "Ana likes tea.")
    assert other is not None
    assert other.take(embedder, "What does Ana like?") is None
    assert other.take(embeddings, "Ana likes tea.") is None


def test_a_graph_that_does_not_start_with_retrieve_embeds_nothing_ahead(tmp_path, embeddings):
    """`AgentBuilder` compiles other graphs too (the benchmark's empty loop): their runs
    start no model run that nothing would take."""
    seen: list[object] = []

    def node(state: State) -> dict[str, Any]:
        seen.append((get_config().get("configurable") or {}).get(PREFETCHED_VECTOR_KEY))
        return {}

    builder = AgentBuilder(State, context_schema=Context)
    builder.add_node("work", node)
    builder.add_edge(START, "work")
    with FaissSqliteStore.from_conn_string(
        str(tmp_path / "m.db"), index=memory_index_config(embeddings)
    ) as store:
        graph = builder.compile(store=store, checkpointer=InMemorySaver())
        graph.invoke(user_turn("I live in Lisbon."), run_config(), context={"user_id": "al"})
    assert seen == [None]
