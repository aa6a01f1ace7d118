"""The stores the store benchmark can run, by name.

Each `BenchBackend` says how to open a store in a scratch directory with a given embedder,
whether it persists (so it can be closed and reopened to time opening), and the largest size
where it fits. Adding a backend is one entry in `BACKENDS`, e.g. PostgreSQL once
`hippograph.backends.open_store("postgresql://…")` exists:

```python
BenchBackend(
    "postgres", "LangGraph PostgresStore + pgvector",
    open=lambda directory, embed, dims: <enter open_store(url_for(directory), embeddings=embed)>,
    persistent=True,
)
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.memory import InMemoryStore

from hippograph.store import FaissSqliteStore, IndexPolicy

StoreOpener = Callable[[Path, Embeddings, int], BaseStore]
"""`open(directory, embeddings, dims)`: a ready store whose files (if any) live in `directory`."""

FIELDS = ["content"]


@dataclass(frozen=True, slots=True)
class BenchBackend:
    """A store the benchmark can open, and what it can be asked to do."""

    name: str
    description: str
    open: StoreOpener
    persistent: bool
    """Closing and reopening on the same directory keeps the data (open time is measured)."""
    max_size: int | None = None
    """Larger sizes are skipped: the store does not fit (or would take hours)."""
    max_queries: int | None = None
    """Cap on timed searches per size, for baselines too slow for the full query set."""


def index_config(embeddings: Embeddings, dims: int) -> IndexConfig:
    """The `IndexConfig` every backend gets: `content` embedded by `embeddings`."""
    return {"dims": dims, "embed": embeddings, "fields": list(FIELDS)}


def _faiss_sqlite(policy: IndexPolicy) -> StoreOpener:
    def open_store(directory: Path, embeddings: Embeddings, dims: int) -> BaseStore:
        return FaissSqliteStore(
            str(directory / "store.db"),
            index=index_config(embeddings, dims),
            index_policy=policy,
        )

    return open_store


def _inmemory(directory: Path, embeddings: Embeddings, dims: int) -> BaseStore:
    return InMemoryStore(index=index_config(embeddings, dims))


BACKENDS: dict[str, BenchBackend] = {
    backend.name: backend
    for backend in (
        BenchBackend(
            "faiss-sqlite",
            "hippograph FaissSqliteStore (default IndexPolicy)",
            _faiss_sqlite(IndexPolicy()),
            persistent=True,
        ),
        BenchBackend(
            "faiss-sqlite-exact",
            "hippograph FaissSqliteStore, exact search at every size",
            _faiss_sqlite(IndexPolicy(hnsw_threshold=None)),
            persistent=True,
        ),
        BenchBackend(
            "inmemory",
            "LangGraph InMemoryStore (vectors kept as Python lists)",
            _inmemory,
            persistent=False,
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
