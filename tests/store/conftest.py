"""Store fixtures: one embedder per session, and stores parametrised over backends.

`BACKENDS` maps a backend name to a factory; the conformance suite runs every case against
each of them. LangGraph's `InMemoryStore` is the oracle. A factory gets a fresh location:
a directory, or for `URL_BACKENDS` the URL of a fresh database on the session's server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig, TTLConfig
from langgraph.store.memory import InMemoryStore

from hippograph.store import FaissSqliteStore, LocalEmbeddings

StoreFactory = Callable[..., BaseStore]


class CountingEmbeddings(Embeddings):
    """Wraps a real embedder and counts every text it is asked to embed."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.documents: list[str] = []
        self.queries: list[str] = []
        self.dims = getattr(inner, "dims", None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self.inner.embed_query(text)


@pytest.fixture
def counting_embeddings(local_embeddings: LocalEmbeddings) -> CountingEmbeddings:
    """A fresh counter around the shared real embedder."""
    return CountingEmbeddings(local_embeddings)


def _inmemory(path: Path, index: IndexConfig | None, ttl: TTLConfig | None) -> BaseStore:
    return InMemoryStore(index=index)


def _faiss_sqlite(path: Path, index: IndexConfig | None, ttl: TTLConfig | None) -> BaseStore:
    return FaissSqliteStore(str(path / "store.db"), index=index, ttl=ttl)


def _postgres(url: Any, index: IndexConfig | None, ttl: TTLConfig | None) -> BaseStore:
    from hippograph.store.postgres import PostgresMemoryStore

    return PostgresMemoryStore.open(str(url), index=index, ttl=ttl)


BACKENDS: dict[str, Callable[[Any, IndexConfig | None, TTLConfig | None], BaseStore]] = {
    "inmemory": _inmemory,
    "faiss_sqlite": _faiss_sqlite,
    "postgres": _postgres,
}
URL_BACKENDS = frozenset({"postgres"})
"""Backends whose factory takes a database URL (from the `pg_databases` fixture)."""

UPSTREAM_DIFFERENCES: dict[tuple[str, str], str] = {}
"""(backend, test) cases where LangGraph's own store differs from the InMemoryStore oracle.
Each is an xfail(strict=True): if upstream changes, the test starts passing and fails."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the `UPSTREAM_DIFFERENCES` cases as strict expected failures."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        reason = UPSTREAM_DIFFERENCES.get((str(backend), getattr(item, "originalname", "")))
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    """Name of the backend under test."""
    return str(request.param)


@pytest.fixture
def make_store(
    backend: str, tmp_path: Path, local_embeddings: LocalEmbeddings, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Factory `make_store(fields=["text"], index=True, ttl=None)` for the current backend."""
    made: list[BaseStore] = []
    fresh_database = request.getfixturevalue("pg_databases") if backend in URL_BACKENDS else None

    def factory(
        *,
        fields: list[str] | None = None,
        index: bool = True,
        ttl: TTLConfig | None = None,
        embed: Any = None,
    ) -> BaseStore:
        config: IndexConfig | None = None
        if index:
            config = {"dims": 384, "embed": embed or local_embeddings, "fields": fields or ["text"]}
        where = fresh_database() if fresh_database else tmp_path / f"s{len(made)}"
        store = BACKENDS[backend](where, config, ttl)
        made.append(store)
        return store

    yield factory
    for store in made:
        close = getattr(store, "close", None)
        if callable(close):
            close()


@pytest.fixture
def store(make_store: StoreFactory) -> BaseStore:
    """An indexed store (fields=["text"]) of the current backend."""
    return make_store()


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Path of a fresh SQLite file for one test."""
    return str(tmp_path / "memories.db")


@pytest.fixture
def open_store(db: str, local_embeddings: LocalEmbeddings) -> Iterator[Any]:
    """Factory `open_store(embed=None, path=db, **kwargs)` of `FaissSqliteStore`s indexing
    `content`, closed after the test."""
    opened: list[FaissSqliteStore] = []

    def factory(embed: Any = None, **kwargs: Any) -> FaissSqliteStore:
        index = {"embed": embed or local_embeddings, "fields": ["content"]}
        store = FaissSqliteStore(kwargs.pop("path", db), index=index, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def open_pg(pg_url: str, local_embeddings: LocalEmbeddings) -> Iterator[Any]:
    """Factory `open_pg(embed=None, url=pg_url, **kwargs)` of `PostgresMemoryStore`s indexing
    `content` (on this test's fresh database by default), closed after the test."""
    from hippograph.store.postgres import PostgresMemoryStore

    opened: list[PostgresMemoryStore] = []

    def factory(embed: Any = None, url: str = pg_url, **kwargs: Any) -> PostgresMemoryStore:
        index = {"dims": 384, "embed": embed or local_embeddings, "fields": ["content"]}
        store = PostgresMemoryStore.open(url, index=index, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
