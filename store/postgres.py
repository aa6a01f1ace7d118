"""`PostgresMemoryStore`: LangGraph's `PostgresStore` schema and contract, plus hippograph's extras.

Core pieces:
    - Everything `PostgresStore` does (pgvector search, TTL, filters) on its own tables, so
      plain `PostgresStore` clients can share the database.
    - `batch` / `abatch` run in three steps like `FaissSqliteStore`: plan (validate, group),
      embed (outside any transaction; awaited in `abatch`), execute (one transaction when the
      batch writes). Large batches of puts stream through `COPY` (`pg_writes`).
    - The `ExtendedStore` extras: `history()` / `count()` / `purge()` / `verify()`, links
      between items (`LinkOp` / `UnlinkOp` / `ListLinksOp`, followed by search with
      `expand_links`), and conditional writes (`ExpectOp`, see `hippograph.store.expect`).
      History rows are written by triggers in the same transaction as the change; provenance
      (`hippograph.store.provenance`) reaches them as a transaction-local setting.
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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from langgraph.store.base import (
    GetOp,
    IndexConfig,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)
from langgraph.store.postgres import PostgresStore
from langgraph.store.postgres.base import PostgresIndexConfig
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from hippograph.store import pg_links, pg_reads, pg_writes
from hippograph.store.codec import text_to_ns
from hippograph.store.embeddings import embedder_name
from hippograph.store.erasure import ERASE_OP, ErasureReport, audit_key
from hippograph.store.errors import (
    EmbeddingDimensionError,
    EmbeddingError,
    InvalidNamespaceError,
    InvalidValueError,
    StoreClosedError,
    StoreConfigError,
)
from hippograph.store.expect import ExpectOp, validate_expect_op
from hippograph.store.extras import ExtendedStore
from hippograph.store.history import HistoryEntry, current_source
from hippograph.store.links import (
    LINK_OPS,
    LinkExpansion,
    LinkWrite,
    ListLinksOp,
    current_expansion,
    validate_link_op,
)
from hippograph.store.pg_filters import filter_condition
from hippograph.store.pg_schema import (
    HISTORY_SETTING,
    SOURCE_SETTING,
    apply_migrations,
    index_vector_prefixes,
    setup_lock,
    vector_dims,
)
from hippograph.store.pg_sql import prefix_condition
from hippograph.store.pg_verify import verify_postgres
from hippograph.store.verify import VerifyReport

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

_PURGED = {
    "hippograph_links": "links",
    "store_vectors": "vectors",
    "store": "items",
    "hippograph_history": "history",
}
"""Tables an erasure deletes from, in order, and the name of each count in its report."""

_RECORD_HISTORY: ContextVar[bool] = ContextVar("hippograph_pg_record_history", default=True)


@contextmanager
def history_paused() -> Iterator[None]:
    """Writes made inside do not record history rows (for copying another store's history)."""
    token = _RECORD_HISTORY.set(False)
    try:
        yield
    finally:
        _RECORD_HISTORY.reset(token)


def with_exact_search(index: IndexConfig | PostgresIndexConfig) -> PostgresIndexConfig:
    """`index` with `EXACT_SEARCH` unless it already chooses an `ann_index_config`."""
    config = cast(dict[str, Any], dict(index))
    config.setdefault("ann_index_config", dict(EXACT_SEARCH))
    return cast(PostgresIndexConfig, config)


@dataclass(slots=True)
class _Plan:
    """A batch after validation: what to read, what to write, what to embed."""

    results: list[Result]
    gets: list[tuple[int, GetOp]] = field(default_factory=list)
    searches: list[tuple[int, SearchOp]] = field(default_factory=list)
    lists: list[tuple[int, ListNamespacesOp]] = field(default_factory=list)
    link_lists: list[tuple[int, ListLinksOp]] = field(default_factory=list)
    puts: pg_writes.PutPlan | None = None
    link_writes: list[tuple[int, LinkWrite]] = field(default_factory=list)
    expects: list[ExpectOp] = field(default_factory=list)
    queries: dict[str, Sequence[float] | None] = field(default_factory=dict)
    """Query vectors by query text (`None` until embedded)."""
    source: dict[str, Any] | None = None
    record_history: bool = True
    expansion: LinkExpansion | None = None

    @property
    def writes(self) -> bool:
        """Whether the batch needs a write transaction."""
        return bool(self.puts and self.puts.size) or bool(self.link_writes or self.expects)


class PostgresMemoryStore(ExtendedStore, PostgresStore):
    """LangGraph's `PostgresStore` with hippograph's extras (`ExtendedStore`).

    Behaves like `PostgresStore` on every `BaseStore` call (same tables, so both can share a
    database); adds the audit trail, counts, erasure, links, conditional writes and a
    consistency check with the same signatures as `FaissSqliteStore`, so the CLI and UI work
    on both. Use `PostgresMemoryStore.open(url, index=...)` (or
    `hippograph.backends.open_store`), which creates a connection pool and runs `setup()`.

    Example:
        ```python
        from hippograph.backends import open_store

        with open_store("postgresql://user:pw@db/memories") as store:
            store.put(("memories", "alice"), "m1", {"content": "I work with NeoVim"})
            store.history(("memories", "alice"))
        ```
    """

    backend = "PostgreSQL"
    hybrid = None
    expand_links: LinkExpansion | None = None
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
        expand_links: LinkExpansion | None = None,
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
            expand_links: Natural-language searches also return the items their best
                results link to (see `LinkExpansion`); `None` (default): off.
        """
        config = with_exact_search(index) if index else None
        vector_type = (config or {}).get("ann_index_config", {}).get("vector_type", "vector")
        if vector_type not in ("vector", "halfvec"):
            raise StoreConfigError(f"vector_type must be vector or halfvec, got {vector_type!r}")
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
            store.expand_links = expand_links
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
            index_vector_prefixes(conn)
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

    @property
    def omits_expired(self) -> bool:
        """Whether reads hide expired items before the sweeper deletes them (`TTLConfig`'s
        `omit_expired`, as in `PostgresStore`)."""
        return self._omit_expired

    @property
    def vector_type(self) -> str:
        """pgvector column type of the index (`vector` or `halfvec`)."""
        config = cast(dict[str, Any], self.index_config or {})
        return str(config.get("ann_index_config", {}).get("vector_type", "vector"))

    def decode(self, value: Any) -> dict[str, Any]:
        """A stored `value` column as a dict (psycopg already decodes JSONB)."""
        if isinstance(value, dict):
            return value
        return (self._deserializer or orjson.loads)(value)

    # ------------------------------------------------------------------ batches

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute `ops`: in one transaction if any writes, else as autocommit reads (which
        see the state before the batch's writes, as on every store)."""
        plan = self._plan(ops)
        self._embed(plan)
        return self._execute(plan)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of `batch`: embedding is awaited, database work runs in a worker thread
        (which keeps the caller's `provenance`)."""
        plan = self._plan(ops)
        await self._aembed(plan)
        return await asyncio.to_thread(self._execute, plan)

    def _plan(self, ops: Iterable[Op]) -> _Plan:
        ops = list(ops)
        plan = _Plan(results=[None] * len(ops))
        plan.source = current_source()
        plan.record_history = _RECORD_HISTORY.get()
        plan.expansion = current_expansion(self.expand_links)
        puts: list[PutOp] = []
        for i, op in enumerate(ops):
            if isinstance(op, LINK_OPS):
                checked = validate_link_op(op)
                if isinstance(checked, ListLinksOp):
                    plan.link_lists.append((i, checked))
                else:
                    plan.link_writes.append((i, checked))
                continue
            if isinstance(op, ExpectOp):
                plan.expects.append(validate_expect_op(op))
                continue
            if not isinstance(op, (GetOp, SearchOp, ListNamespacesOp, PutOp)):
                raise InvalidValueError(f"Unknown operation type: {type(op).__name__}")
            validate_op_namespace(op)
            if isinstance(op, GetOp):
                plan.gets.append((i, op))
            elif isinstance(op, SearchOp):
                if op.limit < 0 or op.offset < 0:
                    raise InvalidValueError("search limit and offset must be >= 0")
                plan.searches.append((i, op))
                if op.query and self.index_config:
                    plan.queries[op.query] = None
            elif isinstance(op, ListNamespacesOp):
                plan.lists.append((i, op))
            else:
                if not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                puts.append(op)
        if puts:
            fields = (
                cast(dict[str, Any], self.index_config)["__tokenized_fields"]
                if self.index_config
                else None
            )
            plan.puts = pg_writes.plan_puts(puts, fields)
        return plan

    def _texts(self, plan: _Plan) -> list[str]:
        return [text for *_, text in plan.puts.texts] if plan.puts else []

    def _embed(self, plan: _Plan) -> None:
        texts = self._texts(plan)
        if self.embeddings is None or not (texts or plan.queries):
            return
        try:
            documents = self.embeddings.embed_documents(texts) if texts else []
            queries = [self.embeddings.embed_query(query) for query in plan.queries]
        except Exception as exc:
            raise EmbeddingError(f"embedding failed, nothing was written: {exc!r}") from exc
        self._keep_embeddings(plan, documents, queries)

    async def _aembed(self, plan: _Plan) -> None:
        texts = self._texts(plan)
        if self.embeddings is None or not (texts or plan.queries):
            return
        try:
            documents = await self.embeddings.aembed_documents(texts) if texts else []
            queries = await asyncio.gather(
                *(self.embeddings.aembed_query(query) for query in plan.queries)
            )
        except Exception as exc:
            raise EmbeddingError(f"embedding failed, nothing was written: {exc!r}") from exc
        self._keep_embeddings(plan, documents, list(queries))

    def _keep_embeddings(
        self, plan: _Plan, documents: Sequence[Sequence[float]], queries: list[list[float]]
    ) -> None:
        dims = int(cast(dict[str, Any], self.index_config)["dims"])
        for vector in [*documents, *queries]:
            if len(vector) != dims:
                raise EmbeddingDimensionError(
                    f"the embedder returned a {len(vector)}-d vector; this store holds "
                    f"{dims}-d vectors. Nothing was written"
                )
        if plan.puts is not None:
            if len(documents) != len(plan.puts.texts):
                raise EmbeddingError(
                    f"the embedder returned {len(documents)} vectors for "
                    f"{len(plan.puts.texts)} texts; nothing was written"
                )
            plan.puts.vectors = list(documents)
        plan.queries = dict(zip(plan.queries, queries, strict=True))

    def _execute(self, plan: _Plan) -> list[Result]:
        results = plan.results
        with self._batch_cursor(write=plan.writes) as cur:
            if plan.writes:
                self._set_write_settings(cur, plan)
            pg_writes.lock_expected(cur, plan.expects, self.omits_expired)
            if plan.gets:
                found = pg_reads.get_items(self, cur, [op for _, op in plan.gets])
                for (i, _), item in zip(plan.gets, found, strict=True):
                    results[i] = item
            for i, op in plan.searches:
                vector = plan.queries.get(op.query) if op.query else None
                results[i] = pg_reads.search(self, cur, op, vector, plan.expansion)
            if plan.lists:
                self._batch_list_namespaces_ops(plan.lists, results, cur)
            for i, links_op in plan.link_lists:
                results[i] = cast(Result, pg_links.list_links(cur, links_op))
            if plan.puts is not None:
                pg_writes.write_puts(
                    cur, plan.puts, vector_type=self.vector_type, copy=self.pipe is None
                )
            if plan.link_writes:
                done = pg_links.apply_link_writes(cur, [op for _, op in plan.link_writes])
                for (i, _), result in zip(plan.link_writes, done, strict=True):
                    results[i] = cast(Result, result)
            pg_writes.check_absent(cur, plan.expects)
        return results

    def _set_write_settings(self, cur: Cursor[Any], plan: _Plan) -> None:
        """Hand the transaction's provenance and history switch to the history triggers."""
        if plan.source is None and plan.record_history:
            return
        cur.execute(
            "SELECT set_config(%s::text, %s::text, true), set_config(%s::text, %s::text, true)",
            (
                SOURCE_SETTING,
                "" if plan.source is None else json.dumps(plan.source, default=str),
                HISTORY_SETTING,
                "on" if plan.record_history else "off",
            ),
        )

    @contextmanager
    def _batch_cursor(self, *, write: bool) -> Iterator[Cursor[DictRow]]:
        """A cursor for one batch: its own transaction when it writes (reads are single
        autocommit statements: no BEGIN/COMMIT round trips); pooled batches share no lock."""
        if self.pipe is not None:
            with super()._cursor(pipeline=True) as cur:
                yield cur
            return
        if isinstance(self.conn, ConnectionPool):
            if self.conn.closed:
                raise StoreClosedError("the store is closed")
            with self.conn.connection() as conn:
                scope: AbstractContextManager[Any] = conn.transaction() if write else nullcontext()
                with scope, conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            return
        with (
            self.lock,
            self.conn.transaction(),
            self.conn.cursor(binary=True, row_factory=dict_row) as cur,
        ):
            yield cur

    def sweep_ttl(self) -> int:
        """Delete expired items now, in one transaction: their links first, then the items
        (with their vectors); history records `UNLINK` then `EXPIRE`, as on SQLite."""
        with self._batch_cursor(write=True) as cur:
            cur.execute(
                "DELETE FROM hippograph_links l USING store s WHERE s.expires_at < now() "
                "AND s.prefix = l.prefix AND (s.key = l.src OR s.key = l.dst)"
            )
            return cur.execute("DELETE FROM store WHERE expires_at < now()").rowcount

    def _get_filter_condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        """Type-aware comparisons and nested filters (see `hippograph.store.pg_filters`)."""
        return filter_condition([key], op, value)

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
        where, params = prefix_condition(namespace_prefix)
        if key is not None:
            where, params = f"{where} AND key = %s", [*params, key]
        with self._batch_cursor(write=False) as cur:
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

    def count(self, namespace_prefix: tuple[str, ...] = ()) -> int:
        """Number of live (unexpired) items under `namespace_prefix`."""
        where, params = prefix_condition(namespace_prefix)
        with self._batch_cursor(write=False) as cur:
            row = cur.execute(
                f"SELECT count(*) AS n FROM store WHERE {where} "
                "AND (expires_at IS NULL OR expires_at > now())",
                params,
            ).fetchone()
        return 0 if row is None else int(row["n"])

    def purge(self, namespace_prefix: tuple[str, ...], *, compact: bool = True) -> ErasureReport:
        """Erase everything under `namespace_prefix`: items, their vectors, their links and
        their whole history, in one transaction (right to erasure), leaving one `ERASE` audit
        row without content or namespace, as `FaissSqliteStore.purge` does.

        With `compact` (default), `VACUUM FULL` then rewrites the four tables so no dead
        row keeps the old bytes in their files. It locks those tables while it runs (every
        replica waits), and PostgreSQL's WAL archive and backups keep the data until your
        retention policy drops them.

        Raises:
            InvalidNamespaceError: an empty prefix (that would erase everything).
        """
        prefix = tuple(namespace_prefix)
        if not prefix or not all(isinstance(label, str) for label in prefix):
            raise InvalidNamespaceError("purge needs a non-empty namespace prefix of strings")
        where, params = prefix_condition(prefix)
        at = datetime.now(UTC)
        source = current_source()
        key = audit_key(prefix)
        removed: dict[str, int] = {}
        with self._connection() as conn:
            with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                cur.execute("SELECT set_config(%s, 'off', true)", (HISTORY_SETTING,))
                tables = [name for name in _PURGED if _has_table(cur, name)]
                for table in tables:
                    deleted = cur.execute(f"DELETE FROM {table} WHERE {where}", params)
                    removed[_PURGED[table]] = deleted.rowcount
                cur.execute(
                    "INSERT INTO hippograph_history (prefix, key, op, old, new, at, source) "
                    "VALUES ('', %s, %s, NULL, %s, %s, %s)",
                    (
                        key,
                        ERASE_OP,
                        Jsonb({"items": removed["items"]}),
                        at,
                        None if source is None else Jsonb(source),
                    ),
                )
            if compact:
                conn.execute(f"VACUUM FULL {', '.join(tables)}")
        return ErasureReport(prefix, removed["items"], removed, at, compact, key)

    @contextmanager
    def _connection(self) -> Iterator[Connection[Any]]:
        """A connection of the pool (or the store's own, under its lock), autocommit."""
        if isinstance(self.conn, ConnectionPool):
            with self.conn.connection() as conn:
                yield conn
            return
        with self.lock:
            yield self.conn

    def verify(self) -> VerifyReport:
        """Check the schema, the triggers that keep history, and that every vector and link
        agrees with the items (see `hippograph.store.pg_verify`); `report.ok` when
        consistent."""
        with self._connection() as conn:
            return verify_postgres(conn, self)


def _has_table(cur: Cursor[Any], name: str) -> bool:
    row = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])
