"""Threads belong to the user who talks in them: erasure goes by owner, imported provenance
claims nothing, and nobody continues (or reads) another user's conversation.

Driven the way a user meets it: `hippograph chat` / `memories import` / `memories delete
--all` through the CLI, on SQLite, and the same through the API on PostgreSQL.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from typer.testing import CliRunner

from hippograph.backends import open_checkpointer, open_store
from hippograph.cli import app
from hippograph.config import Settings
from hippograph.erasure import erase_user
from hippograph.graph import open_agent
from hippograph.memories import MemoryManager
from hippograph.store.threads import THREADS, ThreadOwnerError, forget_threads, owned_threads
from tests.conftest import run_config, user_turn
from tests.reliability.test_erasure import traces

runner = CliRunner(env={"COLUMNS": "200"})


def _cli(db: Path, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, [*args, "--db", str(db)], input=input)


def _chat(db: Path, user: str, thread: str, *lines: str) -> Any:
    result = _cli(
        db, "chat", "--user", user, "--thread", thread, input="\n".join([*lines, "/exit"])
    )
    assert result.exit_code == 0, result.output
    return result


def _messages(saver: BaseCheckpointSaver[Any], thread: str) -> list[str]:
    found = saver.get_tuple(run_config(thread))
    if found is None:
        return []
    return [m.content for m in found.checkpoint["channel_values"].get("messages", [])]


def _thread_messages(db: Path, thread: str) -> list[str]:
    with open_checkpointer(settings=Settings(db_path=db)) as saver:
        return _messages(saver, thread)


def test_imported_provenance_cannot_erase_another_users_thread(tmp_path: Path) -> None:
    """(a) B imports a memory whose provenance names A's thread, B is erased: A's
    conversation survives, and B's imported provenance is marked as imported."""
    db = tmp_path / "data" / "memories.db"
    _chat(db, "alice", "alice-thread", "My locker code is zqx0vault.")
    file = tmp_path / "bob.jsonl"
    line = {"content": "Bob keeps bees", "source": {"thread_id": "alice-thread", "origin": "x"}}
    file.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert _cli(db, "memories", "import", str(file), "--user", "bob").exit_code == 0
    exported = _cli(db, "memories", "export", "-", "--user", "bob").output
    source = json.loads(exported.splitlines()[0])["source"]
    assert source == {"thread_id": "alice-thread", "origin": "x", "imported": True}

    erased = _cli(db, "memories", "delete", "--all", "--user", "bob", "--yes")

    assert erased.exit_code == 0, erased.output
    assert "erased 1 memories" in erased.output and "0 conversation threads" in erased.output
    assert "My locker code is zqx0vault." in _thread_messages(db, "alice-thread")
    again = _chat(db, "alice", "alice-thread", "Where is my locker code?")
    assert "zqx0vault" in again.output  # alice's memories and conversation are intact


def test_a_thread_without_memories_is_erased_with_its_owner(tmp_path: Path) -> None:
    """(b) A thread in which nothing was remembered still belongs to its user."""
    db = tmp_path / "data" / "memories.db"
    _chat(db, "alice", "alice-questions-only", "Where did I park zqxcar?")
    _chat(db, "alice", "alice-facts", "My locker code is zqx0vault.")
    _chat(db, "bob", "bob-thread", "I like green tea.")
    assert [m.content for m in _manager_list(db, "alice")] == ["My locker code is zqx0vault."]
    assert _thread_messages(db, "alice-questions-only")

    erased = _cli(db, "memories", "delete", "--all", "--user", "alice", "--yes")

    assert "2 conversation threads" in erased.output, erased.output
    assert _thread_messages(db, "alice-questions-only") == []
    assert _thread_messages(db, "alice-facts") == []
    assert "I like green tea." in _thread_messages(db, "bob-thread")
    assert traces(tmp_path, [b"zqx", b"alice-questions-only", b"alice-facts"]) == []


def _manager_list(db: Path, user: str) -> list[Any]:
    with open_store(settings=Settings(db_path=db)) as store:
        return MemoryManager(store, user).list()


def test_another_users_thread_is_refused(tmp_path: Path) -> None:
    """(c) B cannot continue, or read through the agent, a thread A talks in: a one-line
    error, exit code 7 (refused), and A's conversation is untouched."""
    db = tmp_path / "data" / "memories.db"
    _chat(db, "alice", "shared-name", "My locker code is zqx0vault.")
    before = _thread_messages(db, "shared-name")

    refused = _cli(db, "chat", "--user", "bob", "--thread", "shared-name", input="Hi\n/exit")

    assert refused.exit_code == 7  # ExitCode.REFUSED
    assert "thread 'shared-name' belongs to another user" in refused.output
    assert "zqx0vault" not in refused.output and "Traceback" not in refused.output
    assert _thread_messages(db, "shared-name") == before
    assert _chat(db, "bob", "bob-own", "Hi").exit_code == 0  # a thread of his own works


