"""In-process copies of groups' keyword indexes, kept exact with SQLite through the keyword log.

A hybrid search reads a tenant's BM25 statistics, champion lists and forward index; from
SQLite that is several statements and a Python pass over every candidate's forward text.
`KeywordCache` holds, per group (a tenant: the FAISS group), the same index in numpy arrays
and answers `ranking.bm25.KeywordSource` from memory, exactly as `fulltext.SqliteKeywords`
answers from the tables (same ids, same order, same floats; tests compare both).

Keeping it exact, like `index_manager` keeps FAISS groups exact:

    - A group is loaded lazily from `keyword_docs` (the forward index) on its first search,
      in a background thread with its own read transaction (with no `read`, e.g. for
      `:memory:`, inside the searching one): searches read SQLite until it is ready, so a
      cold tenant's first search — or a one-shot CLI process — never waits for a load. The
      copy is stamped with its snapshot's vector- and keyword-log heads (`keyword_log.heads`,
      one statement per search).
    - A later snapshot with other heads first checks the floors (keyword log compacted or
      rebuilt; the group fenced by an erasure in the vector log) — then the group reloads —
      and otherwise re-reads the forward rows of only the items `keyword_log` names for the
      group since the stamp. Writers of this process and of others log alike, so both are
      seen; nothing on the write path touches the cache.
    - A copy is never changed in place: catching up builds a new `_Group` holding the loaded
      arrays (`_Main`) plus the items changed since (`added`, `removed`); once those grow
      past `_REFOLD` of the group (or a floor was raised), the copy is dropped and
      reloaded like a first load — in the background, searches reading SQLite meanwhile. A
      search at a snapshot older than the copy reads SQLite too.
    - Erasure: the erasing process calls `forget`; other processes drop a fenced group at
      their next search of any group (`vector_log.fences_since`), so no process keeps
      erased terms in memory.

Each copy also holds its items' value fields that ranking reads (date, thread) and whether
each carries a TTL (`cached_values.ItemValues`, kept exact through the same log), so a warm
search reads no candidate's value from SQLite, and which item owns each of the group's
vectors (`cached_vectors.VectorOwners`, kept exact through the vector log), so it maps FAISS
hits to items and takes keyword-only candidates' vectors from the FAISS group without SQL.

Memory: about 24 bytes per posting (item id, per-slot counts, impact, champion order;
narrow dtypes when ids and counts allow) plus about 24 bytes per item of values and 32 per
vector of the vector map — about 60 MB per 100k LoCoMo memories, about 23 postings each
(`benchmarks/results/hybrid_search.md`).
Least recently searched groups are evicted past `max_bytes`, so many tenants never pin RAM.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

from hippograph.store import keyword_log, sorted_ids, vector_log
from hippograph.store.cached_values import ItemValues
from hippograph.store.cached_vectors import VectorOwners
from hippograph.store.fulltext import parse_forward
from hippograph.store.index_manager import chunked
from hippograph.store.ranking.bm25 import SLOTS, CollectionStats, DocumentTerms, impact

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
"""Default memory bound of one store's keyword cache (about 0.9M LoCoMo-sized memories)."""

_REFOLD = 0.02
"""A group reloads once the items changed since its load exceed this share of it."""
_REFOLD_MIN = 500
_ADDED_BYTES = 400
"""Rough bytes of one changed item held as Python objects (for the memory bound)."""

logger = logging.getLogger(__name__)

Reader = Callable[[], AbstractContextManager[sqlite3.Connection]]
"""Opens a read transaction on the store's database (for background loads)."""

_Doc = tuple[tuple[int, ...], dict[str, tuple[int, ...]]]
"""A changed item: its length per slot and `{term: count per slot}`."""


def _narrow(values: np.ndarray) -> np.ndarray:
    """`values` (non-negative ints) in the narrowest of uint16 / int32 / int64 that holds them."""
    top = int(values.max()) if values.size else 0
    for dtype in (np.uint16, np.int32):
        if top <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.int64)


