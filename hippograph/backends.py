"""Open the long-term store and the checkpointer a `Settings` (or a URL/path) points at.

Core pieces:
    - `open_store` / `aopen_store`: our `FaissSqliteStore` for a path or `sqlite:///…`;
      LangGraph's `PostgresStore` for `postgresql://…` (the scale-out path).
    - `open_checkpointer` / `aopen_checkpointer`: `SqliteSaver` / `AsyncSqliteSaver` beside
      the store file, or `PostgresSaver` / `AsyncPostgresSaver` on the same database.
    - `memory_index_config`: the `IndexConfig` every backend uses for memories.

One way in: the CLI, UI, eval, `build_agent()` defaults and `langgraph.json` all open storage
through here, so switching `HIPPOGRAPH_STORE_URL` changes every surface at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig

from hippograph.config import Settings
from hippograph.store import FaissSqliteStore, HybridSearch, resolve_embeddings

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

MEMORY_FIELDS = ["content"]
"""Value fields embedded for search: a memory's text. (Embedding `context` too was measured
on LoCoMo and lowered recall: max-pooling lets the previous turn outrank the answer.)"""

MEMORY_SEARCH = HybridSearch(
    fields=("content", "context"),
    field_weights={"context": 0.5},
    time_field="timestamp",
    group_field="source.thread_id",
)
"""How memory search ranks: cosine on `content` fused with BM25 over `content` and, at half
weight, `context` (the turn a verbatim memory answered), plus a match between a date named
in the query and the memory's `timestamp`, blended with how well the memory's thread
(`source.thread_id`) matches overall. Measured in `benchmarks/results/locomo/`."""


def is_postgres_url(target: str | Path) -> bool:
    """True for `postgresql://` / `postgres://` URLs."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def memory_index_config(embeddings: Embeddings | str) -> IndexConfig:
    """The `IndexConfig` for memory items: `content` embedded by `embeddings`."""
    embed = resolve_embeddings(embeddings)
    config: dict[str, Any] = {"embed": embed, "fields": list(MEMORY_FIELDS)}
    dims = getattr(embed, "dims", None)
    if isinstance(dims, int):
        config["dims"] = dims
    else:
        config["dims"] = len(embed.embed_query("dimension probe"))
    return config  # type: ignore[return-value]


def _target(target: str | Path | None, settings: Settings | None) -> str:
    if target is not None:
        return str(target)
    return (settings or Settings.from_env()).store_target


def _sqlite_path(target: str) -> str:
    return target.removeprefix("sqlite:///") if target.startswith("sqlite:///") else target


@contextmanager
def open_store(
    target: str | Path | None = None,
    *,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    **store_kwargs: Any,
) -> Iterator[BaseStore]:
    """Open the memory store at `target` (default: from `settings` / the environment).

    Args:
        target: A SQLite path, `sqlite:///path`, `":memory:"` or a `postgresql://` URL.
        embeddings: An `Embeddings` or spec; default `settings.embeddings` (`"local"`).
        settings: Where defaults come from (default: `Settings.from_env()`).
        **store_kwargs: Extra keyword arguments for `FaissSqliteStore` (`hybrid` defaults
            to `MEMORY_SEARCH`).

    Yields:
        A ready `BaseStore` (schema created), closed on exit.
    """
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    index = memory_index_config(embeddings if embeddings is not None else settings.embeddings)
    if is_postgres_url(url):
        raise NotImplementedError("PostgreSQL support arrives with the scale-out issue")
    store_kwargs.setdefault("hybrid", MEMORY_SEARCH)
    with FaissSqliteStore.from_conn_string(_sqlite_path(url), index=index, **store_kwargs) as store:
        yield store


@asynccontextmanager
async def aopen_store(
    target: str | Path | None = None,
    *,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    **store_kwargs: Any,
) -> AsyncIterator[BaseStore]:
    """Async twin of `open_store` (opening runs in a worker thread)."""
    import asyncio

    manager = open_store(target, embeddings=embeddings, settings=settings, **store_kwargs)
    store = await asyncio.to_thread(manager.__enter__)
    try:
        yield store
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


def _checkpoint_path(url: str) -> str:
    """The checkpoint file beside a SQLite store file (`:memory:` stays in memory)."""
    if url == ":memory:":
        return ":memory:"
    path = Path(_sqlite_path(url)).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(Settings(db_path=path).checkpoint_path)


@contextmanager
def open_checkpointer(
    target: str | Path | None = None, *, settings: Settings | None = None
) -> Iterator[BaseCheckpointSaver[Any]]:
    """Open the short-term checkpointer that goes with the store at `target`.

    SQLite stores get a `SqliteSaver` on a sibling file (`<name>-checkpoints.db`).
    """
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        raise NotImplementedError("PostgreSQL support arrives with the scale-out issue")
    from langgraph.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(_checkpoint_path(url)) as saver:
        saver.setup()
        yield saver


@asynccontextmanager
async def aopen_checkpointer(
    target: str | Path | None = None, *, settings: Settings | None = None
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Async twin of `open_checkpointer` (`AsyncSqliteSaver`)."""
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        raise NotImplementedError("PostgreSQL support arrives with the scale-out issue")
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(_checkpoint_path(url)) as saver:
        await saver.setup()
        yield saver
