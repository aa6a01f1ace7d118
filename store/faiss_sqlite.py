"""`FaissSqliteStore`: a LangGraph `BaseStore` with SQLite as the truth and FAISS as the index.

Core pieces:
    - SQLite (WAL) holds items, their vectors (float32 blobs), a vector log and the history.
    - FAISS holds one derived index per namespace group (e.g. per user), loaded from its
      on-disk snapshot or rebuilt from the stored vectors on demand, and kept current by
      replaying the vector log.
    - `batch` / `abatch` are the one implementation; `get`, `put`, `search`, … come from
      `BaseStore`. A batch runs in three steps — plan (validate, find texts to embed), embed
      (sync or async, outside any transaction), execute (one SQLite transaction).
    - Links between items of a namespace (`links.py`): `LinkOp` / `UnlinkOp` /
      `ListLinksOp` in the same batches, `link` / `unlink` / `links` on top; searches can
      follow them (`expand_links`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    GetOp,
    IndexConfig,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    TTLConfig,
    tokenize_path,
    validate_op_namespace,
)

from hippograph.store import bulk, erasure, fulltext, keyword_cache, link_sql, reads, writes
from hippograph.store.codec import (
    encode_value,
    ns_to_text,
    prefix_condition,
    text_hash,
    text_to_ns,
    texts_at_path,
    to_unit_vectors,
    validate_key,
    validate_ttl,
)
from hippograph.store.connections import Connections, Durability
from hippograph.store.embedding_scope import embedding_scope, scope_for
from hippograph.store.embeddings import (
    cached_embeddings,
    embed_queries,
    embedder_name,
    resolve_embeddings,
)
from hippograph.store.errors import (
    EmbeddingError,
    InvalidNamespaceError,
    InvalidValueError,
    StoreConfigError,
)
from hippograph.store.expect import ExpectOp
from hippograph.store.extras import ExtendedStore, plan_extra_op
from hippograph.store.history import (
    HistoryEntry,
    current_source,
    recording_history,
    source_for,
)
from hippograph.store.index_manager import IndexManager, chunked
from hippograph.store.index_policy import IndexPolicy
from hippograph.store.links import (
    LinkExpansion,
    LinkWrite,
    ListLinksOp,
    current_expansion,
)
from hippograph.store.query_vectors import given_query_vector
from hippograph.store.ranking import HybridSearch
from hippograph.store.ranking.explain import explaining
from hippograph.store.schema import migrate
from hippograph.store.snapshot import SnapshotDir
from hippograph.store.sweeper import Sweeper
from hippograph.store.verify import VerifyReport, verify_store

logger = logging.getLogger(__name__)

DEFAULT_MAX_VALUE_BYTES = 512 * 1024
_CACHE_SIZE = 4096
_LOG_KEEP = 100_000


@dataclass(slots=True)
class _Plan:
    """A batch after validation: what to read, what to write, what to embed."""

    results: list[Result]
    gets: list[tuple[int, GetOp]] = field(default_factory=list)
    searches: list[tuple[int, SearchOp]] = field(default_factory=list)
    lists: list[tuple[int, ListNamespacesOp]] = field(default_factory=list)
    puts: dict[tuple[tuple[str, ...], str], writes.PreparedPut] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    """Known vectors by text hash (cache or database): these texts are not re-embedded."""
    to_embed: dict[str, str] = field(default_factory=dict)
    """Texts still to embed, by hash."""
    doc_groups: dict[str, set[str]] = field(default_factory=dict)
    """FAISS groups (tenants) whose puts carry each text hash: vectors are reused per group."""
    query_groups: dict[str, set[str]] = field(default_factory=dict)
    """Groups searched with each query text: query vectors are cached per group."""
    queries: dict[str, np.ndarray | None] = field(default_factory=dict)
    link_writes: list[tuple[int, LinkWrite]] = field(default_factory=list)
    link_lists: list[tuple[int, ListLinksOp]] = field(default_factory=list)
    expansion: LinkExpansion | None = None
    """How this batch's searches follow links (the store's, or a `link_expansion` override)."""
    explain: bool = False
    """Searches return `ExplainedSearchItem`s (`search(..., explain=True)`)."""
    source: str | None = None
    """Explicit provenance (JSON) for the history rows of link changes."""
    expects: list[ExpectOp] = field(default_factory=list)
    """Preconditions checked in the write transaction before anything is written."""
    record_history: bool = True
    """This batch's writes record history rows (the store keeps history, and the batch was
    not made inside `history_paused()`)."""


class _VectorCache:
    """A small thread-safe LRU of text hash → unit vector."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            vector = self._data.get(key)
            if vector is not None:
                self._data.move_to_end(key)
            return vector

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def put(self, key: str, vector: np.ndarray) -> None:
        with self._lock:
            self._data[key] = vector
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _validate_once(item: bulk.BulkItem, checked: set[tuple[str, ...]]) -> None:
    """Validate the labels of `item`'s namespace unless `checked` holds it (a bulk chunk
    mostly repeats one namespace); add it once valid."""
    try:
        if item.namespace in checked:
            return
    except TypeError:  # an unhashable label: LangGraph's check names it
        pass
    validate_op_namespace(item.as_put_op())
    checked.add(item.namespace)


