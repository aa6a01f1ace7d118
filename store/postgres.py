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
import dataclasses
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, cast

import orjson
from langgraph.store.base import (
    IndexConfig,
    Op,
    Result,
    TTLConfig,
)
from langgraph.store.postgres import PostgresStore
from langgraph.store.postgres.base import PostgresIndexConfig
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from hippograph.store import pg_keywords, pg_links, pg_reads, pg_writes
from hippograph.store.codec import ns_to_text, text_to_ns
from hippograph.store.embeddings import embedder_name
from hippograph.store.erasure import ErasureReport
from hippograph.store.errors import (
    InvalidNamespaceError,
    StoreClosedError,
    StoreConfigError,
)
from hippograph.store.extras import ExtendedStore
from hippograph.store.history import HistoryEntry, current_source, recording_history
from hippograph.store.links import (
    LinkExpansion,
)
from hippograph.store.pg_erasure import purge_postgres
from hippograph.store.pg_filters import key_condition
from hippograph.store.pg_plan import BatchPlan, aembed, embed, plan_batch
from hippograph.store.pg_schema import (
    HISTORY_SETTING,
    SOURCE_SETTING,
    apply_migrations,
    check_embedder,
    index_vector_prefixes,
    setup_lock,
)
from hippograph.store.pg_sql import prefix_condition
from hippograph.store.pg_verify import verify_postgres
from hippograph.store.ranking import HybridSearch
from hippograph.store.verify import VerifyReport

logger = logging.getLogger(__name__)

DEFAULT_GROUP_DEPTH = 2
"""Namespace labels per keyword-statistics group: `("memories", user_id)` is one tenant."""

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


