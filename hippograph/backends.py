"""Open the long-term store and the checkpointer a `Settings` (or a URL/path) points at.

Core pieces:
    - `open_store` / `aopen_store`: our `FaissSqliteStore` for a path or `sqlite:///…`;
      LangGraph's `PostgresStore` for `postgresql://…` (the scale-out path).
    - `open_checkpointer` / `aopen_checkpointer`: `SqliteSaver` / `AsyncSqliteSaver` beside
      the store file, or `PostgresSaver` / `AsyncPostgresSaver` on the same database.
    - `memory_index_config`: the `IndexConfig` every backend uses for memories.
    - `supports` / `require`: which of hippograph's extras (history, count, hybrid search,
      index snapshots, links) a store has; `require` raises `FeatureUnavailableError`
      saying what to do instead.

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

from hippograph.config import POSTGRES_SCHEMES, Settings
from hippograph.store import FaissSqliteStore, resolve_embeddings
from hippograph.store.links import LinkExpansion, links_of
from hippograph.store.ranking.policy import MEMORY_FIELDS, MEMORY_SEARCH

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

POSTGRES_STORE_OPTIONS = frozenset({"ttl", "max_connections", "setup", "embedder_label"})
"""Keyword arguments `open_store` passes to `PostgresMemoryStore.open` for `postgresql://`."""

MEMORY_LINKS: LinkExpansion | None = None
"""Whether memory search follows links from its best matches (`store.links.LinkExpansion`).
Off: on LoCoMo it did not help (`benchmarks/results/locomo_links/`); turn it on per store
(`open_store(expand_links=LinkExpansion())`), per search (`link_expansion(...)`) or per
agent run (`Context.expand_links`)."""


def is_postgres_url(target: str | Path) -> bool:
    """True for `postgresql://` / `postgres://` URLs."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


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
            to `MEMORY_SEARCH`, `expand_links` to `MEMORY_LINKS`), or for PostgreSQL those
            in `POSTGRES_STORE_OPTIONS` (`ttl`, `max_connections`, ...).

    Yields:
        A ready `BaseStore` (schema created), closed on exit.
    """
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    index = memory_index_config(embeddings if embeddings is not None else settings.embeddings)
    if is_postgres_url(url):
        with _postgres_store(url, index, store_kwargs) as pg_store:
            yield pg_store
        return
    store_kwargs.setdefault("hybrid", MEMORY_SEARCH)
    store_kwargs.setdefault("expand_links", MEMORY_LINKS)
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

    SQLite stores get a `SqliteSaver` on a sibling file (`<name>-checkpoints.db`);
    PostgreSQL gets a `PostgresSaver` on a connection pool to the same database.
    """
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg_pool import ConnectionPool

        _setup_postgres_checkpoints(url)
        with ConnectionPool(url, **_pool_options()) as pool:
            yield PostgresSaver(pool)
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(_checkpoint_path(url)) as saver:
        saver.setup()
        yield saver


@asynccontextmanager
async def aopen_checkpointer(
    target: str | Path | None = None, *, settings: Settings | None = None
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Async twin of `open_checkpointer` (`AsyncSqliteSaver` / `AsyncPostgresSaver`)."""
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        import asyncio

        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg_pool import AsyncConnectionPool

        await asyncio.to_thread(_setup_postgres_checkpoints, url)
        async with AsyncConnectionPool(url, **_pool_options()) as apool:
            yield AsyncPostgresSaver(apool)
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(_checkpoint_path(url)) as saver:
        await saver.setup()
        yield saver


# ---------------------------------------------------------------------- PostgreSQL


@contextmanager
def _postgres_store(url: str, index: IndexConfig, options: dict[str, Any]) -> Iterator[BaseStore]:
    unknown = set(options) - POSTGRES_STORE_OPTIONS
    if unknown:
        raise TypeError(
            f"{', '.join(sorted(unknown))}: not an option of the PostgreSQL backend "
            f"(it accepts {', '.join(sorted(POSTGRES_STORE_OPTIONS))})"
        )
    from hippograph.store.postgres import PostgresMemoryStore

    with PostgresMemoryStore.open(url, index=index, **options) as store:
        yield store


def _pool_options() -> dict[str, Any]:
    """`psycopg_pool` arguments LangGraph's Postgres savers expect on every connection."""
    from psycopg.rows import dict_row

    return {
        "min_size": 1,
        "max_size": 8,
        "open": False,
        "kwargs": {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    }


def _setup_postgres_checkpoints(url: str) -> None:
    """Run `PostgresSaver.setup()` once per database, serialised across processes."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import dict_row

    from hippograph.store.pg_schema import setup_lock

    with (
        Connection.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn,
        setup_lock(conn),
    ):
        PostgresSaver(conn).setup()


# ---------------------------------------------------------------------- extras

FEATURES = ("history", "count", "hybrid_search", "index_snapshots", "links", "erasure")
"""hippograph's extras beyond `BaseStore`; not every backend has each."""


class FeatureUnavailableError(RuntimeError):
    """The store's backend lacks one of hippograph's extras; the message says what to do."""


_UNAVAILABLE = {
    "history": "open storage with hippograph.backends.open_store (SQLite or PostgreSQL) to "
    "get the audit trail",
    "count": "open storage with hippograph.backends.open_store, or page through search()",
    "hybrid_search": "this backend keeps no keyword index yet; search by meaning "
    "(query=...) instead, or use the embedded SQLite store (unset HIPPOGRAPH_STORE_URL)",
    "index_snapshots": "vectors live in the database (pgvector), so opening the store "
    "rebuilds nothing and there is no snapshot to manage",
    "links": "links between memories are kept by the embedded SQLite store only; use it "
    "(unset HIPPOGRAPH_STORE_URL) for the memory graph",
    "erasure": "it has no purge(); MemoryManager.erase deletes the user's items one by one "
    "instead (a store without history keeps nothing else)",
}


def backend_name(store: BaseStore) -> str:
    """A short human name for the store's backend, used in messages."""
    if isinstance(store, FaissSqliteStore):
        return "SQLite"
    if type(store).__module__.startswith(("langgraph.store.postgres", "hippograph.store.postgres")):
        return "PostgreSQL"
    return type(store).__name__


def supports(store: BaseStore, feature: str) -> bool:
    """Whether `store` offers `feature` (one of `FEATURES`)."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; expected one of {', '.join(FEATURES)}")
    if feature in ("history", "count"):
        return callable(getattr(store, feature, None))
    if feature == "links":
        return links_of(store) is not None
    if feature == "erasure":
        return callable(getattr(store, "purge", None))
    return isinstance(store, FaissSqliteStore)


def require(store: BaseStore, feature: str) -> None:
    """Raise `FeatureUnavailableError` unless `store` offers `feature`.

    Example:
        ```python
        require(store, "history")   # FeatureUnavailableError on an InMemoryStore
        entries = store.history(("memories", "alice"))
        ```
    """
    if not supports(store, feature):
        label = feature.replace("_", " ")
        raise FeatureUnavailableError(
            f"{label} is unavailable on the {backend_name(store)} backend: {_UNAVAILABLE[feature]}"
        )
