"""Tracing in-process, spans caught in memory: what is traced, with which attributes, and
that switching it off (or never on) leaves LangGraph and the embedders untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.embeddings import Embeddings
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.pregel import Pregel
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hippograph import build_agent, build_recall_graph, build_remember_graph
from hippograph.config import TracingConfigError, TracingSettings
from hippograph.graph.context import Context
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.tracing import active_tracing, setup_tracing, user_pseudonym
from hippograph.tracing.memory import memory_attributes
from tests.tracing.conftest import HIPPOGRAPH, clean_env


@pytest.fixture
def store(tmp_path: Any) -> Iterator[FaissSqliteStore]:
    with FaissSqliteStore.from_conn_string(
        str(tmp_path / "m.db"), index={"embed": "local", "fields": ["content"]}
    ) as opened:
        yield opened


def _start(settings: TracingSettings) -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing = setup_tracing(settings, exporter=exporter)
    assert tracing is not None
    return tracing, exporter


@pytest.fixture
def spans() -> Iterator[Any]:
    """Start tracing into memory; `spans()` flushes and returns what was exported."""
    tracing, exporter = _start(TracingSettings(mode="otlp", salt="unit"))

    def finished() -> list[ReadableSpan]:
        assert tracing.flush()
        return list(exporter.get_finished_spans())

    yield finished
    tracing.shutdown()


def _turn(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _by_name(found: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in found if s.name == name]


def _parent(found: list[ReadableSpan], span: ReadableSpan) -> ReadableSpan | None:
    ids = {s.context.span_id: s for s in found}
    return ids.get(span.parent.span_id) if span.parent else None


def test_off_by_default_and_nothing_is_patched() -> None:
    assert TracingSettings.from_env({}).mode == "off"
    stream = Pregel.__dict__["stream"]
    assert setup_tracing(TracingSettings()) is None
    assert active_tracing() is None and Pregel.__dict__["stream"] is stream


def test_shutdown_removes_every_patch() -> None:
    stream, embed = Pregel.__dict__["stream"], LocalEmbeddings.__dict__["embed_query"]
    tracing, _ = _start(TracingSettings(mode="otlp"))
    assert Pregel.__dict__["stream"] is not stream
    assert LocalEmbeddings.__dict__["embed_query"] is not embed
    tracing.shutdown()
    assert Pregel.__dict__["stream"] is stream
    assert LocalEmbeddings.__dict__["embed_query"] is embed
    assert "__init_subclass__" not in Embeddings.__dict__
    assert active_tracing() is None
    tracing.shutdown()  # again, as atexit would: nothing happens


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HIPPOGRAPH_TRACING": "jaeger"}, "HIPPOGRAPH_TRACING must be one of off, otlp"),
        ({"HIPPOGRAPH_TRACING_USER": "md5"}, "HIPPOGRAPH_TRACING_USER must be one of hash"),
    ],
)
def test_bad_settings_are_one_line_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(TracingConfigError, match=message):
        TracingSettings.from_env(env)
    done = subprocess.run(
        [HIPPOGRAPH, "memories", "list"],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {done.stderr.strip()[7:]}"]
    assert message in done.stderr and "Traceback" not in done.stderr


def test_missing_extra_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['opentelemetry.sdk.trace'] = None\n"
        "from hippograph.config import TracingSettings\n"
        "from hippograph.tracing import TracingUnavailableError, setup_tracing\n"
        "try:\n    setup_tracing(TracingSettings(mode='otlp'))\n"
        "except TracingUnavailableError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "pip install 'hippograph[tracing]'" in done.stdout


def test_user_ids_are_keyed_hashes_by_default() -> None:
    salted = TracingSettings(mode="otlp", salt="s1")
    assert user_pseudonym("alice", salted) == user_pseudonym("alice", salted)
    assert user_pseudonym("alice", salted) != user_pseudonym("bob", salted)
    assert user_pseudonym("alice", salted) != user_pseudonym("alice", TracingSettings(salt="s2"))
    assert user_pseudonym("alice", salted).startswith("u-") and "alice" not in repr(salted)
    unsalted = TracingSettings(mode="otlp")  # a random key, drawn once per process
    assert user_pseudonym("alice", unsalted) == user_pseudonym("alice", unsalted)
    assert user_pseudonym("alice", unsalted) != user_pseudonym("alice", salted)
    assert user_pseudonym("alice", TracingSettings(user="plain")) == "alice"
    assert user_pseudonym("alice", TracingSettings(user="off")) is None


def test_async_turn_and_plain_user_ids(store: FaissSqliteStore) -> None:
    import asyncio

    tracing, exporter = _start(TracingSettings(mode="otlp", user="plain"))
    try:
        agent = build_agent(store=store, checkpointer=InMemorySaver(), model=None)
        config = {"configurable": {"thread_id": "async-t"}}
        asyncio.run(agent.ainvoke(_turn("I grow tomatoes."), config, context={"user_id": "ann"}))
        assert tracing.flush()
        found = list(exporter.get_finished_spans())
    finally:
        tracing.shutdown()
    for name in ("hippograph", "retrieve", "respond", "extract", "reconcile"):
        (span,) = _by_name(found, name)
        assert span.attributes["user.id"] == "ann" and span.attributes["session.id"] == "async-t"
    (reconcile,) = _by_name(found, "reconcile")
    assert list(reconcile.attributes["hippograph.memory.ops"]) == ["ADD"]


def test_no_user_attribute_when_switched_off(store: FaissSqliteStore) -> None:
    tracing, exporter = _start(TracingSettings(mode="otlp", user="off"))
    try:
        agent = build_agent(store=store, checkpointer=InMemorySaver(), model=None)
        agent.invoke(_turn("I grow tomatoes."), {"configurable": {"thread_id": "t"}},
                     context={"user_id": "ann"})  # fmt: skip
        assert tracing.flush()
        found = list(exporter.get_finished_spans())
    finally:
        tracing.shutdown()
    assert found and not any("user.id" in (s.attributes or {}) for s in found)
    assert "ann" not in json.dumps([dict(s.attributes or {}) for s in found], default=str)


class _Parent(TypedDict, total=False):
    messages: list[Any]
    recalled: list[dict[str, Any]]
    ops: list[dict[str, Any]]
    candidates: list[dict[str, Any]]


def test_subgraphs_nest_under_the_parent_graph(store: FaissSqliteStore, spans: Any) -> None:
    builder = StateGraph(_Parent, context_schema=Context)
    builder.add_node("remember", build_remember_graph())
    builder.add_node("recall", build_recall_graph())
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    graph = builder.compile(store=store, checkpointer=InMemorySaver(), name="my-agent")
    out = graph.invoke(
        _turn("My sister Ines lives in Porto."),
        {"configurable": {"thread_id": "sub-t"}},
        context={"user_id": "bea"},
    )
    found = spans()
    (root,) = _by_name(found, "my-agent")
    retrieve = next(s for s in found if s.name == "retrieve")
    reconcile = next(s for s in found if s.name == "reconcile")
    # my-agent → recall (node) → … → retrieve; my-agent → remember → … → reconcile
    chain, span = [], retrieve
    while (span := _parent(found, span)) is not None:
        chain.append(span.name)
    assert chain[-1] == "my-agent" and "recall" in chain
    assert list(retrieve.attributes["hippograph.recall.scores"]) == [
        m["score"] for m in out["recalled"]
    ]
    assert reconcile.attributes["hippograph.memory.added"] == 1
    assert {s.attributes.get("user.id") for s in found} == {user_pseudonym("bea")}
    assert root.attributes["session.id"] == "sub-t"


def test_embedders_defined_after_setup_are_traced(spans: Any) -> None:
    class Counting(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(len(t))] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]  # one span, not two

    Counting().embed_query("hello")
    (span,) = [s for s in spans() if s.attributes.get("openinference.span.kind") == "EMBEDDING"]
    assert span.name == "embed_query"
    assert span.attributes["embedding.model_name"] == "Counting"
    assert span.attributes["embedding.embeddings.0.embedding.text"] == "hello"


def test_memory_attributes_from_node_outputs() -> None:
    recalled = [{"key": "k1", "content": "Lives in Porto", "score": 0.8}]
    retrieve = memory_attributes(json.dumps({"recalled": recalled}))
    assert retrieve["openinference.span.kind"] == "RETRIEVER"
    assert retrieve["hippograph.recall.scores"] == [0.8]
    assert retrieve["retrieval.documents.0.document.content"] == "Lives in Porto"
    ops = [
        {"op": "UPDATE", "key": "k1", "content": "Lives in Lisbon"},
        {"op": "NOOP", "key": "k2", "content": "Has a cat"},
    ]
    turn = memory_attributes({"messages": [], "recalled": recalled, "ops": ops})
    assert "openinference.span.kind" not in turn  # a whole turn is not a retriever
    assert turn["hippograph.memory.ops"] == ["UPDATE", "NOOP"]
    assert (turn["hippograph.memory.updated"], turn["hippograph.memory.unchanged"]) == (1, 1)
    assert turn["hippograph.memory.added"] == turn["hippograph.memory.deleted"] == 0
    assert memory_attributes('{"messages": []}') == {} == memory_attributes("not json")
