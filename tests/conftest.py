"""Fixtures shared by every test package: the local embedder and a throwaway PostgreSQL +
pgvector server.

The server starts once per session, only when a test asks for it; each test then gets fresh
databases of its own (`CREATE DATABASE` from `template1`, which has pgvector: ~0.1 s).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from hippograph.pgserver import PgServer, pgserver
from hippograph.store import LocalEmbeddings


@pytest.fixture(scope="session")
def local_embeddings() -> LocalEmbeddings:
    """The real offline embedder, loaded once."""
    return LocalEmbeddings()


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
