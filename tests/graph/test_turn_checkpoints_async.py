"""The async twin: an async turn on the default SQLite checkpointer (`aopen_checkpointer`,
`aopen_agent`) commits its checkpoints without an fsync each and is made durable by one
fsync when the run ends, as a sync turn is (issue 16); every other write keeps its fsync."""

from __future__ import annotations

import sqlite3

import aiosqlite

from hippograph.backends import aopen_checkpointer
from hippograph.config import Settings
from hippograph.graph import aopen_agent, build_agent
from hippograph.graph.checkpoints import AsyncTurnSqliteSaver
from tests.conftest import run_config, user_turn

NORMAL, FULL = 1, 2


class AsyncRecordingSaver(AsyncTurnSqliteSaver):
    """The real async saver, recording the `synchronous` setting each write committed
    with, and each sync."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(conn)
        self.commits: list[int] = []
        self.syncs = 0

    async def _mode_now(self) -> None:
        (row,) = await self.conn.execute_fetchall("PRAGMA synchronous")
        self.commits.append(row[0])

    async def aput(self, *args, **kwargs):
        saved = await super().aput(*args, **kwargs)
        await self._mode_now()
        return saved

    async def aput_writes(self, *args, **kwargs):
        await super().aput_writes(*args, **kwargs)
        await self._mode_now()

    async def adelete_thread(self, thread_id: str) -> None:
        await super().adelete_thread(thread_id)
        await self._mode_now()

    async def sync(self) -> None:
        self.syncs += 1
        await super().sync()


async def test_an_async_turn_commits_without_fsyncs_and_syncs_once(memory_store, tmp_path):
    path = tmp_path / "checkpoints.db"
    async with AsyncRecordingSaver.from_conn_string(str(path)) as saver:
        agent = build_agent(store=memory_store, checkpointer=saver)
        await agent.ainvoke(
            user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "al"}
        )
        assert len(saver.commits) >= 8 and set(saver.commits) == {NORMAL}
        assert saver.syncs == 1
        with sqlite3.connect(path) as other:  # committed: another connection sees the turn
            (count,) = other.execute("SELECT count(*) FROM checkpoints").fetchone()
        assert count == len([state async for state in agent.aget_state_history(run_config("t1"))])
        saver.commits.clear()
        await saver.adelete_thread("t1")  # not a turn: fsynced on commit, as LangGraph's saver
        assert saver.commits == [FULL]


async def test_an_abandoned_async_stream_still_syncs_what_it_wrote(memory_store, tmp_path):
    async with AsyncRecordingSaver.from_conn_string(str(tmp_path / "checkpoints.db")) as saver:
        agent = build_agent(store=memory_store, checkpointer=saver)
        chunks = agent.astream(
            user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "al"}
        )
        assert (await anext(chunks)).keys() == {"retrieve"}
        await chunks.aclose()
        assert saver.syncs == 1 and set(saver.commits) == {NORMAL}


async def test_the_default_async_sqlite_checkpointer_syncs_turns_once(tmp_path):
    async with aopen_checkpointer(tmp_path / "memories.db") as saver:
        assert isinstance(saver, AsyncTurnSqliteSaver)


async def test_an_async_agent_turn_is_on_disk_when_it_returns(tmp_path):
    settings = Settings(db_path=tmp_path / "memories.db", user_id="alice")
    async with aopen_agent(settings=settings) as agent:
        assert isinstance(agent.checkpointer, AsyncTurnSqliteSaver)
        out = await agent.ainvoke(
            user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "alice"}
        )
        with sqlite3.connect(settings.checkpoint_path) as other:
            (count,) = other.execute(
                "SELECT count(*) FROM checkpoints WHERE thread_id = 't1'"
            ).fetchone()
        assert count == 6  # input, START and the four nodes
    assert [op["content"] for op in out["ops"]] == ["I live in Lisbon."]