def test_the_agent_refuses_another_users_thread_when_invoked_directly(tmp_path: Path) -> None:
    """Called straight through `agent.invoke`, the agent's first node refuses the turn:
    nothing of A's comes back and nothing is remembered for B."""
    settings = Settings(db_path=tmp_path / "memories.db")
    with open_agent(settings=settings) as agent:
        agent.invoke(
            user_turn("My locker code is zqx0vault."),
            run_config("t1"),
            context={"user_id": "alice"},
        )
        with pytest.raises(ThreadOwnerError, match="belongs to another user"):
            agent.invoke(
                user_turn("What is my code?"), run_config("t1"), context={"user_id": "bob"}
            )
        assert owned_threads(agent.store, "alice") == ["t1"]
        assert owned_threads(agent.store, "bob") == []
        assert MemoryManager(agent.store, "bob").list() == []


def test_ownership_and_erasure_on_postgres(pg_url: str, pg_server: Any) -> None:
    """The same rules with `PostgresMemoryStore` + `PostgresSaver` on one database."""
    settings = Settings(db_path=Path("unused.db"), store_url=pg_url)
    with open_agent(settings=settings) as agent:
        for user, thread, text in [
            ("alice", "a-facts", "My locker code is zqx0vault."),
            ("alice", "a-questions", "Where did I park?"),
            ("bob", "b-thread", "I like green tea."),
        ]:
            agent.invoke(user_turn(text), run_config(thread), context={"user_id": user})
        with pytest.raises(ThreadOwnerError):
            agent.invoke(user_turn("Hi"), run_config("a-facts"), context={"user_id": "bob"})
        bob = MemoryManager(agent.store, "bob")
        bob.import_jsonl(_jsonl({"content": "Bob keeps bees", "source": {"thread_id": "a-facts"}}))
    assert erase_user("bob", settings=settings).threads == ["b-thread"]
    with open_checkpointer(settings=settings) as saver:
        assert "My locker code is zqx0vault." in _messages(saver, "a-facts")
        assert _messages(saver, "b-thread") == []
    report = erase_user("alice", settings=settings)
    assert sorted(report.threads) == ["a-facts", "a-questions"]
    with open_checkpointer(settings=settings) as saver:
        assert _messages(saver, "a-facts") == _messages(saver, "a-questions") == []
    with open_store(settings=settings) as store:
        assert owned_threads(store, "alice") == owned_threads(store, "bob") == []
        assert store.history(THREADS) == []  # type: ignore[attr-defined]
    files = _checkpoint_files(pg_url, pg_server.directory / "pgdata")
    assert files, "the scan must find the checkpoint tables' files"
    assert [f.name for f in files if b"zqx0vault" in f.read_bytes()] == []


def _checkpoint_files(url: str, data: Path) -> list[Path]:
    """The data files of the checkpoint tables (and their TOAST tables), after a CHECKPOINT."""
    from psycopg import Connection

    from hippograph.erasure import CHECKPOINT_TABLES

    with Connection.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        rows = conn.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relname = ANY(%s) "
            "OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relname = ANY(%s))",
            (list(CHECKPOINT_TABLES), list(CHECKPOINT_TABLES)),
        ).fetchall()
    return [data / row[0] for row in rows if row[0] and (data / row[0]).exists()]


def _jsonl(*lines: dict[str, Any]) -> io.StringIO:
    return io.StringIO("".join(json.dumps(line) + "\n" for line in lines))


def test_thread_records_stay_out_of_the_audit_trail(tmp_path: Path) -> None:
    """Who owns a thread is not a memory: the audit trail has no row for the record (so
    none is left behind once erasure deletes it)."""
    settings = Settings(db_path=tmp_path / "memories.db")
    with open_agent(settings=settings) as agent:
        store: Any = agent.store
        agent.invoke(user_turn("Hello there"), run_config("zqx-thread"), context={"user_id": "al"})
        assert owned_threads(store, "al") == ["zqx-thread"]
        assert store.history(THREADS) == []
        forget_threads(store, "al")
        assert owned_threads(store, "al") == [] and store.history(THREADS) == []