def _scoped(group: str, text: str) -> str:
    """Cache key of a text's vector within one group: caches never cross tenants."""
    return text_hash(f"{group}\x00{text}")


class FaissSqliteStore(ExtendedStore):
    """A persistent LangGraph store: SQLite (WAL) is the source of truth, FAISS the index.

    Implements the whole `BaseStore` contract — get / put / delete / search with filters and
    natural-language queries / list_namespaces / TTL — and behaves like LangGraph's
    `InMemoryStore` on the same calls, but survives restarts and crashes, shares one file
    between threads and processes, and searches with FAISS.

    Args:
        path: SQLite file path, or `":memory:"` for a throwaway store.
        index: LangGraph `IndexConfig`: `embed` (an `Embeddings`, a callable, `"local"` or
            `"provider:model"`), `dims` (probed from the embedder when omitted) and `fields`
            (JSON paths to embed, default `["$"]`). Without it, search is filter-only.
        ttl: LangGraph `TTLConfig`. `sweep_interval_minutes` starts a background sweeper.
            Expired items are never returned, even before they are swept.
        group_depth: Namespace labels that form one FAISS index: 2 gives one index per
            `("memories", user_id)`.
        index_policy: When a group switches from exact search to HNSW, HNSW settings, and
            which groups keep an on-disk index snapshot (in `<path>-index/`, a cache that
            makes reopening a large store fast; deleting it loses nothing).
        durability: `"full"` (default; fsync per commit) or `"normal"` (crash-safe, not
            power-loss-safe). See `Connections`.
        max_value_bytes: Largest accepted encoded value (`None`: unlimited).
        history: Record every change in the `history` table (the audit trail).
        hybrid: Hybrid search (vector + per-tenant BM25, see `HybridSearch`; `True` for the
            default weights). Off by default (`None`): `search(query=...)` scores are the
            cosine similarity, exactly as LangGraph's stores return them, so the store is a
            drop-in `BaseStore`. The memory store that `hippograph.backends.open_store` opens
            turns it on (`MEMORY_SEARCH`). The keyword index is the database's, not the
            opener's: once a hybrid store has asked for it, every store keeps it current on
            write, whatever its own settings (`fulltext.py`), and opening with hybrid search
            off or without an index never drops it.
        expand_links: Natural-language searches also return the items their best results
            link to, with decayed scores (see `LinkExpansion`); `None` (default): off.
            `link_expansion(...)` overrides it for the searches made inside it.
        keyword_cache_bytes: Memory bound of the in-process copy of searched tenants'
            keyword indexes (`keyword_cache.py`: hybrid search then reads no keyword rows
            from SQLite, results unchanged); least recently searched tenants are evicted
            past it. `0` turns the copy off.

    Example:
        ```python
        from hippograph.store import FaissSqliteStore

        with FaissSqliteStore.from_conn_string("memories.db", index={"embed": "local"}) as store:
            store.put(("memories", "alice"), "m1", {"content": "I work with NeoVim"})
            hits = store.search(("memories", "alice"), query="What tools do I use?")
        ```
    """

    supports_ttl = True
    backend = "SQLite"

    def __init__(
        self,
        path: str = ":memory:",
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        group_depth: int = 2,
        index_policy: IndexPolicy | None = None,
        durability: Durability = "full",
        max_value_bytes: int | None = DEFAULT_MAX_VALUE_BYTES,
        history: bool = True,
        hybrid: HybridSearch | bool | None = None,
        expand_links: LinkExpansion | None = None,
        keyword_cache_bytes: int = keyword_cache.DEFAULT_MAX_BYTES,
    ) -> None:
        if group_depth < 1:
            raise StoreConfigError(f"group_depth must be >= 1, got {group_depth}")
        self.path = path
        self.group_depth = group_depth
        self.max_value_bytes = max_value_bytes
        self.record_history = history
        self.ttl_config = ttl
        self.expand_links = expand_links
        self.omit_expired = True if ttl is None else bool(ttl.get("omit_expired", True))
        self.embeddings: Embeddings | None = None
        self.index_config: IndexConfig | None = None
        self._fields: list[tuple[str, str | list[str]]] = []
        self._field_paths: tuple[str, ...] = ()
        self._doc_cache = _VectorCache(_CACHE_SIZE)
        self._query_cache = _VectorCache(_CACHE_SIZE)
        self._conns = Connections(path, durability=durability)
        self._index: IndexManager | None = None
        self._keywords = (
            keyword_cache.KeywordCache(
                keyword_cache_bytes, read=None if self._conns.in_memory else self._conns.read
            )
            if keyword_cache_bytes > 0
            else None
        )
        self._hybrid: HybridSearch | None = None
        if index is not None:
            self._hybrid = HybridSearch() if hybrid is True else (hybrid or None)
        if index is not None:
            self._configure_index(index, index_policy or IndexPolicy())
        self._sweeper: Sweeper | None = None
        self.setup()
        interval = (ttl or {}).get("sweep_interval_minutes")
        if interval:
            self.start_ttl_sweeper(interval)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        **kwargs: Any,
    ) -> Iterator[FaissSqliteStore]:
        """Open a store on `conn_string` (`":memory:"`, a path or `sqlite:///path`) and close it
        on exit, like LangGraph's `SqliteStore.from_conn_string`."""
        path = (
            conn_string.removeprefix("sqlite:///")
            if conn_string.startswith("sqlite:///")
            else conn_string
        )
        store = cls(path, index=index, ttl=ttl, **kwargs)
        try:
            yield store
        finally:
            store.close()

    def close(self) -> None:
        """Stop the sweeper, write due index snapshots and close every connection (idempotent)."""
        self.stop_ttl_sweeper()
        if self._index is not None:
            self._index.close()
        if self._keywords is not None:
            self._keywords.close()
        self._conns.close()

    def _configure_index(self, index: IndexConfig, policy: IndexPolicy) -> None:
        config: dict[str, Any] = dict(index)
        embed = config.get("embed")
        if embed is None:
            raise StoreConfigError("IndexConfig needs 'embed' (e.g. 'local' or 'openai:...')")
        self.embeddings = resolve_embeddings(embed)
        dims = config.get("dims") or getattr(self.embeddings, "dims", None)
        if not dims:
            try:
                dims = len(self.embeddings.embed_query("dimension probe"))
            except Exception as exc:
                raise EmbeddingError(f"could not probe the embedder's dimension: {exc}") from exc
        if not isinstance(dims, int) or dims < 1:
            raise StoreConfigError(f"IndexConfig 'dims' must be a positive int, got {dims!r}")
        fields: list[str] = list(config.get("fields") or ["$"])
        self._fields = [(path, path if path == "$" else tokenize_path(path)) for path in fields]
        self._field_paths = tuple(fields)
        config.update(dims=dims, fields=list(fields), embed=self.embeddings)
        self.index_config = cast(IndexConfig, config)
        self._index = IndexManager(
            dims, policy, SnapshotDir.beside(self.path), read=self._conns.read
        )

    @property
    def dims(self) -> int | None:
        """Embedding dimension, or `None` for a store without an index."""
        return self._index.dims if self._index else None

    def setup(self) -> None:
        """Create or migrate the schema and check the embedder against the file (idempotent)."""
        with self._conns.write() as conn:
            migrate(conn)
            self._setup_fulltext(conn)
            if self._index is None or self.embeddings is None:
                return
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            name = embedder_name(self.embeddings)
            if "dims" in meta and int(meta["dims"]) != self._index.dims:
                raise StoreConfigError(
                    f"{self.path} holds {meta['dims']}-d vectors but the embedder gives "
                    f"{self._index.dims}-d; use the original embedder or a new database"
                )
            if meta.get("embedder") not in (None, name):
                logger.warning(
                    "%s was indexed with %s, now opened with %s: scores mix two models",
                    self.path,
                    meta["embedder"],
                    name,
                )
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                [
                    ("dims", str(self._index.dims)),
                    ("embedder", name),
                    ("database_id", uuid.uuid4().hex),  # tells its index snapshots apart
                ],
            )

    @property
    def hybrid(self) -> HybridSearch | None:
        """This store's hybrid search settings, `fields` resolved (default: the index
        fields); `None` for pure vector search. Assignable."""
        if self._hybrid is not None and self._hybrid.fields is None and self._fields:
            fields = tuple(path for path, _ in self._fields)
            self._hybrid = dataclasses.replace(self._hybrid, fields=fields)
        return self._hybrid

    @hybrid.setter
    def hybrid(self, settings: HybridSearch | None) -> None:
        self._hybrid = settings

    @property
    def fulltext_fields(self) -> list[str] | None:
        """Value fields this store's hybrid search reads (`None` when hybrid search is off);
        the database may index more (`keyword_fields`)."""
        if self.hybrid is None:
            return None
        return list(self.hybrid.fields or ())

    def keyword_fields(self) -> list[str] | None:
        """Value fields the database's keyword index holds (`None`: it keeps none)."""
        with self._conns.read() as conn:
            return fulltext.recorded_fields(conn)

    def _group_of_prefix(self, prefix: str) -> str:
        return self._group_of(text_to_ns(prefix))

    def _setup_fulltext(self, conn: Any) -> None:
        """Bring the database's keyword index up to what this store needs; never drops one."""
        count = 0
        if conn.execute("SELECT 1 FROM meta WHERE key = 'keyword_reindex'").fetchone():
            fields = fulltext.recorded_fields(conn) or []
            count = fulltext.rebuild(conn, fields, self._group_of_prefix)
            conn.execute("DELETE FROM meta WHERE key = 'keyword_reindex'")
        wanted = self.fulltext_fields
        if wanted is not None and self._index is not None:
            _, added = fulltext.ensure_fields(conn, wanted, self._group_of_prefix)
            count = max(count, added)
        if count:
            logger.info("built the keyword index of %s (%d items)", self.path, count)

    # ------------------------------------------------------------------ batch

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute `ops` (reads see the state before this batch's writes)."""
        plan = self._plan(ops)
        self._embed(plan)
        return self._execute(plan)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of `batch`: database work runs in a worker thread, embedding is awaited."""
        plan = await asyncio.to_thread(self._plan, list(ops))
        await self._aembed(plan)
        return await asyncio.to_thread(self._execute, plan)

    # ------------------------------------------------------------------ bulk

    def bulk_put(
        self,
        items: Iterable[bulk.BulkItem | PutOp],
        *,
        chunk_size: int = bulk.CHUNK_SIZE,
        on_progress: Callable[[int], None] | None = None,
    ) -> bulk.BulkReport:
        """Load many items fast, as durably as `put` (see `hippograph.store.bulk`).

        Items are validated, encoded and (where no vector is given and none is stored for
        the same text) embedded chunk by chunk, while the previous chunk is written; each
        chunk is one transaction with its vectors, history, keyword rows and vector-log
        entries, committed before the next starts. Returns once everything is durable
        (one fsync for the whole load, see `hippograph.store.bulk`). The FAISS indexes catch
        up on their next search, as after any write.

        Args:
            items: `BulkItem`s (with vectors when you have them) or `PutOp`s, consumed lazily.
            chunk_size: Items per transaction.
            on_progress: Called with the number of items written after each chunk.

        Raises:
            InvalidValueError, InvalidNamespaceError: a bad item (named by its position and
                key); the chunks before its chunk are written, nothing of its chunk is.

        Example:
            ```python
            from hippograph.store.bulk import BulkItem

            report = store.bulk_put(
                BulkItem(("memories", "alice"), f"m{i}", {"content": text}, {"content": vector})
                for i, (text, vector) in enumerate(zip(texts, vectors))
            )
            report.per_second  # items written per second
            ```
        """
        try:
            return bulk.run_chunks(
                items,
                self._bulk_prepare,
                self._bulk_write,
                chunk_size=chunk_size,
                on_progress=on_progress,
            )
        finally:
            self._conns.sync_wal()  # chunks commit without an fsync each: one for all

    async def abulk_put(
        self,
        items: Iterable[bulk.BulkItem | PutOp],
        *,
        chunk_size: int = bulk.CHUNK_SIZE,
        on_progress: Callable[[int], None] | None = None,
    ) -> bulk.BulkReport:
        """Async twin of `bulk_put` (runs in a worker thread)."""
        return await asyncio.to_thread(
            self.bulk_put, items, chunk_size=chunk_size, on_progress=on_progress
        )

    def _bulk_prepare(self, chunk: list[bulk.BulkItem | PutOp], first: int) -> _Plan:
        """Validate, encode and embed one chunk of a bulk load (in the caller's thread)."""
        plan = _Plan(results=[])
        plan.source = source_for(None, current_source())
        plan.record_history = self.record_history and recording_history()
        given: list[tuple[str, bulk.Vector]] = []
        checked: set[tuple[str, ...]] = set()  # namespaces whose labels were validated
        for n, raw in enumerate(chunk):
            try:
                item = bulk.BulkItem.of(raw)
                _validate_once(item, checked)
                put = self._prepare_put(item, plan.source)
                if item.vectors and self._index is None:
                    raise InvalidValueError("this store has no vector index to put vectors in")
                given.extend(bulk.given_vectors(item, put.texts))
            except (TypeError, ValueError) as exc:
                where = f"bulk item {first + n:,} (key {getattr(raw, 'key', '?')!r})"
                known = isinstance(exc, (InvalidValueError, InvalidNamespaceError))
                kind = type(exc) if known else InvalidValueError
                raise kind(f"{where}: {exc}") from exc
            plan.puts.pop((put.namespace, put.key), None)
            plan.puts[(put.namespace, put.key)] = put
        if given:
            assert self._index is not None
            try:
                rows = bulk.unit_rows([vector for _, vector in given], self._index.dims)
            except ValueError as exc:
                raise InvalidValueError(f"bulk items {first:,}+: {exc}") from exc
            plan.vectors.update(zip((digest for digest, _ in given), rows, strict=True))
        self._find_known_vectors(plan)
        self._embed(plan)
        return plan

    def _bulk_write(self, plan: _Plan) -> tuple[int, int]:
        """Write one prepared chunk (in the bulk writer thread): `(items, texts embedded)`."""
        self._execute(plan, sync=False)
        return len(plan.puts), len(plan.to_embed)

    def _plan(self, ops: Iterable[Op]) -> _Plan:
        ops = list(ops)
        plan = _Plan(results=[None] * len(ops))
        explicit_source = current_source()
        plan.source = source_for(None, explicit_source)
        plan.expansion = current_expansion(self.expand_links)
        plan.explain = explaining()
        plan.record_history = self.record_history and recording_history()
        for i, op in enumerate(ops):
            if plan_extra_op(plan, i, op):
                continue
            validate_op_namespace(op)
            if isinstance(op, GetOp):
                plan.gets.append((i, op._replace(key=validate_key(op.key))))
            elif isinstance(op, SearchOp):
                if op.limit < 0 or op.offset < 0:
                    raise InvalidValueError("search limit and offset must be >= 0")
                plan.searches.append((i, op))
                if op.query and self._index is not None:
                    group = self._group_of(op.namespace_prefix)
                    plan.query_groups.setdefault(op.query, set()).add(group)
                    given = given_query_vector(op.query, self._index.dims)
                    cached = self._query_cache.get(_scoped(group, op.query))
                    if given is not None:
                        plan.queries[op.query] = given
                    elif plan.queries.get(op.query) is None:
                        plan.queries[op.query] = cached
            elif isinstance(op, ListNamespacesOp):
                plan.lists.append((i, op))
            elif isinstance(op, PutOp):
                put = self._prepare_put(op, plan.source)
                plan.puts.pop((put.namespace, put.key), None)
                plan.puts[(put.namespace, put.key)] = put
            else:
                raise InvalidValueError(f"Unknown operation type: {type(op).__name__}")
        self._find_known_vectors(plan)
        return plan

    def _prepare_put(
        self, op: PutOp | bulk.BulkItem, explicit_source: str | None
    ) -> writes.PreparedPut:
        """Validate and encode one put; `explicit_source` is the JSON of the provenance set
        with `provenance(...)` (computed once per batch), else each value's own `source`."""
        if not op.namespace:
            # `put()` also reserves the "langgraph" root; raw batches may use it, as in LangGraph.
            raise InvalidNamespaceError("Namespace cannot be empty.")
        key = validate_key(op.key)
        if op.value is None:
            return writes.PreparedPut(op.namespace, key, None, None, None, [], explicit_source)
        value_json = encode_value(op.value, self.max_value_bytes)
        ttl = validate_ttl(op.ttl)
        if op.index is not False and op.index is not None and not isinstance(op.index, list):
            raise InvalidValueError(
                f"index must be False, None or a list of paths, got {op.index!r}"
            )
        texts: list[tuple[str, str, str]] = []
        text_paths: tuple[str, ...] | None = None
        if self._index is not None and op.index is not False:
            paths = self._fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
            text_paths = self._field_paths if op.index is None else None  # (an index list's
            # "$" is read as a key here, as LangGraph does, but as the whole value by keywords)
            for path, tokens in paths:
                found = texts_at_path(op.value, tokens)
                for n, text in enumerate(found):
                    field_name = f"{path}.{n}" if len(found) > 1 else path
                    texts.append((field_name, text, text_hash(text)))
        source = explicit_source if explicit_source is not None else source_for(op.value, None)
        index_paths = list(op.index) if isinstance(op.index, list) else None
        return writes.PreparedPut(
            op.namespace, key, op.value, value_json, ttl, texts, source, index_paths, text_paths
        )

    def _find_known_vectors(self, plan: _Plan) -> None:
        """Reuse the vectors of texts already embedded *in the same group* (tenant): the
        cost and timing of a put never depend on what another tenant stored. Texts whose
        vector came with the item (`bulk_put`) are not looked up."""
        hashes: dict[str, str] = {}
        for put in plan.puts.values():
            group = self._group_of(put.namespace)
            for _, text, digest in put.texts:
                if digest in plan.vectors:
                    continue
                hashes[digest] = text
                plan.doc_groups.setdefault(digest, set()).add(group)
        for digest in list(hashes):
            for group in plan.doc_groups[digest]:
                cached = self._doc_cache.get(_scoped(group, digest))
                if cached is not None:
                    plan.vectors[digest] = cached
                    del hashes[digest]
                    break
        if hashes:
            with self._conns.read() as conn:
                for chunk in chunked(list(hashes)):
                    for digest, group, blob in conn.execute(
                        "SELECT text_hash, grp, blob FROM vectors WHERE text_hash IN "
                        f"({','.join('?' * len(chunk))})",
                        tuple(chunk),
                    ):
                        vector = np.frombuffer(blob, dtype=np.float32)
                        dims_ok = self._index is not None and len(vector) == self._index.dims
                        if dims_ok and group in plan.doc_groups[digest]:
                            plan.vectors[digest] = vector
                            hashes.pop(digest, None)
        plan.to_embed = hashes

    def _missing_queries(self, plan: _Plan) -> list[str]:
        return [q for q, v in plan.queries.items() if v is None]

    def _store_embeddings(self, plan: _Plan, docs: object, queries: Sequence[object]) -> None:
        assert self._index is not None
        dims = self._index.dims
        if plan.to_embed:
            vectors = to_unit_vectors(docs, dims, len(plan.to_embed))
            for digest, vector in zip(plan.to_embed, vectors, strict=True):
                plan.vectors[digest] = vector
                for group in plan.doc_groups[digest]:
                    self._doc_cache.put(_scoped(group, digest), vector)
        missing = self._missing_queries(plan)
        if missing:
            vectors = to_unit_vectors(list(queries), dims, len(missing))
            for query, vector in zip(missing, vectors, strict=True):
                plan.queries[query] = vector
                for group in plan.query_groups[query]:
                    self._query_cache.put(_scoped(group, query), vector)

    def _tenants(self, plan: _Plan) -> Iterator[tuple[str, ...]]:
        """The tenant groups of the texts and queries `plan` embeds."""
        for digest in plan.to_embed:
            yield from map(text_to_ns, plan.doc_groups.get(digest, ()))
        for query in self._missing_queries(plan):
            yield from map(text_to_ns, plan.query_groups.get(query, ()))

    def _embed(self, plan: _Plan) -> None:
        if self.embeddings is None or not (plan.to_embed or self._missing_queries(plan)):
            return
        embedder, scope = cached_embeddings(self.embeddings), scope_for(self._tenants(plan))
        try:
            with embedding_scope(scope):
                texts = list(plan.to_embed.values())
                docs = embedder.embed_documents(texts) if texts else []
                queries = embed_queries(embedder, self._missing_queries(plan))
        except Exception as exc:
            raise EmbeddingError(f"embedding failed, nothing was written: {exc!r}") from exc
        self._store_embeddings(plan, docs, queries)

    async def _aembed(self, plan: _Plan) -> None:
        if self.embeddings is None or not (plan.to_embed or self._missing_queries(plan)):
            return
        embedder, scope = cached_embeddings(self.embeddings), scope_for(self._tenants(plan))
        try:
            with embedding_scope(scope):
                texts = list(plan.to_embed.values())
                docs = await embedder.aembed_documents(texts) if texts else []
                queries = await asyncio.gather(
                    *(embedder.aembed_query(q) for q in self._missing_queries(plan))
                )
        except Exception as exc:
            raise EmbeddingError(f"embedding failed, nothing was written: {exc!r}") from exc
        self._store_embeddings(plan, docs, queries)

    def _execute(self, plan: _Plan, *, sync: bool = True) -> list[Result]:
        now = _now()
        if plan.puts or plan.link_writes or plan.expects:
            with self._conns.write(sync=sync) as conn:
                writes.check_expectations(conn, plan.expects, now.timestamp(), self.omit_expired)
                scope = reads.ReadScope(conn, now.timestamp(), self.omit_expired)
                self._run_reads(scope, plan)
                writes.apply_puts(
                    conn,
                    list(plan.puts.values()),
                    plan.vectors,
                    group_of=self._group_of,
                    now=now,
                    record_history=plan.record_history,
                    keyword_fields=fulltext.recorded_fields(conn),
                )
                self._write_links(conn, plan, now)
                writes.refresh_ttl(conn, scope.refresh, now)
                writes.compact_log(conn, _LOG_KEEP)
            return plan.results
        with self._conns.read() as conn:
            scope = reads.ReadScope(conn, now.timestamp(), self.omit_expired)
            self._run_reads(scope, plan)
        if scope.refresh:
            with self._conns.write() as conn:
                writes.refresh_ttl(conn, scope.refresh, now)
        return plan.results

    def _write_links(self, conn: Any, plan: _Plan, now: datetime) -> None:
        """Apply the batch's link changes (after its puts, in the same transaction)."""
        if not plan.link_writes:
            return
        done = link_sql.apply_link_writes(
            conn,
            [op for _, op in plan.link_writes],
            at=now.isoformat(),
            source=plan.source,
            record_history=plan.record_history,
        )
        for (i, _), result in zip(plan.link_writes, done, strict=True):
            plan.results[i] = cast(Result, result)

    def _run_reads(self, scope: reads.ReadScope, plan: _Plan) -> None:
        if plan.gets:
            found = reads.get_items(scope, [op for _, op in plan.gets])
            for (i, _), item in zip(plan.gets, found, strict=True):
                plan.results[i] = item
        for i, op in plan.searches:
            query = plan.queries.get(op.query) if op.query else None
            if query is not None and self._index is not None and self.hybrid is not None:
                plan.results[i] = reads.search_hybrid(
                    scope,
                    op,
                    query,
                    self._index,
                    self.group_depth,
                    settings=self.hybrid,
                    expansion=plan.expansion,
                    explain=plan.explain,
                    keywords=self._keywords,
                )
            elif query is not None and self._index is not None:
                plan.results[i] = reads.search_by_vector(
                    scope,
                    op,
                    query,
                    self._index,
                    self.group_depth,
                    expansion=plan.expansion,
                    explain=plan.explain,
                )
            else:
                plan.results[i] = reads.search_by_filter(scope, op, explain=plan.explain)
        for i, list_op in plan.lists:
            plan.results[i] = reads.list_namespaces(scope, list_op)
        for i, links_op in plan.link_lists:
            plan.results[i] = cast(Result, link_sql.list_links(scope.conn, links_op))

    def _group_of(self, namespace: tuple[str, ...]) -> str:
        return ns_to_text(namespace[: self.group_depth])

    # ------------------------------------------------------------------ TTL

    def sweep_ttl(self) -> int:
        """Delete expired items now (with their vectors; history records EXPIRE)."""
        now = _now()
        with self._conns.write() as conn:
            rows = conn.execute(
                "SELECT id, prefix, key, value, NULL FROM items "
                "WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now.timestamp(),),
            ).fetchall()
            writes.delete_items(
                conn, rows, op="EXPIRE", at=now.isoformat(), record_history=self.record_history
            )
        return len(rows)

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep expired items every `sweep_interval_minutes` in a daemon thread."""
        interval = (
            sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        )
        if self._sweeper is None:
            self._sweeper = Sweeper(self.sweep_ttl, float(interval) * 60.0)
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; `True` if it is no longer running."""
        return True if self._sweeper is None else self._sweeper.stop(timeout)

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
        where, params = prefix_condition(namespace_prefix, "prefix")
        if key is not None:
            where, params = f"{where} AND key = ?", [*params, key]
        with self._conns.read() as conn:
            rows = conn.execute(
                f"SELECT id, prefix, key, op, old, new, at, source FROM history WHERE {where} "
                "ORDER BY id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [
            HistoryEntry(
                id=row[0],
                namespace=text_to_ns(row[1]),
                key=row[2],
                op=row[3],
                old=json.loads(row[4]) if row[4] else None,
                new=json.loads(row[5]) if row[5] else None,
                at=datetime.fromisoformat(row[6]),
                source=json.loads(row[7]) if row[7] else None,
            )
            for row in rows
        ]

    def count(self, namespace_prefix: tuple[str, ...] = ()) -> int:
        """Number of live items under `namespace_prefix`."""
        where, params = prefix_condition(namespace_prefix, "prefix")
        with self._conns.read() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM items WHERE {where} AND "
                "(expires_at IS NULL OR expires_at > ?)",
                (*params, _now().timestamp()),
            ).fetchone()
        return int(row[0])

    def keyword_cache_bytes(self) -> dict[str, int]:
        """`{group: bytes}` of the tenants' keyword indexes this process holds in memory for
        hybrid search (`keyword_cache.py`; empty when the cache is off)."""
        return self._keywords.cached_groups() if self._keywords is not None else {}

    def save_index_snapshots(self) -> None:
        """Finish the background index work that is due (building a large group's HNSW
        graph, merging new vectors into it), then bring the on-disk index snapshots of
        large groups up to date (all of this also happens by itself; snapshots on close)."""
        if self._index is not None:
            self._index.flush()

    def purge(
        self, namespace_prefix: tuple[str, ...], *, compact: bool = True
    ) -> erasure.ErasureReport:
        """Erase everything under `namespace_prefix`: items, vectors, full-text rows, the
        vector-log entries naming it and its whole history (right to erasure).

        Leaves one `ERASE` audit row without content or namespace (see
        `hippograph.store.erasure`). With `compact` (default) the database is then rewritten
        and its WAL truncated, so no byte of the erased data is left in the files; that
        costs a `VACUUM` of the whole file.

        Raises:
            InvalidNamespaceError: an empty prefix (that would erase everything).
        """
        prefix = tuple(namespace_prefix)
        if not prefix or not all(isinstance(label, str) for label in prefix):
            raise InvalidNamespaceError("purge needs a non-empty namespace prefix of strings")
        now = _now()
        with self._conns.write() as conn:
            report = erasure.purge(
                conn,
                prefix,
                group_depth=self.group_depth,
                at=now,
                source=source_for(None, current_source()),
                record=self.record_history,
            )
        if self._index is not None:
            with self._conns.read() as conn:
                groups = self._groups_under(conn, prefix, report.groups)
                self._index.forget(conn, groups)
                if self._keywords is not None:
                    self._keywords.forget(groups)
        self._doc_cache.clear()
        self._query_cache.clear()
        if compact:
            with self._conns.maintenance() as conn:
                done = erasure.compact(conn, in_memory=self._conns.in_memory)
            report = dataclasses.replace(report, compacted=done)
        return report

    def _groups_under(self, conn: Any, prefix: tuple[str, ...], erased: Sequence[str]) -> list[str]:
        """FAISS groups that may hold vectors under `prefix`: those of the erased vectors,
        the group `prefix` lies in, and every snapshotted group under `prefix` (a snapshot
        can outlive the vectors it holds when they were deleted before the erasure)."""
        assert self._index is not None
        groups = set(erased)
        if len(prefix) >= self.group_depth:
            groups.add(self._group_of(prefix))
        groups.update(
            group
            for group in self._index.snapshot_groups(conn)
            if text_to_ns(group)[: len(prefix)] == prefix
        )
        return sorted(groups)

    def verify(self) -> VerifyReport:
        """Check SQLite integrity and that vectors, full-text rows and the FAISS indexes agree
        with the items (see `hippograph.store.verify`); `report.ok` when consistent."""
        return verify_store(self)

    def index_stats(self) -> dict[str, tuple[str, int]]:
        """`{group: (index kind, live vectors)}` for the FAISS indexes loaded in this process."""
        return self._index.loaded_groups() if self._index else {}
