"""The memory agent on PostgreSQL: `build_agent(store_url=...)`, its async twin, and two agent
processes sharing one database, one of them the `hippograph chat` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from hippograph.backends import open_store
from hippograph.graph import aopen_agent, build_agent, open_agent
from hippograph.memories import MemoryManager
from hippograph.store import FaissSqliteStore, LocalEmbeddings, memory_namespace
from hippograph.store.postgres import PostgresMemoryStore
from tests.conftest import run_config, user_turn
from tests.replicas import AgentProcess, ChatProcess

SISTER = "My sister lives in Lisbon and works as a nurse."
BICYCLE = "I ride a red bicycle to work."


def test_build_agent_on_a_postgres_url(pg_url: str, local_embeddings: LocalEmbeddings) -> None:
    agent = build_agent(store_url=pg_url, embeddings=local_embeddings)
    assert isinstance(agent.store, PostgresMemoryStore)
    assert isinstance(agent.checkpointer, PostgresSaver)
    first = agent.invoke(user_turn(SISTER), config=run_config("t1"), context={"user_id": "alice"})
    assert [(op["op"], op["content"]) for op in first["ops"]] == [("ADD", SISTER)]

    with open_agent(store_url=pg_url, embeddings=local_embeddings) as again:
        out = again.invoke(
            user_turn("Where does my sister live?"),
            config=run_config("t1"),
            context={"user_id": "alice", "store_questions": False},
        )
        bob = again.invoke(
            user_turn("Where does my sister live?"),
            config=run_config("t2"),
            context={"user_id": "bob", "store_questions": False},
        )
    assert [m["content"] for m in out["recalled"]] == [SISTER]
    assert len([m for m in out["messages"] if m.type == "human"]) == 2  # thread checkpointed
    assert bob["recalled"] == [] and "Lisbon" not in bob["messages"][-1].text

    with open_store(pg_url, embeddings=local_embeddings) as store:
        (added,) = MemoryManager(store, "alice").history()
    assert added["op"] == "ADD" and added["source"]["thread_id"] == "t1"


async def test_aopen_agent_on_a_postgres_url(
    pg_url: str, local_embeddings: LocalEmbeddings
) -> None:
    async with aopen_agent(store_url=pg_url, embeddings=local_embeddings) as agent:
        assert isinstance(agent.checkpointer, AsyncPostgresSaver)
        await agent.ainvoke(user_turn(BICYCLE), config=run_config(), context={"user_id": "u"})
        out = await agent.ainvoke(
            user_turn("How do I commute to work?"),
            config=run_config(),
            context={"user_id": "u", "store_questions": False},
        )
    assert [m["content"] for m in out["recalled"]] == [BICYCLE]
    assert len(out["messages"]) == 4


def test_a_path_selects_sqlite_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_embeddings: LocalEmbeddings
) -> None:
    monkeypatch.setenv("HIPPOGRAPH_STORE_URL", "postgresql://nobody@unreachable.invalid/db")
    with open_agent(store_url=tmp_path / "m.db", embeddings=local_embeddings) as agent:
        assert isinstance(agent.store, FaissSqliteStore)
        assert isinstance(agent.checkpointer, SqliteSaver)
        agent.invoke(user_turn(BICYCLE), config=run_config(), context={"user_id": "u"})
    assert (tmp_path / "m.db").is_file() and (tmp_path / "m-checkpoints.db").is_file()


def test_store_url_that_would_open_nothing_is_refused(memory_store, checkpointer) -> None:
    with pytest.raises(ValueError, match="store_url= only chooses where the default"):
        build_agent(store=memory_store, checkpointer=checkpointer, store_url="x.db")


def test_two_agent_processes_share_one_database(
    pg_url: str, tmp_path: Path, local_embeddings: LocalEmbeddings
) -> None:
    """A `hippograph chat` process and a Python agent process, started independently on the
    same database, each recall what the other remembered; bob sees none of alice's."""
    chat_args = ["--user", "alice", "--thread", "cli-a", "--store", pg_url]
    with AgentProcess(pg_url) as replica, ChatProcess(chat_args, cwd=tmp_path) as chat:
        chat.wait_for("hippograph chat — user alice")
        assert replica.ready() == ("PostgresMemoryStore", "PostgresSaver")

        assert f"+ ADDED   {SISTER}" in chat.turn(SISTER)
        out = replica.turn("alice", "py-b", "Where does my sister live?")
        assert [m["content"] for m in out["recalled"]] == [SISTER] and out["ops"] == []
        assert replica.turn("bob", "py-bob", "Where does my sister live?")["recalled"] == []

        added = replica.turn("alice", "py-b", BICYCLE)
        assert [(op["op"], op["content"]) for op in added["ops"]] == [("ADD", BICYCLE)]
        assert f"recalled: {BICYCLE} (0." in chat.turn("How do I commute to work?")

    with open_store(pg_url, embeddings=local_embeddings) as store:
        alice = store.search(memory_namespace("alice"), limit=10)
        assert {(i.value["content"], i.value["source"]["thread_id"]) for i in alice} == {
            (SISTER, "cli-a"),
            (BICYCLE, "py-b"),
        }
        assert store.search(memory_namespace("bob")) == []
