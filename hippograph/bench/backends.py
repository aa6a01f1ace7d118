"""The stores the store benchmark can run, by name.

Each `BenchBackend` says where a store lives for one measurement (`host`: a file in the
scratch directory, or a fresh database on the PostgreSQL server given by `--postgres-url`),
how to open it there with a given embedder, whether it persists (so it can be closed and
reopened to time opening), and the largest size where it fits. Adding a backend is one
entry in `BACKENDS`.

Stores are imported when opened, so listing the backends (`hippograph bench --help`) stays
cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langgraph.store.base import BaseStore, IndexConfig

StoreOpener = Callable[[str, "Embeddings", int], AbstractContextManager["BaseStore"]]
"""`open(location, embeddings, dims)`: a ready store at `location`, closed on exit."""

StoreHost = Callable[[Path, "str | None"], AbstractContextManager[str]]
"""`host(directory, server_url)`: the location stores are opened at, alive for the whole
measurement; `server_url` is the database server for backends that need one."""

FIELDS = ["content"]
DATABASE_FILE = "store.db"


@dataclass(frozen=True, slots=True)
class BenchBackend:
    """A store the benchmark can open, and what it can be asked to do."""

    name: str
    description: str
    open: StoreOpener
    persistent: bool
    """Closing and reopening at the same location keeps the data (open time is measured)."""
    host: StoreHost
    """Provides the location (a file path, a database URL) inside a scratch directory."""
    max_size: int | None = None
    """Larger sizes are skipped: the store does not fit (or would take hours)."""
    max_queries: int | None = None
    """Cap on timed searches per size, for baselines too slow for the full query set."""
    notes: tuple[str, ...] = ()
    """Caveats printed beside every result of this backend."""
    disk: Callable[[str], float] | None = None
    """MiB the store at a location takes, when it is not the scratch directory's files."""


def index_config(embeddings: Embeddings, dims: int) -> IndexConfig:
    """The `IndexConfig` every backend gets: `content` embedded by `embeddings`."""
    return {"dims": dims, "embed": embeddings, "fields": list(FIELDS)}


@contextmanager
def _database_file(directory: Path, server_url: str | None) -> Iterator[str]:
    yield str(directory / DATABASE_FILE)


@contextmanager
def _postgres_database(directory: Path, server_url: str | None) -> Iterator[str]:
    """A fresh database on the server at `server_url`, dropped after the measurement."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    if server_url is None:
        raise ValueError("the postgres backend needs --postgres-url postgresql://…")
    name = f"hippograph_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def _postgres_disk_mb(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return float(row[0] if row else 0) / 2**20


def _faiss_sqlite(**policy: Any) -> StoreOpener:
    def open_store(
        location: str, embeddings: Embeddings, dims: int
    ) -> AbstractContextManager[BaseStore]:
        from hippograph.store import FaissSqliteStore, IndexPolicy

        # Vector search only, like the other backends (hybrid search would add keyword work).
        return FaissSqliteStore(
            location,
            index=index_config(embeddings, dims),
            index_policy=IndexPolicy(**policy),
            hybrid=None,
        )

    return open_store


def _postgres(
    location: str, embeddings: Embeddings, dims: int
) -> AbstractContextManager[BaseStore]:
    from hippograph.backends import open_store

    # Vector search only, like the SQLite backend here (hybrid search adds keyword rows).
    return open_store(location, embeddings=embeddings, hybrid=None)


def _inmemory(
    location: str, embeddings: Embeddings, dims: int
) -> AbstractContextManager[BaseStore]:
    from langgraph.store.memory import InMemoryStore

    return nullcontext(InMemoryStore(index=index_config(embeddings, dims)))


BACKENDS: dict[str, BenchBackend] = {
    backend.name: backend
    for backend in (
        BenchBackend(
            "faiss-sqlite",
            "hippograph FaissSqliteStore (default IndexPolicy, vector search)",
            _faiss_sqlite(),
            persistent=True,
            host=_database_file,
        ),
        BenchBackend(
            "faiss-sqlite-exact",
            "hippograph FaissSqliteStore, exact search at every size",
            _faiss_sqlite(hnsw_threshold=None),
            persistent=True,
            host=_database_file,
        ),
        BenchBackend(
            "postgres",
            "LangGraph PostgresStore + pgvector via hippograph.backends.open_store "
            "(a fresh database on the --postgres-url server)",
            _postgres,
            persistent=True,
            host=_postgres_database,
            notes=("memory: client process only; disk: pg_database_size",),
            disk=_postgres_disk_mb,
        ),
        BenchBackend(
            "inmemory",
            "LangGraph InMemoryStore (vectors kept as Python lists)",
            _inmemory,
            persistent=False,
            host=_database_file,
            max_size=100_000,
            max_queries=50,
        ),
    )
}


def resolve_backends(names: Sequence[str]) -> list[BenchBackend]:
    """The backends called `names`, in order.

    Raises:
        ValueError: a name is not registered (the message lists the known ones).
    """
    unknown = [name for name in names if name not in BACKENDS]
    if unknown:
        raise ValueError(
            f"unknown backend(s) {', '.join(unknown)}; available: {', '.join(BACKENDS)}"
        )
    return [BACKENDS[name] for name in names]
