"""`hippograph.backends` on `postgresql://` URLs: the store, the checkpointers, the extras."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.memory import InMemoryStore

from hippograph.backends import (
    FeatureUnavailableError,
    aopen_checkpointer,
    aopen_store,
    open_checkpointer,
    open_store,
    require,
    supports,
)
from hippograph.config import Settings
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.store.extras import ExtendedStore
from hippograph.store.postgres import PostgresMemoryStore

NS = ("memories", "alice")


class _Counter(TypedDict):
    seen: Annotated[list[str], operator.add]


def _graph() -> StateGraph[Any]:
    def note(state: _Counter) -> dict[str, list[str]]:
        return {"seen": [f"turn {len(state['seen']) + 1}"]}

    graph = StateGraph(_Counter)
    graph.add_node("note", note)
    graph.add_edge(START, "note")
    graph.add_edge("note", END)
    return graph


def test_open_store_follows_the_store_url_setting(
    pg_url: str, local_embeddings: LocalEmbeddings
) -> None:
    settings = Settings.from_env({"HIPPOGRAPH_STORE_URL": pg_url})
    assert settings.uses_postgres
    with open_store(settings=settings, embeddings=local_embeddings) as store:
        assert isinstance(store, PostgresMemoryStore)
        store.put(NS, "m1", {"content": "I work with NeoVim"})
        assert store.search(NS, query="text editor")[0].key == "m1"
        assert store.count(NS) == 1 and store.history(NS)[0]["op"] == "ADD"
    with open_store(pg_url, embeddings=local_embeddings) as again:
        assert again.get(NS, "m1") is not None


def test_faiss_sqlite_options_are_refused_clearly(
    pg_url: str, local_embeddings: LocalEmbeddings
) -> None:
    with (
        pytest.raises(TypeError, match="durability: not an option of the PostgreSQL backend"),
        open_store(pg_url, embeddings=local_embeddings, durability="normal"),
    ):
        pass


async def test_aopen_store(pg_url: str, local_embeddings: LocalEmbeddings) -> None:
    async with aopen_store(pg_url, embeddings=local_embeddings) as store:
        await store.aput(NS, "m1", {"content": "I love carbonara"})
        assert (await store.asearch(NS, query="Italian food"))[0].key == "m1"


def test_checkpoints_persist_across_opens(pg_url: str) -> None:
    config = {"configurable": {"thread_id": "t1"}}
    for expected in (["turn 1"], ["turn 1", "turn 2"]):
        with open_checkpointer(pg_url) as saver:
            app = _graph().compile(checkpointer=saver)
            assert app.invoke({"seen": []}, config)["seen"] == expected  # type: ignore[arg-type]


async def test_async_checkpoints_share_the_database(pg_url: str) -> None:
    config = {"configurable": {"thread_id": "t2"}}
    with open_checkpointer(pg_url) as saver:
        _graph().compile(checkpointer=saver).invoke({"seen": []}, config)  # type: ignore[arg-type]
    async with aopen_checkpointer(pg_url) as asaver:
        app = _graph().compile(checkpointer=asaver)
        state = await app.ainvoke({"seen": []}, config)  # type: ignore[arg-type]
        assert state["seen"] == ["turn 1", "turn 2"]


BOTH = ("history", "count", "erasure", "links", "verify")


def test_extras_are_reported_per_backend(pg_url: str, local_embeddings: LocalEmbeddings) -> None:
    with open_store(pg_url, embeddings=local_embeddings) as pg:
        assert isinstance(pg, ExtendedStore)
        assert all(supports(pg, f) for f in BOTH)
        require(pg, "links")
        require(pg, "hybrid_search")  # issue 15.1: the same ranking as SQLite
        assert not supports(pg, "index_snapshots")
        assert pg.verify().ok
    with (
        open_store(pg_url, embeddings=local_embeddings, hybrid=None) as vector_only,
        pytest.raises(FeatureUnavailableError, match="opened with hybrid=None"),
    ):
        require(vector_only, "hybrid_search")
    index = {"embed": local_embeddings, "fields": ["content"]}
    with FaissSqliteStore(index=index, hybrid=True) as sqlite_store:  # type: ignore[arg-type]
        assert all(supports(sqlite_store, f) for f in (*BOTH, "hybrid_search"))
    with (
        FaissSqliteStore() as plain,  # hybrid is off unless asked for
        pytest.raises(  # a type check + its settings
            FeatureUnavailableError, match="opened with hybrid=None"
        ),
    ):
        require(plain, "hybrid_search")
    with pytest.raises(FeatureUnavailableError, match="links is unavailable on the InMemory"):
        require(InMemoryStore(), "links")
    with pytest.raises(FeatureUnavailableError, match="history is unavailable on the InMemory"):
        require(InMemoryStore(), "history")
    with pytest.raises(ValueError, match="unknown feature"):
        supports(InMemoryStore(), "telepathy")