def _probes(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Int64 `wanted` cast to the dtype of `values` (a narrow one from `_narrow`) to search
    it with — a search with wider probes would convert all of `values` first. Clipped to
    the dtype's range: compare hits with `wanted` itself, so none matches wrongly."""
    info = np.iinfo(values.dtype)
    return np.minimum(np.maximum(wanted, info.min), info.max).astype(values.dtype)


def _locate(values: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For int64 `wanted`: whether each is in `values` (ascending, narrow), and where."""
    if not len(values):
        return np.zeros(len(wanted), dtype=bool), np.zeros(len(wanted), dtype=np.intp)
    positions = np.minimum(np.searchsorted(values, _probes(values, wanted)), len(values) - 1)
    return values[positions] == wanted, positions


@dataclass(frozen=True, slots=True)
class _Main:
    """A group's keyword index as loaded: documents, and per term its postings (CSR)."""

    doc_ids: np.ndarray
    """Indexed item ids, ascending `(n,)`."""
    doc_lengths: np.ndarray
    """Each item's length per slot `(n, SLOTS)`."""
    terms: dict[str, int]
    """Term → its row in `offsets`."""
    offsets: np.ndarray
    """Postings of term `t` are `[offsets[t], offsets[t + 1])`."""
    ids: np.ndarray
    """Posting item ids, ascending within each term."""
    tf: np.ndarray
    """Posting counts per slot `(P, SLOTS)`."""
    impact: np.ndarray
    """Posting impacts (`ranking.bm25.impact`), float64."""
    order: np.ndarray
    """Positions of each term's postings by impact, then id, both descending (champions)."""

    @classmethod
    def load(cls, rows: Sequence[tuple[Any, ...]]) -> _Main:
        """From forward-index rows `(item_id, len0..len3, terms text)`, ascending ids."""
        codes: dict[str, int] = {}
        term_of: list[int] = []
        doc_of: list[int] = []
        counts: list[str] = []
        for n, row in enumerate(rows):
            for token in row[1 + SLOTS].split():
                term, _, tf = token.partition("/")
                term_of.append(codes.setdefault(term, len(codes)))
                doc_of.append(n)
                counts.append(tf)
        doc_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        doc_lengths = np.asarray([r[1 : 1 + SLOTS] for r in rows], dtype=np.int64).reshape(
            -1, SLOTS
        )
        terms = np.asarray(term_of, dtype=np.int64)
        docs = np.asarray(doc_of, dtype=np.int64)
        tf = np.asarray(" ".join(counts).replace("/", " ").split(), dtype=np.int64)
        tf = tf.reshape(-1, SLOTS)
        by_term = np.lexsort((docs, terms))
        terms, docs, tf = terms[by_term], docs[by_term], tf[by_term]
        ids = doc_ids[docs]
        # The same arithmetic as `impact` (it takes arrays slot-major), so the same floats.
        impacts = np.asarray(
            impact(cast(Sequence[int], tf.T), cast(Sequence[int], doc_lengths[docs].T)),
            dtype=np.float64,
        )
        order = np.lexsort((-ids, -impacts, terms))
        offsets = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(codes)), out=offsets[1:])
        return cls(
            doc_ids=_narrow(doc_ids),
            doc_lengths=_narrow(doc_lengths),
            terms=codes,
            offsets=offsets,
            ids=_narrow(ids),
            tf=_narrow(tf),
            impact=impacts,
            order=_narrow(order),
        )

    @property
    def nbytes(self) -> int:
        """Bytes held (arrays, and a rough figure for the term dictionary)."""
        arrays = (self.doc_ids, self.doc_lengths, self.offsets, self.ids, self.tf, self.impact)
        return sum(a.nbytes for a in arrays) + self.order.nbytes + 100 * len(self.terms)

    def span(self, term: str) -> tuple[int, int]:
        """`[start, end)` of `term`'s postings (empty when the group lacks it)."""
        t = self.terms.get(term)
        if t is None:
            return 0, 0
        return int(self.offsets[t]), int(self.offsets[t + 1])

    def find_docs(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For `ids`: whether each is a loaded document, and its row in `doc_lengths`."""
        return _locate(self.doc_ids, ids)


@dataclass(frozen=True, slots=True)
class _Group:
    """One group's index at one snapshot: the loaded arrays plus the items changed since."""

    name: str
    key: str
    """`vector_log.group_key(name)`: how erasure fences name it."""
    main: _Main
    added: Mapping[int, _Doc]
    """Items (re)indexed since the load, as they are now."""
    added_terms: Mapping[str, tuple[int, ...]]
    """Term → ids in `added` holding it."""
    removed: np.ndarray
    """Loaded item ids no longer as loaded (deleted, or changed and now in `added`), sorted."""
    documents: int
    lengths: tuple[int, ...]
    vector_seq: int
    keyword_seq: int
    values: ItemValues
    """The value fields ranking reads, of the group's items (`cached_values`)."""
    vectors: VectorOwners
    """Which item owns each of the group's vectors (`cached_vectors`)."""

    @property
    def nbytes(self) -> int:
        """Bytes held, roughly."""
        changed = _ADDED_BYTES * len(self.added)
        held = self.values.nbytes + self.vectors.nbytes
        return self.main.nbytes + self.removed.nbytes + changed + held

    def is_live(self, ids: np.ndarray) -> np.ndarray:
        """Which of `ids` (loaded documents) still hold their loaded postings."""
        if not len(self.removed):
            return np.ones(len(ids), dtype=bool)
        return ~np.isin(ids, self.removed)


def _load(
    conn: sqlite3.Connection, name: str, heads: tuple[int, int], paths: Sequence[str]
) -> _Group:
    rows = conn.execute(
        f"SELECT item_id, {', '.join(f'len{s}' for s in range(SLOTS))}, terms "
        "FROM keyword_docs WHERE grp = ? ORDER BY item_id",
        (name,),
    ).fetchall()
    main = _Main.load(rows)
    totals = main.doc_lengths.astype(np.int64).sum(axis=0) if rows else np.zeros(SLOTS, np.int64)
    return _Group(
        name=name,
        key=vector_log.group_key(name),
        main=main,
        added={},
        added_terms={},
        removed=np.empty(0, np.int64),
        documents=len(rows),
        lengths=tuple(int(v) for v in totals),
        vector_seq=heads[0],
        keyword_seq=heads[1],
        values=ItemValues.load(conn, name, paths),
        vectors=VectorOwners.load(conn, name),
    )


def _advance(conn: sqlite3.Connection, group: _Group, heads: tuple[int, int]) -> _Group | None:
    """`group` brought to the snapshot at `heads` (newer than its stamp); `None` when it
    must be reloaded instead (a floor was raised, or too much changed since its load)."""
    if (
        keyword_log.floor(conn) > group.keyword_seq
        or vector_log.group_floor(conn, group.name) > group.vector_seq
    ):
        return None
    vectors = group.vectors.advance(conn, group.name, group.vector_seq, heads[0])
    changed = keyword_log.changed_items(conn, group.name, group.keyword_seq, heads[1])
    if not changed:
        return replace(group, vector_seq=heads[0], keyword_seq=heads[1], vectors=vectors)
    main = group.main
    added = dict(group.added)
    added_terms = {t: set(ids) for t, ids in group.added_terms.items()}
    documents, lengths = group.documents, list(group.lengths)

    def drop(doc_lengths: Iterable[int]) -> None:
        nonlocal documents
        documents -= 1
        for s, n in enumerate(doc_lengths):
            lengths[s] -= int(n)

    values = group.values.advance(conn, changed)
    changed_ids = np.asarray(sorted(changed), dtype=np.int64)
    loaded, rows = main.find_docs(changed_ids)
    live = group.is_live(changed_ids)
    for item_id, was_loaded, row, alive in zip(
        changed_ids.tolist(), loaded.tolist(), rows.tolist(), live.tolist(), strict=True
    ):
        previous = added.pop(item_id, None)
        if previous is not None:
            drop(previous[0])
            for term in previous[1]:
                added_terms[term].discard(item_id)
        elif was_loaded and alive:
            drop(main.doc_lengths[row].tolist())
    removed = np.union1d(group.removed, changed_ids[loaded]).astype(np.int64)
    for chunk in chunked(changed_ids.tolist()):
        for item_id, *rest in conn.execute(
            f"SELECT item_id, {', '.join(f'len{s}' for s in range(SLOTS))}, terms "
            f"FROM keyword_docs WHERE grp = ? AND item_id IN ({','.join('?' * len(chunk))})",
            (group.name, *chunk),
        ):
            doc_lengths = tuple(int(n) for n in rest[:SLOTS])
            counts = parse_forward(rest[SLOTS])
            added[int(item_id)] = (doc_lengths, counts)
            documents += 1
            for s, n in enumerate(doc_lengths):
                lengths[s] += n
            for term in counts:
                added_terms.setdefault(term, set()).add(int(item_id))
    if len(added) > max(_REFOLD_MIN, _REFOLD * len(main.doc_ids)):
        return None
    return replace(
        group,
        added=added,
        added_terms={t: tuple(sorted(ids)) for t, ids in added_terms.items() if ids},
        removed=removed,
        documents=documents,
        lengths=tuple(lengths),
        vector_seq=heads[0],
        keyword_seq=heads[1],
        values=values,
        vectors=vectors,
    )


class CachedKeywords:
    """One group's cached keyword index at one snapshot; a `ranking.bm25.KeywordSource`
    answering exactly as `fulltext.SqliteKeywords` does for that group."""

    def __init__(self, group: _Group) -> None:
        self.group = group

    @property
    def item_values(self) -> ItemValues:
        """The group's value fields and TTL flags at this snapshot (`cached_values`)."""
        return self.group.values

    @property
    def vector_owners(self) -> VectorOwners:
        """The group's `vector id → item id` map at this snapshot (`cached_vectors`)."""
        return self.group.vectors

    def collection(self) -> CollectionStats:
        """Documents in the group and their total length per slot."""
        return CollectionStats(self.group.documents, tuple(float(v) for v in self.group.lengths))

    def _frequency(self, term: str) -> int:
        group, main = self.group, self.group.main
        start, end = main.span(term)
        df = end - start + len(group.added_terms.get(term, ()))
        if start < end and len(group.removed):
            df -= int(np.isin(group.removed, main.ids[start:end], assume_unique=True).sum())
        return df

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents holding it}`, terms held by none left out (in term order, as
        SQLite returns them: the order BM25 sums IDFs in)."""
        found = {term: self._frequency(term) for term in sorted(set(terms))}
        return {term: df for term, df in found.items() if df > 0}

    def champions(self, terms: Sequence[str], limit: int | None) -> dict[str, list[int]]:
        """Per term, the ids of its `limit` postings of highest impact (all with `None`);
        ties by id, descending."""
        found: dict[str, list[int]] = {}
        for term in terms:
            ids = self._champions(term, limit)
            if ids:
                found[term] = ids
        return found

    def _champions(self, term: str, limit: int | None) -> list[int]:
        group, main = self.group, self.group.main
        start, end = main.span(term)
        removed = len(group.removed)
        take = end - start if limit is None else min(end - start, limit + removed)
        positions = main.order[start : start + take]
        ids = main.ids[positions].astype(np.int64)
        if removed:
            keep = group.is_live(ids)
            ids, positions = ids[keep], positions[keep]
        extra = group.added_terms.get(term, ())
        if not extra:
            return ids[:limit].tolist()
        impacts = main.impact[positions]
        more = [(impact(group.added[i][1][term], group.added[i][0]), i) for i in extra]
        pairs = sorted([*zip(impacts.tolist(), ids.tolist(), strict=True), *more], reverse=True)
        return [i for _, i in pairs[:limit]]

    def documents(self, ids: Collection[int], terms: Sequence[str]) -> DocumentTerms:
        """The forward index of the documents `ids` (those indexed), limited to `terms`,
        ascending ids."""
        group, main = self.group, self.group.main
        wanted = sorted_ids.unique(np.fromiter(ids, dtype=np.int64, count=len(ids)))
        loaded, rows = main.find_docs(wanted)
        if len(group.removed):
            loaded[loaded] = group.is_live(wanted[loaded])
        fresh = None
        if group.added:  # changed since the load: their terms are in `added`, not `main`
            fresh = np.fromiter((i in group.added for i in wanted.tolist()), bool, len(wanted))
            loaded &= ~fresh
        keep = loaded if fresh is None else loaded | fresh
        found = wanted[keep]
        if not len(found):
            return DocumentTerms.empty(len(terms))
        lengths = np.zeros((len(found), SLOTS))
        tf = np.zeros((len(found), len(terms), SLOTS))
        at_main = np.arange(len(found)) if fresh is None else np.flatnonzero(loaded[keep])
        if len(at_main):
            lengths[at_main] = main.doc_lengths[rows[loaded]]
            targets = found[at_main]
            probes = _probes(main.ids, targets)
            for column, term in enumerate(terms):
                start, end = main.span(term)
                if start == end:
                    continue
                span = main.ids[start:end]
                posting = np.minimum(np.searchsorted(span, probes), end - start - 1)
                hit = span[posting] == targets
                tf[hit if fresh is None else at_main[hit], column] = main.tf[start + posting[hit]]
        for row in [] if fresh is None else np.flatnonzero(fresh[keep]).tolist():
            doc_lengths, counts = group.added[int(found[row])]
            lengths[row] = doc_lengths
            for column, term in enumerate(terms):
                if term in counts:
                    tf[row, column] = counts[term]
        return DocumentTerms(found, lengths, tf)


class KeywordCache:
    """The cached keyword indexes of one store's groups, shared by its threads.

    Args:
        max_bytes: Memory bound; least recently searched groups are evicted past it (a
            group larger than the bound on its own is still cached, alone).
        read: Opens a read transaction, for loading groups in the background (`None`:
            load inside the searching transaction).
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, read: Reader | None = None) -> None:
        self.max_bytes = max_bytes
        self._read = read
        self._groups: OrderedDict[str, _Group] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._loaders: dict[str, threading.Thread] = {}
        self._epoch = 0
        """Bumped whenever groups are dropped: a background load begun before is discarded."""
        self._closed = False
        self._paths: tuple[str, ...] = ()
        """The value fields loads hold (the last searching settings')."""
        self._fences_seen = 0
        self._fences_head = 0

    def source(
        self, conn: sqlite3.Connection, group: str, paths: Sequence[str] = ()
    ) -> CachedKeywords | None:
        """`group`'s keyword index at the snapshot of `conn`'s read transaction, catching it
        up as needed; `None` when the caller must read SQLite: the group is being loaded in
        the background (its first search), or this snapshot is older than the cached copy.
        Groups loaded from now on also hold the value fields `paths` of their items."""
        if paths:
            self._paths = tuple(paths)
        heads = keyword_log.heads(conn)
        self._drop_fenced(conn, heads[0])
        with self._lock:
            cached = self._groups.get(group)
            if cached is not None:
                self._groups.move_to_end(group)
            loading = self._loading.setdefault(group, threading.Lock())
        if cached is not None and (cached.vector_seq, cached.keyword_seq) == heads:
            return CachedKeywords(cached)
        if cached is None and self._read is not None:
            self._load_later(group)
            return None
        with loading:
            with self._lock:
                cached = self._groups.get(group)
            if cached is None:
                fresh = _load(conn, group, heads, self._paths)
            elif (cached.vector_seq, cached.keyword_seq) == heads:
                return CachedKeywords(cached)
            elif cached.vector_seq > heads[0] or cached.keyword_seq > heads[1]:
                return None
            else:
                advanced = _advance(conn, cached, heads)
                if advanced is None and self._read is not None:
                    self.forget([group])  # stale: reload in the background, read SQLite
                    self._load_later(group)
                    return None
                fresh = advanced or _load(conn, group, heads, self._paths)
            self._keep(fresh)
        return CachedKeywords(fresh)

    def _load_later(self, group: str) -> None:
        """Start loading `group` in a background thread (unless one is at it)."""
        with self._lock:
            if self._closed or group in self._loaders:
                return
            thread = threading.Thread(
                target=self._background_load,
                args=(group, self._epoch),
                name="hippograph-keyword-load",
                daemon=True,
            )
            self._loaders[group] = thread
        thread.start()

    def _background_load(self, name: str, epoch: int) -> None:
        assert self._read is not None
        try:
            with self._loading.setdefault(name, threading.Lock()), self._read() as conn:
                if self._closed or name in self._groups:
                    return
                group = _load(conn, name, keyword_log.heads(conn), self._paths)
            with self._lock:
                if self._epoch != epoch or self._closed:
                    return  # dropped (erased, fenced, cleared) while it loaded
            self._keep(group)
        except Exception as exc:  # searches keep reading SQLite; the next one retries
            logger.warning("keyword index of %s not cached: %r", name, exc)
        finally:
            with self._lock:
                self._loaders.pop(name, None)

    def settle(self) -> None:
        """Wait for the background loads under way (tests, benchmarks, `close`)."""
        while True:
            with self._lock:
                pending = list(self._loaders.values())
            if not pending:
                return
            for thread in pending:
                thread.join()

    def close(self) -> None:
        """Stop starting loads and wait for those under way (before the connections close)."""
        with self._lock:
            self._closed = True
        self.settle()

    def _keep(self, group: _Group) -> None:
        with self._lock:
            self._groups[group.name] = group
            self._groups.move_to_end(group.name)
            total = sum(g.nbytes for g in self._groups.values())
            while total > self.max_bytes and len(self._groups) > 1:
                _, evicted = self._groups.popitem(last=False)
                total -= evicted.nbytes

    def _drop_fenced(self, conn: sqlite3.Connection, vector_head: int) -> None:
        """Drop groups an erasure fenced since the last look (any process), so erased terms
        leave memory even if their group is never searched again."""
        if vector_head <= self._fences_head:
            return
        fences = vector_log.fences_since(conn, self._fences_seen)
        with self._lock:
            self._fences_head = max(self._fences_head, vector_head)
            if not fences:
                return
            fenced = dict(fences)
            self._fences_seen = max(self._fences_seen, *fenced.values())
            self._epoch += 1
            for name, group in list(self._groups.items()):
                if fenced.get(group.key, 0) > group.vector_seq:
                    del self._groups[name]

    def forget(self, groups: Iterable[str]) -> None:
        """Drop `groups` (this process erased them)."""
        with self._lock:
            self._epoch += 1
            for name in groups:
                self._groups.pop(name, None)

    def clear(self) -> None:
        """Drop every cached group."""
        with self._lock:
            self._epoch += 1
            self._groups.clear()

    def cached_groups(self) -> dict[str, int]:
        """`{group: bytes held}` of the groups cached now (for tests and diagnostics)."""
        with self._lock:
            return {name: group.nbytes for name, group in self._groups.items()}
