"""Open the long-term store and the checkpointer a `Settings` (or a URL/path) points at.

Core pieces:
    - `open_store` / `aopen_store`: our `FaissSqliteStore` for a path or `sqlite:///…`;
      LangGraph's `PostgresStore` for `postgresql://…` (the scale-out path).
    - `open_checkpointer` / `aopen_checkpointer`: `TurnSqliteSaver` / `AsyncTurnSqliteSaver`
      (LangGraph's SQLite savers, a turn fsynced once) beside the store file, or
      `PostgresSaver` / `AsyncPostgresSaver` on the same database.
    - `memory_index_config`: the `IndexConfig` every backend uses for memories.
    - `supports` / `require`: which of hippograph's extras (history, count, erasure, links,
      verify, hybrid search, index snapshots) a store has — an `ExtendedStore` type check;
      `require` raises `FeatureUnavailableError` saying what to do instead.
    - `StoreUnavailableError` / `StoreNotFoundError`: opening failed (one-line message
      saying what is wrong and what to do; a password in a URL is never shown).

One way in: the CLI, UI, eval, `build_agent()` defaults and `langgraph.json` all open storage
through here, so switching `HIPPOGRAPH_STORE_URL` changes every surface at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig

from hippograph.config import POSTGRES_SCHEMES, Settings, check_store_target, mask_url
from hippograph.extras import require_extra
from hippograph.store import FaissSqliteStore, resolve_embeddings
from hippograph.store.extras import ExtendedStore
from hippograph.store.links import LinkExpansion
from hippograph.store.ranking.policy import MEMORY_FIELDS, MEMORY_SEARCH

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

POSTGRES_CONNECT_TIMEOUT_S = 5
"""Seconds to wait for a PostgreSQL server before opening fails (no retry loop)."""

POSTGRES_STORE_OPTIONS = frozenset(
    {"ttl", "max_connections", "setup", "embedder_label", "expand_links", "hybrid", "group_depth"}
)
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


class StoreUnavailableError(RuntimeError):
    """The store cannot be opened or written (read-only, not a database, server unreachable,
    missing extra…). The message is one line: what is wrong, then what to do."""


class StoreNotFoundError(StoreUnavailableError, FileNotFoundError):
    """`open_store(..., create=False)` found no store at the path (nothing is created)."""


def _target(target: str | Path | None, settings: Settings | None) -> str:
    text = str(target) if target is not None else (settings or Settings.from_env()).store_target
    return check_store_target(text)


def _sqlite_failure(path: str, exc: BaseException) -> StoreUnavailableError:
    """A one-line explanation of why the SQLite store at `path` did not open."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = Path(path).expanduser()
    if where.is_dir():
        return StoreUnavailableError(
            f"{path} is a directory: give the store's file path (e.g. {where / 'memories.db'})"
        )
    if isinstance(exc, PermissionError) or "readonly" in reason or "read-only" in reason:
        return StoreUnavailableError(
            f"cannot write to the store {path} ({reason}): make the file and its directory "
            "writable, or point --store / HIPPOGRAPH_DB at a writable location"
        )
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in reason:
        return StoreUnavailableError(
            f"{path} is not a hippograph store (SQLite: {reason}): point --store / "
            "HIPPOGRAPH_DB at a store file, or move this file away"
        )
    if "unable to open" in reason:
        return StoreUnavailableError(
            f"cannot open or create the store {path} ({reason}): check that its directory "
            "exists and is writable"
        )
    return StoreUnavailableError(f"cannot open the store {path}: {reason}")


def _missing_store(path: str) -> StoreNotFoundError:
    return StoreNotFoundError(
        f"no memory store at {path}: check --store / HIPPOGRAPH_DB (commands that write, "
        "like `hippograph memories add` or `chat`, create it)"
    )


def _sqlite_path(target: str) -> str:
    return target.removeprefix("sqlite:///") if target.startswith("sqlite:///") else target


