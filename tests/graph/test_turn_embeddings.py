"""A turn embeds each of its texts once: retrieve's queries go in one batch, and reconcile's
searches, exact cosines and writes reuse the vectors (issue 16 measures the time)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langgraph.checkpoint.memory import InMemorySaver

from hippograph.backends import memory_index_config
from hippograph.graph import build_agent, build_recall_graph
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from tests.conftest import run_config, user_turn


class RecordingEmbeddings(LocalEmbeddings):
    """The real embedder, recording every text its model runs on (`ran`) and each model
    run's batch (`runs`)."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []
        self.runs: list[list[str]] = []

    def _compute(self, texts: Sequence[str]) -> np.ndarray:
        self.ran += texts
        self.runs.append(list(texts))
        return super()._compute(texts)


@contextmanager
def _agent(path: Path, embedder: Embeddings) -> Iterator[Any]:
    """The agent on a fresh store at `path` that embeds with `embedder`."""
    with FaissSqliteStore.from_conn_string(
        str(path / "m.db"), index=memory_index_config(embedder)
    ) as store:
        yield build_agent(store=store, checkpointer=InMemorySaver())


def test_each_text_of_a_turn_is_embedded_once(tmp_path):
    embedder = RecordingEmbeddings()
    with _agent(tmp_path, embedder) as agent:
        context = {"user_id": "alice"}
        agent.invoke(
            user_turn("I live in Lisbon and I work at Acme."), run_config(), context=context
        )
        assert sorted(embedder.ran) == sorted(
            [
                "I live in Lisbon and I work at Acme.",  # retrieve
                "I live in Lisbon.",  # reconcile: searched, re-scored and stored
                "I work at Acme.",
                "Lisbon",  # linking: memories naming the same entities
                "Acme",
            ]
        )
        embedder.ran.clear()
        agent.invoke(user_turn("I have a cat named Miso."), run_config(), context=context)
        assert len(embedder.ran) == len(set(embedder.ran))  # stored memories come cached
        assert "I live in Lisbon." not in embedder.ran


def test_retrieves_two_queries_run_through_the_model_together(tmp_path):
    embedder = RecordingEmbeddings()
    with FaissSqliteStore.from_conn_string(
        str(tmp_path / "m.db"), index=memory_index_config(embedder)
    ) as store:
        recall = build_recall_graph(store=store)
        earlier, latest = "I adopted a cat named Miso.", "What does she eat?"
        messages = [user_turn(earlier)["messages"][0], user_turn(latest)["messages"][0]]
        recall.invoke({"messages": messages}, context={"user_id": "alice"})
        # one run: the window query's vector is pooled from the messages' (issue 16)
        assert embedder.runs == [[earlier, latest]]


@pytest.mark.parametrize("hybrid", [False, True], ids=["vector", "hybrid"])
def test_memories_a_turn_finds_are_not_embedded_again(tmp_path, hybrid):
    """Reconcile compares each fact with the memories it found by their stored vectors:
    with an embedder that has never seen them (a new process, or a cache other users
    filled), the memories' texts do not run through the model."""
    path = str(tmp_path / "m.db")
    stored = ["I live in Lisbon.", "I work at Acme.", "I have a cat named Miso."]
    with FaissSqliteStore.from_conn_string(
        path, index=memory_index_config(LocalEmbeddings()), hybrid=hybrid
    ) as store:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        agent.invoke(user_turn(" ".join(stored)), run_config(), context={"user_id": "alice"})
        assert len(store.search(("memories", "alice"), limit=10)) == 3
    embedder = RecordingEmbeddings()
    with FaissSqliteStore.from_conn_string(
        path, index=memory_index_config(embedder), hybrid=hybrid
    ) as store:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        out = agent.invoke(
            user_turn("I live in Lisbon."), run_config("t2"), context={"user_id": "alice"}
        )
        assert [op["op"] for op in out["ops"]] == ["NOOP"]  # the duplicate is still seen
        assert out["ops"][0]["score"] == pytest.approx(1.0, abs=1e-5)
        assert embedder.ran == ["I live in Lisbon."]  # retrieve's query; nothing stored


class ProviderEmbeddings(Embeddings):
    """An embedder as a provider package gives it (not `LocalEmbeddings`: no cache of its
    own, queries and documents embedded by separate calls), computing with the real MiniLM
    and recording each call: `("query" | "documents", texts)`."""

    def __init__(self) -> None:
        self.model = LocalEmbeddings(cache_size=0)
        self.calls: list[tuple[str, list[str]]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(("documents", list(texts)))
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls.append(("query", [text]))
        return self.model.embed_query(text)

    def sent(self) -> list[tuple[str, str]]:
        """Each text sent to the provider, with how it was embedded."""
        return [(kind, text) for kind, texts in self.calls for text in texts]


def test_a_provider_embedder_is_paid_once_per_text(tmp_path):
    """With a provider's embedder (each call a paid, slow request) a conversation sends each
    text once as a query and once as a document: reconcile's search for a fact that is the
    message, its exact cosines and the write reuse what retrieve and earlier turns sent."""
    provider = ProviderEmbeddings()
    with _agent(tmp_path, provider) as agent:
        context = {"user_id": "alice"}
        turns = ["I code in Python.", "My sister is Ana.", "I code in Python."]
        ops = [
            [op["op"] for op in agent.invoke(user_turn(text), run_config(), context=context)["ops"]]
            for text in turns
        ]
        assert ops == [["ADD"], ["ADD"], ["NOOP"]]  # the repeat is still seen as one
        sent = provider.sent()
        assert len(sent) == len(set(sent)), sent
        assert ("documents", "I code in Python.") in sent