def with_exact_search(index: IndexConfig | PostgresIndexConfig) -> PostgresIndexConfig:
    """`index` with `EXACT_SEARCH` unless it already chooses an `ann_index_config`."""
    config = cast(dict[str, Any], dict(index))
    config.setdefault("ann_index_config", dict(EXACT_SEARCH))
    return cast(PostgresIndexConfig, config)


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
    _hybrid: HybridSearch | None = None
    _keyword_layout: list[str] | None = None
    group_depth: int = DEFAULT_GROUP_DEPTH
    """Namespace labels that form one keyword-statistics group (one user at 2, as SQLite's
    FAISS groups): BM25 statistics, and so scores, are each group's own."""
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
        hybrid: HybridSearch | bool | None = None,
        group_depth: int = DEFAULT_GROUP_DEPTH,
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
            hybrid: Hybrid search (vector + per-tenant BM25, ranked by `store.ranking`
                exactly as on SQLite; `True` for the defaults, `MEMORY_SEARCH` for memory
                search). Like SQLite's, the keyword index is the database's: once a hybrid
                store has asked for it, every `PostgresMemoryStore` keeps it current.
            group_depth: Namespace labels per keyword-statistics group (2: one per user).
        """
        if group_depth < 1:
            raise StoreConfigError(f"group_depth must be >= 1, got {group_depth}")
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
            store.group_depth = group_depth
            store.hybrid = HybridSearch() if hybrid is True else (hybrid or None)
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
            self._setup_keywords(conn)

    @property
    def hybrid(self) -> HybridSearch | None:
        """This store's hybrid search settings, `fields` resolved (default: the index
        fields); `None` for pure vector search. Assignable."""
        settings = self._hybrid
        if settings is not None and settings.fields is None and self.index_config:
            tokenized = cast(dict[str, Any], self.index_config)["__tokenized_fields"]
            fields = tuple(path for path, _ in tokenized)
            self._hybrid = settings = dataclasses.replace(settings, fields=fields)
        return settings

    @hybrid.setter
    def hybrid(self, settings: HybridSearch | None) -> None:
        self._hybrid = settings

    def _group_of(self, prefix: str) -> str:
        return ns_to_text(text_to_ns(prefix)[: self.group_depth])

    def _setup_keywords(self, conn: Connection[Any]) -> None:
        """Bring the database's keyword index up to this store's hybrid fields (indexing
        what is stored when the fields grow); never drops one."""
        settings = self.hybrid
        if settings is None or not self.index_config:
            return
        with conn.transaction(), conn.cursor() as cur:
            _, count = pg_keywords.ensure_fields(cur, settings.fields or (), self._group_of)
        if count:
            logger.info("built the keyword index (%d items)", count)

    def reindex_keywords(self) -> int:
        """Rebuild the keyword index from the stored items (after writes by plain
        `PostgresStore` clients, which cannot tokenise; `verify()` reports them), in one
        transaction; returns the items indexed (0 when the database keeps no index)."""
        with self._batch_cursor(write=True) as cur:
            fields = pg_keywords.recorded_fields(cur)
            return 0 if fields is None else pg_keywords.rebuild(cur, fields, self._group_of)

    def searched_keyword_fields(self) -> list[str] | None:
        """The keyword index's field layout as this store's searches read it, fetched once:
        fields only ever grow (appended), and a field appended later by another store is
        one this store's settings do not weigh, so its searches rank the same without it."""
        if self._keyword_layout is None:
            self._keyword_layout = self.keyword_fields()
        return self._keyword_layout

    def keyword_fields(self) -> list[str] | None:
        """Value fields the database's keyword index holds (`None`: it keeps none)."""
        with self._batch_cursor(write=False) as cur:
            return pg_keywords.recorded_fields(cur)

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
        if self.index_config and self.embeddings is not None:
            name = self.embedder_label or embedder_name(self.embeddings)
            check_embedder(conn, int(self.index_config["dims"]), name)

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
        plan = plan_batch(ops, self.index_config, self.expand_links, recording_history())
        embed(plan, self.embeddings, self.index_config, self.group_depth)
        return self._execute(plan)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of `batch`: embedding is awaited, database work runs in a worker thread
        (which keeps the caller's `provenance`)."""
        plan = plan_batch(ops, self.index_config, self.expand_links, recording_history())
        await aembed(plan, self.embeddings, self.index_config, self.group_depth)
        return await asyncio.to_thread(self._execute, plan)

    def _execute(self, plan: BatchPlan) -> list[Result]:
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
                results[i] = pg_reads.search(
                    self, cur, op, vector, plan.expansion, explain=plan.explain
                )
            if plan.lists:
                self._batch_list_namespaces_ops(plan.lists, results, cur)
            for i, links_op in plan.link_lists:
                results[i] = cast(Result, pg_links.list_links(cur, links_op))
            if plan.puts is not None:
                copy = self.pipe is None
                pg_writes.write_puts(cur, plan.puts, vector_type=self.vector_type, copy=copy)
                self._write_keywords(cur, plan.puts.keywords, copy=copy)
            if plan.link_writes:
                done = pg_links.apply_link_writes(cur, [op for _, op in plan.link_writes])
                for (i, _), result in zip(plan.link_writes, done, strict=True):
                    results[i] = cast(Result, result)
            pg_writes.check_absent(cur, plan.expects)
        return results

    def _write_keywords(
        self, cur: Cursor[Any], entries: list[pg_keywords.KeywordEntry], *, copy: bool
    ) -> None:
        """Keep the database's keyword index (if it keeps one) current for upserted items,
        in the write's transaction."""
        if not entries:
            return
        fields = pg_keywords.recorded_fields(cur)
        if fields is not None:
            pg_keywords.write_keywords(cur, entries, fields, self._group_of, copy=copy)

    def _set_write_settings(self, cur: Cursor[Any], plan: BatchPlan) -> None:
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
        """Type-aware comparisons, nested filters and dotted keys (see `store.pg_filters`);
        upstream's query builders are not used for searches any more, but keep the same
        semantics should one run."""
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
        their whole history, in one transaction, leaving one content-free `ERASE` audit row
        (see `hippograph.store.pg_erasure`; with `compact`, `VACUUM FULL` follows).

        Raises:
            InvalidNamespaceError: an empty prefix (that would erase everything).
        """
        prefix = tuple(namespace_prefix)
        if not prefix or not all(isinstance(label, str) for label in prefix):
            raise InvalidNamespaceError("purge needs a non-empty namespace prefix of strings")
        with self._connection() as conn:
            return purge_postgres(conn, prefix, source=current_source(), compact=compact)

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
