"""A thread is one user's from its first turn: two users racing for a brand-new thread id
get exactly one owner, and another user's direct `invoke` / `ainvoke` (or a run through the
LangGraph server) on a thread leaves no trace of their message in it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from hippograph.config import Settings
from hippograph.graph import aopen_agent, open_agent
from hippograph.store import FaissSqliteStore
from hippograph.store import threads as thread_records
from hippograph.store.threads import ThreadOwnerError, claim_thread, thread_owner
from tests.conftest import run_config, user_turn


def _race_at_the_read(monkeypatch: pytest.MonkeyPatch, store: Any, rival: str) -> None:
    """Make the next ownership read return what it saw *before* `rival` claims the same
    thread: the interleaving of two first turns arriving at the same instant."""
    real = thread_records.thread_owner
    raced: list[str] = []

    def stale_read(store_: Any, thread_id: str) -> str | None:
        seen = real(store_, thread_id)
        if not raced:
            raced.append(thread_id)
            claim_thread(store, rival, thread_id)  # the rival's whole claim happens now
        return seen

    monkeypatch.setattr(thread_records, "thread_owner", stale_read)


def test_two_users_racing_for_a_new_thread_get_one_owner(
    memory_store: FaissSqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _race_at_the_read(monkeypatch, memory_store, rival="bob")
    with pytest.raises(ThreadOwnerError, match="belongs to another user"):
        claim_thread(memory_store, "alice", "fresh")  # saw no owner, but bob got there first
    monkeypatch.undo()
    assert thread_owner(memory_store, "fresh") == "bob"  # bob's claim was not overwritten
    claim_thread(memory_store, "bob", "fresh")  # and his next turn goes on


def test_on_langgraph_stores_the_last_write_still_decides_one_owner() -> None:
    """`InMemoryStore` has no conditional write: documented as last-write-wins, and the
    re-read still refuses the loser rather than letting both talk in the thread."""
    store = InMemoryStore()
    claim_thread(store, "alice", "t")
    with pytest.raises(ThreadOwnerError):
        claim_thread(store, "bob", "t")


def _values(agent: Any, thread: str) -> dict[str, Any]:
    return dict(agent.get_state(run_config(thread)).values)


def _history_texts(agent: Any, thread: str) -> list[str]:
    return [
        str(message.content)
        for snapshot in agent.get_state_history(run_config(thread))
        for message in snapshot.values.get("messages", [])
    ]


def test_another_users_invoke_leaves_no_trace_in_the_thread(tmp_path: Path) -> None:
    with open_agent(settings=Settings(db_path=tmp_path / "memories.db")) as agent:
        agent.invoke(user_turn("I live in Lisbon."), run_config("a1"), context={"user_id": "alice"})
        before = _values(agent, "a1")

        with pytest.raises(ThreadOwnerError, match="belongs to another user"):
            agent.invoke(
                user_turn("Bob was here: zqx-intruder"),
                run_config("a1"),
                context={"user_id": "bob"},
            )

        assert _values(agent, "a1") == before
        assert not any("zqx-intruder" in text for text in _history_texts(agent, "a1"))
        after = agent.invoke(
            user_turn("Where do I live?"), run_config("a1"), context={"user_id": "alice"}
        )
        texts = [str(m.content) for m in after["messages"]]
        assert texts[0] == "I live in Lisbon." and not any("zqx-intruder" in t for t in texts)
        assert len(texts) == 4  # alice's two turns and their answers, nothing of bob's


def test_another_users_ainvoke_and_astream_leave_no_trace(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with aopen_agent(settings=Settings(db_path=tmp_path / "memories.db")) as agent:
            await agent.ainvoke(
                user_turn("I live in Lisbon."), run_config("a1"), context={"user_id": "alice"}
            )
            with pytest.raises(ThreadOwnerError):
                await agent.ainvoke(
                    user_turn("zqx-intruder"), run_config("a1"), context={"user_id": "bob"}
                )
            with pytest.raises(ThreadOwnerError):
                async for _ in agent.astream(
                    user_turn("zqx-intruder"), run_config("a1"), context={"user_id": "bob"}
                ):
                    pass
            state = await agent.aget_state(run_config("a1"))
            texts = [str(m.content) for m in state.values["messages"]]
            assert len(texts) == 2 and not any("zqx-intruder" in t for t in texts)

    asyncio.run(scenario())
