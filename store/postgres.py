"""`PostgresMemoryStore`: LangGraph's official `PostgresStore` plus hippograph's extras.

Core pieces:
    - Everything `PostgresStore` does (pgvector search, TTL, filters), unchanged.
    - `history()` / `count()`: the audit trail and live item counts, as on `FaissSqliteStore`.
      History rows are written by a trigger in the same transaction as the change.
    - Provenance (`hippograph.store.provenance`) reaches the trigger as a transaction-local
      setting, so a delete records who asked for it.
    - Filters compare numbers as numbers and match nested objects, like `FaissSqliteStore`
      (upstream compares `$gt` & co. as text and rejects nested filters).
    - With a connection pool, batches run concurrently, each in one explicit transaction
      (upstream serialises every batch behind one lock, even with a pool).

Needs the `postgres` extra: `pip install 'hippograph[postgres]'`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast

from langgraph.store.base import IndexConfig, Op, PutOp, Result, SearchOp, TTLConfig
from langgraph.store.postgres import PostgresStore
from langgraph.store.postgres.base import PostgresIndexConfig
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from hippograph.store.codec import text_to_ns
from hippograph.store.embeddings import embedder_name
from hippograph.store.erasure import ERASE_OP, ErasureReport, audit_key
from hippograph.store.errors import InvalidNamespaceError, StoreClosedError, StoreConfigError
from hippograph.store.history import HistoryEntry, current_source, recording_history
from hippograph.store.lifecycle import Closeable
from hippograph.store.pg_filters import as_conditions, key_condition
from hippograph.store.pg_schema import (
    HISTORY_SETTING,
    SOURCE_SETTING,
    apply_migrations,
    setup_lock,
    vector_dims,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 8
"""Pool size of `PostgresMemoryStore.open`: concurrent batches per process."""

EXACT_SEARCH: dict[str, Any] = {"kind": "flat"}
"""Default pgvector index config: exact search, scoped to the namespace being searched.

Memory searches always name a user's namespace. Without an ANN index, PostgreSQL finds that
user's rows through the primary key and scores only them: exact (recall 1.0) and cheap for
the thousands of memories a user has. An HNSW index over the whole table (`{"kind":
"hnsw"}`) is accepted, but LangGraph's search query (a join under a namespace filter) gains
little from it while every write pays for it (`benchmarks/postgres_vs_sqlite.py --hnsw`),
and a filtered HNSW scan may return fewer rows than asked for (hence `iterative_scan`).
"""

_EmbeddingRequest = tuple[str, Sequence[tuple[str, str, str, str]]]
"""Upstream's pending `store_vectors` insert: SQL and `(prefix, key, field, text)` rows."""

_BATCH_WRITES: ContextVar[bool] = ContextVar("hippograph_pg_batch_writes", default=True)


def with_exact_search(index: IndexConfig | PostgresIndexConfig) -> PostgresIndexConfig:
    """`index` with `EXACT_SEARCH` unless it already chooses an `ann_index_config`."""
    config = cast(dict[str, Any], dict(index))
    config.setdefault("ann_index_config", dict(EXACT_SEARCH))
    return cast(PostgresIndexConfig, config)


