"""Fixtures shared by every test package.

Every test runs hermetically: no `HIPPOGRAPH_*` or provider key from the developer's shell
leaks in (so nothing reaches a real model), and the default store lives in `tmp_path`.
The real local embedder loads once per session. A throwaway PostgreSQL + pgvector server
starts once per session, only when a test asks for it; each test then gets fresh databases
of its own (`CREATE DATABASE` from `template1`, which has pgvector: ~0.1 s).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from hippograph.backends import memory_index_config
from hippograph.config import Settings
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.store.embeddings import shared_local_embeddings
from tests.harness.pgserver import PgServer, pgserver

_LEAKY_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LANGSMITH_API_KEY", "LANGSMITH_TRACING")


_POSTGRES_FIXTURES = {"pg_server", "pg_databases", "pg_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the throwaway PostgreSQL server `postgres` (it uses its
    fixtures, or is parametrised with a `"postgres"` backend), so a run without the
    `postgres` extra (the lowest-versions CI job) can deselect them."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())) or any(
            value == "postgres" for value in params.values()
        ):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("HIPPOGRAPH_") or name in _LEAKY_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HIPPOGRAPH_DB", str(tmp_path / "default" / "memories.db"))


@pytest.fixture(scope="session")
def local_embeddings() -> LocalEmbeddings:
    """The real offline embedder, loaded once per session (the one `"local"` resolves to)."""
    return shared_local_embeddings()


@pytest.fixture(scope="session")
def embeddings(local_embeddings: LocalEmbeddings) -> LocalEmbeddings:
    """The session's embedder (alias of `local_embeddings`)."""
    return local_embeddings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Offline settings on a temporary database."""
    return Settings(db_path=tmp_path / "data" / "memories.db", user_id="alice")


@pytest.fixture
def memory_store(tmp_path: Path, embeddings: LocalEmbeddings) -> Iterator[FaissSqliteStore]:
    """A real `FaissSqliteStore` on a temporary file, indexed like the agent's, with hybrid
    search on (a plain `FaissSqliteStore` is vector-only, like LangGraph's stores)."""
    with FaissSqliteStore.from_conn_string(
        str(tmp_path / "memories.db"), index=memory_index_config(embeddings), hybrid=True
    ) as store:
        yield store


@pytest.fixture
def checkpointer() -> InMemorySaver:
    """Short-term state for a test."""
    return InMemorySaver()


def user_turn(text: str) -> dict[str, Any]:
    """Agent input for one user message."""
    return {"messages": [{"role": "user", "content": text}]}


def run_config(thread_id: str = "t1") -> dict[str, Any]:
    """A run config for `thread_id`."""
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One private PostgreSQL server for the whole session (works as root)."""
    with pgserver() as server:
        yield server


@pytest.fixture
def pg_databases(pg_server: PgServer) -> Iterator[Callable[[], str]]:
    """Factory of fresh, empty databases (URLs), dropped after the test."""
    made: list[str] = []

    def create() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        made.append(name)
        return pg_server.create_database(name)

    yield create
    for name in made:
        pg_server.drop_database(name)


@pytest.fixture
def pg_url(pg_databases: Callable[[], str]) -> str:
    """URL of a fresh, empty database for this test."""
    return pg_databases()