@contextmanager
def open_store(
    target: str | Path | None = None,
    *,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    create: bool = True,
    **store_kwargs: Any,
) -> Iterator[BaseStore]:
    """Open the memory store at `target` (default: from `settings` / the environment).

    Args:
        target: A SQLite path, `sqlite:///path`, `":memory:"` or a `postgresql://` URL.
        embeddings: An `Embeddings` or spec; default `settings.embeddings` (`"local"`).
        settings: Where defaults come from (default: `Settings.from_env()`).
        create: With `False`, a SQLite store that does not exist yet is not created
            (no directory, no file): `StoreNotFoundError` is raised instead. Read-only
            commands open stores this way.
        **store_kwargs: Extra keyword arguments for `FaissSqliteStore`, or for PostgreSQL
            those in `POSTGRES_STORE_OPTIONS` (`ttl`, `max_connections`, ...); on both,
            `hybrid` defaults to `MEMORY_SEARCH` and `expand_links` to `MEMORY_LINKS`.

    Yields:
        A ready `BaseStore` (schema created), closed on exit.

    Raises:
        StoreUnavailableError: the store cannot be opened (the message says why and what
            to do); `StoreNotFoundError` with `create=False`.
        StoreTargetError: `target` is neither a path nor a supported URL.
        MissingExtraError: a `postgresql://` URL without the `postgres` extra.
    """
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        require_extra("postgres", "a postgresql:// store")
        _check_postgres(url)
    elif not create and url != ":memory:" and not Path(_sqlite_path(url)).expanduser().exists():
        raise _missing_store(_sqlite_path(url))
    index = memory_index_config(embeddings if embeddings is not None else settings.embeddings)
    if is_postgres_url(url):
        with _postgres_store(url, index, store_kwargs) as pg_store:
            yield pg_store
        return
    store_kwargs.setdefault("hybrid", MEMORY_SEARCH)
    store_kwargs.setdefault("expand_links", MEMORY_LINKS)
    path = _sqlite_path(url)
    with ExitStack() as stack:
        try:
            store = stack.enter_context(
                FaissSqliteStore.from_conn_string(path, index=index, **store_kwargs)
            )
        except (sqlite3.Error, OSError) as exc:
            raise _sqlite_failure(path, exc) from exc
        yield store


@asynccontextmanager
async def aopen_store(
    target: str | Path | None = None,
    *,
    embeddings: Embeddings | str | None = None,
    settings: Settings | None = None,
    create: bool = True,
    **store_kwargs: Any,
) -> AsyncIterator[BaseStore]:
    """Async twin of `open_store` (opening runs in a worker thread)."""
    import asyncio

    manager = open_store(
        target, embeddings=embeddings, settings=settings, create=create, **store_kwargs
    )
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _sqlite_failure(str(path), exc) from exc
    return str(Settings(db_path=path).checkpoint_path)


@contextmanager
def open_checkpointer(
    target: str | Path | None = None, *, settings: Settings | None = None
) -> Iterator[BaseCheckpointSaver[Any]]:
    """Open the short-term checkpointer that goes with the store at `target`.

    SQLite stores get a `SqliteSaver` on a sibling file (`<name>-checkpoints.db`) — a
    `TurnSqliteSaver`, whose agent turns fsync once at their end (`hippograph.graph.checkpoints`);
    PostgreSQL gets a `PostgresSaver` on a connection pool to the same database.
    """
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        require_extra("postgres", "a postgresql:// store")
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg_pool import ConnectionPool

        _setup_postgres_checkpoints(url)
        with ConnectionPool(url, **_pool_options()) as pool:
            yield PostgresSaver(pool)
        return
    from hippograph.graph.checkpoints import TurnSqliteSaver

    with TurnSqliteSaver.from_conn_string(_checkpoint_path(url)) as saver:
        saver.setup()
        yield saver