class PostgresMemoryStore(Closeable, PostgresStore):
    """LangGraph's `PostgresStore` with hippograph's audit trail, counts and provenance.

    Behaves exactly like `PostgresStore` on every `BaseStore` call; adds `history()` and
    `count()` with the same signatures as `FaissSqliteStore`, so the CLI and UI work on both.
    Use `PostgresMemoryStore.open(url, index=...)` (or `hippograph.backends.open_store`),
    which creates a connection pool and runs `setup()`.

    Example:
        ```python
        from hippograph.backends import open_store

        with open_store("postgresql://user:pw@db/memories") as store:
            store.put(("memories", "alice"), "m1", {"content": "I work with NeoVim"})
            store.history(("memories", "alice"))
        ```
    """

    _owns_pool: bool = False
    embedder_label: str | None = None
    """Name recorded for the embedder in `hippograph_meta` (default: derived from `embed`)."""

    @classmethod
    def open(
        cls,
        conn_string: str,
        *,
        index: IndexConfig | PostgresIndexConfig | None = None,
        ttl: TTLConfig | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        setup: bool = True,
        embedder_label: str | None = None,
    ) -> PostgresMemoryStore:
        """Connect a pool to `conn_string`, run `setup()` and return the store; `close()` it.

        Args:
            conn_string: A `postgresql://` URL (libpq syntax, e.g. `?host=/socket/dir`).
            index: `IndexConfig` for semantic search; pgvector options (`ann_index_config`,
                `distance_type`) may be added. Defaults to exact search (`EXACT_SEARCH`).
            ttl: LangGraph `TTLConfig`.
            max_connections: Pool size: batches this process can run at once.
            setup: Run migrations now (idempotent, safe with concurrent processes).
            embedder_label: Name recorded for the embedder (default: derived from `embed`),
                so a later open with another model is warned about.
        """
        config = with_exact_search(index) if index else None
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
        }
        if config and config.get("ann_index_config", {}).get("kind") == "hnsw":
            # Keep scanning the HNSW graph until enough rows pass the namespace filter.
            kwargs["options"] = "-c hnsw.iterative_scan=relaxed_order"
        pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
            conn_string,
            min_size=1,
            max_size=max(1, max_connections),
            kwargs=kwargs,
            open=False,
            name="hippograph-store",
        )
        pool.open(wait=True, timeout=30.0)
        try:
            store = cls(pool, index=config, ttl=ttl)
            store._owns_pool = True
            store.embedder_label = embedder_label
            if setup:
                store.setup()
        except BaseException:
            pool.close()
            raise
        return store

    def close(self) -> None:
        """Stop the TTL sweeper and close the pool `open()` created (idempotent)."""
        self.stop_ttl_sweeper()
        if self._owns_pool and isinstance(self.conn, ConnectionPool):
            self.conn.close()

    def setup(self) -> None:
        """Run LangGraph's and hippograph's migrations once per database (idempotent).

        Two processes starting on a new database at once are serialised by an advisory
        lock: the second waits, then finds nothing to do.

        Raises:
            StoreConfigError: the database holds vectors of another dimension than `dims`.
        """
        with self._lock_connection() as conn, setup_lock(conn):
            super().setup()
            apply_migrations(conn)
            self._check_embedder(conn)

    @contextmanager
    def _lock_connection(self) -> Iterator[Connection[Any]]:
        if isinstance(self.conn, ConnectionPool):
            if self.conn.closed:
                raise StoreClosedError("the store is closed")
            info = self.conn.conninfo
            with Connection.connect(info() if callable(info) else info, autocommit=True) as conn:
                yield conn
        else:
            yield self.conn

    def _check_embedder(self, conn: Connection[Any]) -> None:
        if not self.index_config or self.embeddings is None:
            return
        dims = int(self.index_config["dims"])
        stored = vector_dims(conn)
        if stored is not None and stored != dims:
            raise StoreConfigError(
                f"this database holds {stored}-d vectors but the embedder gives {dims}-d; "
                "use the original embedder or another database"
            )
        name = self.embedder_label or embedder_name(self.embeddings)
        with conn.cursor(row_factory=tuple_row) as cur:
            row = cur.execute(
                "INSERT INTO hippograph_meta (key, value) VALUES ('embedder', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = hippograph_meta.value RETURNING value",
                (name,),
            ).fetchone()
        if row is not None and row[0] != name:
            logger.warning(
                "this database was indexed with %s, now opened with %s: scores mix two models",
                row[0],
                name,
            )

    # ------------------------------------------------------------------ batches

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute `ops`: in one transaction if any writes, else as autocommit reads."""
        ops = list(ops)
        token = _BATCH_WRITES.set(any(isinstance(op, PutOp) for op in ops))
        try:
            return super().batch(ops)
        finally:
            _BATCH_WRITES.reset(token)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of `batch`, in a worker thread that keeps the caller's `provenance`."""
        return await asyncio.to_thread(self.batch, list(ops))

    @contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[Cursor[DictRow]]:
        """A cursor for a batch: its own transaction when it writes (reads are single
        autocommit statements: no BEGIN/COMMIT round trips); pooled batches share no lock."""
        if not pipeline or self.pipe is not None:
            with super()._cursor(pipeline=pipeline) as cur:
                yield cur
            return
        if isinstance(self.conn, ConnectionPool):
            with self.conn.connection() as conn:
                writes = conn.transaction() if _BATCH_WRITES.get() else nullcontext()
                with writes, conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            return
        with (
            self.lock,
            self.conn.transaction(),
            self.conn.cursor(binary=True, row_factory=dict_row) as cur,
        ):
            yield cur

    def _prepare_batch_PUT_queries(  # noqa: N802 - overrides the upstream name
        self, put_ops: Sequence[tuple[int, PutOp]]
    ) -> tuple[list[tuple[str, Sequence[Any]]], _EmbeddingRequest | None]:
        """Upstream's write statements, preceded by the settings the history trigger reads."""
        queries, embedding_request = super()._prepare_batch_PUT_queries(put_ops)
        source = current_source()
        record = recording_history()
        if source is not None or not record:
            queries.insert(
                0,
                (
                    "SELECT set_config(%s::text, %s::text, true), "
                    "set_config(%s::text, %s::text, true)",
                    (
                        SOURCE_SETTING,
                        "" if source is None else json.dumps(source, default=str),
                        HISTORY_SETTING,
                        "on" if record else "off",
                    ),
                ),
            )
        return queries, embedding_request

    def _prepare_batch_search_queries(
        self, search_ops: Sequence[tuple[int, SearchOp]]
    ) -> tuple[list[tuple[str, list[Any]]], list[tuple[int, str]]]:
        """Upstream's search queries, with every filter condition built by `key_condition`."""
        rewritten = [
            (i, op._replace(filter=as_conditions(op.filter)) if op.filter else op)
            for i, op in search_ops
        ]
        return super()._prepare_batch_search_queries(rewritten)

    def _get_filter_condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        """Type-aware comparisons, nested filters and dotted keys (see `store.pg_filters`)."""
        return key_condition(key, op, value)

    # ------------------------------------------------------------------ extras

    def history(
        self,
        namespace_prefix: tuple[str, ...] = (),
        key: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[HistoryEntry]:
        """The audit trail under `namespace_prefix` (optionally one `key`), newest first."""
        where, params = _prefix_condition(namespace_prefix)
        if key is not None:
            where, params = f"{where} AND key = %s", [*params, key]
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT id, prefix, key, op, old, new, at, source FROM hippograph_history "
                f"WHERE {where} ORDER BY at DESC, id DESC LIMIT %s OFFSET %s",
                (*params, limit, offset),
            ).fetchall()
        return [
            HistoryEntry(
                id=int(row["id"]),
                namespace=text_to_ns(row["prefix"]),
                key=row["key"],
                op=row["op"],
                old=row["old"],
                new=row["new"],
                at=cast(datetime, row["at"]),
                source=row["source"],
            )
            for row in rows
        ]

    def purge(self, namespace_prefix: tuple[str, ...], *, compact: bool = True) -> ErasureReport:
        """Erase everything under `namespace_prefix`: items, their vectors and their whole
        history, in one transaction (right to erasure), leaving one `ERASE` audit row without
        content or namespace, as `FaissSqliteStore.purge` does.

        With `compact` (default), `VACUUM FULL` then rewrites the three tables so no dead
        row keeps the old bytes in their files. It locks those tables while it runs (every
        replica waits), and PostgreSQL's WAL archive and backups keep the data until your
        retention policy drops them.

        Raises:
            InvalidNamespaceError: an empty prefix (that would erase everything).
        """
        prefix = tuple(namespace_prefix)
        if not prefix or not all(isinstance(label, str) for label in prefix):
            raise InvalidNamespaceError("purge needs a non-empty namespace prefix of strings")
        where, params = _prefix_condition(prefix)
        at = datetime.now(UTC)
        source = current_source()
        key = audit_key(prefix)
        with self._connection() as conn:
            with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                cur.execute("SELECT set_config(%s, 'off', true)", (HISTORY_SETTING,))
                has_vectors = _has_table(cur, "store_vectors")
                vectors = (
                    cur.execute(f"DELETE FROM store_vectors WHERE {where}", params).rowcount
                    if has_vectors
                    else 0
                )
                items = cur.execute(f"DELETE FROM store WHERE {where}", params).rowcount
                history = cur.execute(
                    f"DELETE FROM hippograph_history WHERE {where}", params
                ).rowcount
                cur.execute(
                    "INSERT INTO hippograph_history (prefix, key, op, old, new, at, source) "
                    "VALUES ('', %s, %s, NULL, %s, %s, %s)",
                    (
                        key,
                        ERASE_OP,
                        Jsonb({"items": items}),
                        at,
                        None if source is None else Jsonb(source),
                    ),
                )
            if compact:
                tables = ", ".join(
                    ["store", "hippograph_history"] + ["store_vectors"] * has_vectors
                )
                conn.execute(f"VACUUM FULL {tables}")
        removed = {"vectors": vectors, "items": items, "history": history}
        return ErasureReport(prefix, items, removed, at, compact, key)

    async def apurge(
        self, namespace_prefix: tuple[str, ...], *, compact: bool = True
    ) -> ErasureReport:
        """Async twin of `purge` (runs in a worker thread)."""
        return await asyncio.to_thread(self.purge, namespace_prefix, compact=compact)

    @contextmanager
    def _connection(self) -> Iterator[Connection[Any]]:
        """A connection of the pool (or the store's own, under its lock), autocommit."""
        if isinstance(self.conn, ConnectionPool):
            with self.conn.connection() as conn:
                yield conn
            return
        with self.lock:
            yield self.conn

    def count(self, namespace_prefix: tuple[str, ...] = ()) -> int:
        """Number of live (unexpired) items under `namespace_prefix`."""
        where, params = _prefix_condition(namespace_prefix)
        with self._cursor() as cur:
            row = cur.execute(
                f"SELECT count(*) AS n FROM store WHERE {where} "
                "AND (expires_at IS NULL OR expires_at > now())",
                params,
            ).fetchone()
        return 0 if row is None else int(row["n"])


def _has_table(cur: Cursor[Any], name: str) -> bool:
    row = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def _prefix_condition(prefix: tuple[str, ...]) -> tuple[str, list[str]]:
    """SQL matching `prefix` and its descendants on whole labels (LIKE wildcards escaped)."""
    if not prefix:
        return "TRUE", []
    path = ".".join(prefix)
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return r"(prefix = %s OR prefix LIKE %s ESCAPE '\')", [path, f"{escaped}.%"]
