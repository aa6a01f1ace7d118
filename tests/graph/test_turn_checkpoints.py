"""A turn's checkpoints on the default SQLite checkpointer are committed without an fsync
each and made durable by one fsync when the run ends (issue 16: on a busy disk the per-write
fsyncs were most of a turn's time after embedding); every other write keeps its own fsync."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from hippograph.backends import open_checkpointer
from hippograph.graph import build_agent
from hippograph.graph.checkpoints import TurnSqliteSaver
from tests.conftest import run_config, user_turn

NORMAL, FULL = 1, 2


class RecordingSaver(TurnSqliteSaver):
    """The real saver, recording the `synchronous` setting of each commit and each sync."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.commits: list[int] = []
        self.syncs = 0

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        with super().cursor(transaction) as cur:
            yield cur
            if transaction:
                self.commits.append(cur.execute("PRAGMA synchronous").fetchone()[0])

    def sync(self) -> None:
        self.syncs += 1
        super().sync()


def test_a_turn_commits_without_fsyncs_and_syncs_once_when_it_returns(memory_store, tmp_path):
    path = tmp_path / "checkpoints.db"
    with RecordingSaver.from_conn_string(str(path)) as saver:
        agent = build_agent(store=memory_store, checkpointer=saver)
        agent.invoke(user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "al"})
        assert len(saver.commits) >= 8 and set(saver.commits) == {NORMAL}
        assert saver.syncs == 1
        with sqlite3.connect(path) as other:  # committed: another connection sees the turn
            (count,) = other.execute("SELECT count(*) FROM checkpoints").fetchone()
        assert count == len(list(agent.get_state_history(run_config("t1"))))
        saver.commits.clear()
        saver.delete_thread("t1")  # not a turn: fsynced on commit, as SqliteSaver does
        assert saver.commits == [FULL]


def test_an_abandoned_stream_still_syncs_what_it_wrote(memory_store, tmp_path):
    with RecordingSaver.from_conn_string(str(tmp_path / "checkpoints.db")) as saver:
        agent = build_agent(store=memory_store, checkpointer=saver)
        chunks = agent.stream(
            user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "al"}
        )
        assert next(iter(chunks)).keys() == {"retrieve"}
        chunks.close()
        assert saver.syncs == 1 and set(saver.commits) == {NORMAL}


def test_the_default_sqlite_checkpointer_syncs_turns_once(tmp_path):
    with open_checkpointer(tmp_path / "memories.db") as saver:
        assert isinstance(saver, TurnSqliteSaver)