@asynccontextmanager
async def aopen_checkpointer(
    target: str | Path | None = None, *, settings: Settings | None = None
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Async twin of `open_checkpointer`: an `AsyncTurnSqliteSaver` (an `AsyncSqliteSaver`
    whose agent turns fsync once at their end) / `AsyncPostgresSaver`."""
    settings = settings or Settings.from_env()
    url = _target(target, settings)
    if is_postgres_url(url):
        import asyncio

        require_extra("postgres", "a postgresql:// store")
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg_pool import AsyncConnectionPool

        await asyncio.to_thread(_setup_postgres_checkpoints, url)
        async with AsyncConnectionPool(url, **_pool_options()) as apool:
            yield AsyncPostgresSaver(apool)
        return
    from hippograph.graph.checkpoints import AsyncTurnSqliteSaver

    async with AsyncTurnSqliteSaver.from_conn_string(_checkpoint_path(url)) as saver:
        await saver.setup()
        yield saver


# ---------------------------------------------------------------------- PostgreSQL


@contextmanager
def _postgres_store(url: str, index: IndexConfig, options: dict[str, Any]) -> Iterator[BaseStore]:
    options = dict(options)
    unknown = set(options) - POSTGRES_STORE_OPTIONS
    if unknown:
        raise TypeError(
            f"{', '.join(sorted(unknown))}: not an option of the PostgreSQL backend "
            f"(it accepts {', '.join(sorted(POSTGRES_STORE_OPTIONS))})"
        )
    from hippograph.store.postgres import PostgresMemoryStore

    options.setdefault("hybrid", MEMORY_SEARCH)
    options.setdefault("expand_links", MEMORY_LINKS)
    with PostgresMemoryStore.open(url, index=index, **options) as store:
        yield store


def _check_postgres(url: str) -> None:
    """Connect once, with a `POSTGRES_CONNECT_TIMEOUT_S` limit, so an unreachable server or
    a malformed URL fails within seconds with one line (a pool would retry for 30 s)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S):
            pass
    except psycopg.Error as exc:
        label = mask_url(url)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        password = _password(url)
        for secret in (url, password):
            if secret:
                reason = reason.replace(secret, "***")
        if "timeout" in reason.lower():
            reason += f" (waited {POSTGRES_CONNECT_TIMEOUT_S} s)"
        raise StoreUnavailableError(
            f"cannot connect to PostgreSQL at {label}: {reason}; check the URL, that the "
            "server is running and that it accepts this user"
        ) from None


def _password(url: str) -> str | None:
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(url)
        return parts.password or next(iter(parse_qs(parts.query).get("password", [])), None)
    except ValueError:
        return None


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

    _check_postgres(url)
    with (
        Connection.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn,
        setup_lock(conn),
    ):
        PostgresSaver(conn).setup()


# ---------------------------------------------------------------------- extras

FEATURES = (
    "history",
    "count",
    "erasure",
    "links",
    "verify",
    "hybrid_search",
    "index_snapshots",
)
"""hippograph's extras beyond `BaseStore`. Every `ExtendedStore` (both back ends) has the
first five; hybrid search depends on how the store was opened; index snapshots exist only
where the vector index is a cache outside the database (SQLite + FAISS)."""


class FeatureUnavailableError(RuntimeError):
    """The store's backend lacks one of hippograph's extras; the message says what to do."""


_NOT_OURS = (
    "it is not a hippograph store; open storage with hippograph.backends.open_store "
    "(SQLite or PostgreSQL) to get it"
)
_UNAVAILABLE = {
    "count": "open storage with hippograph.backends.open_store, or page through search()",
    "erasure": "it has no purge(); MemoryManager.erase deletes the user's items one by one "
    "instead (a store without history keeps nothing else)",
    "index_snapshots": "vectors live in the database (pgvector), so opening the store "
    "rebuilds nothing and there is no snapshot to manage",
}


def backend_name(store: BaseStore) -> str:
    """A short human name for the store's backend, used in messages."""
    if isinstance(store, ExtendedStore):
        return store.backend
    if type(store).__module__.startswith("langgraph.store.postgres"):
        return "PostgreSQL"
    return type(store).__name__


def supports(store: BaseStore, feature: str) -> bool:
    """Whether `store` offers `feature` (one of `FEATURES`): a type check (`ExtendedStore`),
    plus the store's search settings for hybrid search."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; expected one of {', '.join(FEATURES)}")
    if feature == "index_snapshots":
        return isinstance(store, FaissSqliteStore)
    if not isinstance(store, ExtendedStore):
        return False
    return feature != "hybrid_search" or store.hybrid is not None


def _why_unavailable(store: BaseStore, feature: str) -> str:
    if not isinstance(store, ExtendedStore):
        return _UNAVAILABLE.get(feature, _NOT_OURS) if feature != "index_snapshots" else _NOT_OURS
    if feature == "index_snapshots":
        return _UNAVAILABLE["index_snapshots"]
    return (
        "this store was opened with hybrid=None (vector search only); open it with "
        "hippograph.backends.open_store for hybrid search"
    )


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
            f"{label} is unavailable on the {backend_name(store)} backend: "
            f"{_why_unavailable(store, feature)}"
        )
