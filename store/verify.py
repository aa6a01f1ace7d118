"""Read-only consistency checks of a `FaissSqliteStore`: is every derived structure true to SQLite?

SQLite's `items` table is the truth; vectors, the full-text index and the FAISS caches are
derived from it. `verify_store` checks each against it, so a crash test, a concurrency test
or an operator can tell a consistent store from a damaged one.

Core pieces:
    - `VerifyReport`: what was checked and every problem found (empty = consistent).
    - `verify_store`: run every check; `FaissSqliteStore.verify()` is the public entry point.

Checks:
    - SQLite: `PRAGMA integrity_check`, `PRAGMA foreign_key_check`.
    - Vectors: each belongs to its item's group, has the store's dimension, is unit-norm,
      and its text hash is the hash of the text now at its field in the item's value.
    - Keyword index (when the database keeps one): every indexed item's terms are those of
      its current texts and it is in its own group; every item with vectors is indexed;
      postings, document frequencies and per-group statistics agree with the items.
    - FAISS: every group's index (loaded, or loaded now) holds exactly the group's vector ids
      and bit-identical vectors, after catching up with the vector log.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.store.base import get_text_at_path, tokenize_path

from hippograph.store import analysis, fulltext
from hippograph.store.codec import ns_to_text, text_hash, text_to_ns
from hippograph.store.ranking.bm25 import SLOTS, impact
from hippograph.store.vector_log import log_head

_LENGTHS = ", ".join(f"len{s}" for s in range(SLOTS))

if TYPE_CHECKING:
    from hippograph.store.faiss_sqlite import FaissSqliteStore

_MAX_PROBLEMS = 50
_NORM_TOLERANCE = 1e-3
_SYNC_RETRIES = 5


@dataclass(slots=True)
class VerifyReport:
    """The outcome of `verify_store`.

    Attributes:
        items: Live rows in `items`.
        vectors: Rows in `vectors`.
        links: Links checked (PostgreSQL; the SQLite file's foreign keys are checked whole).
        fulltext_rows: Items in the keyword index (0 when the database keeps none).
        groups: FAISS groups compared with SQLite.
        problems: Every inconsistency found (at most 50 are kept), human-readable.
    """

    items: int = 0
    vectors: int = 0
    links: int = 0
    fulltext_rows: int = 0
    groups: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def add(self, problem: str) -> None:
        """Record a problem (the first `_MAX_PROBLEMS` are kept)."""
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(problem)


def verify_store(store: FaissSqliteStore) -> VerifyReport:
    """Check every derived structure of `store` against SQLite; see the module docstring.

    Safe beside live readers and writers: each check reads one consistent snapshot.
    """
    report = VerifyReport()
    with store._conns.read() as conn:
        _check_sqlite(conn, report)
        values = {
            row[0]: (row[1], row[2]) for row in conn.execute("SELECT id, prefix, value FROM items")
        }
        report.items = len(values)
        vector_fields = _check_vectors(store, conn, values, report)
        keyword_fields = fulltext.recorded_fields(conn)
        if keyword_fields is not None:
            _check_keywords(store, conn, keyword_fields, (values, vector_fields), report)
    _check_faiss(store, report)
    return report


def _check_sqlite(conn: sqlite3.Connection, report: VerifyReport) -> None:
    rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if rows != ["ok"]:
        report.add(f"PRAGMA integrity_check: {'; '.join(map(str, rows[:5]))}")
    for row in conn.execute("PRAGMA foreign_key_check"):
        report.add(f"foreign key violation: {tuple(row)}")


def _texts(value: dict[str, Any], path: str) -> list[str]:
    return get_text_at_path(value, path if path == "$" else tokenize_path(path))


def text_at(value: dict[str, Any], field_name: str) -> str | None:
    """The text a vector of `field_name` was made from: the one text at path `field_name`,
    or the N-th of several at `path` for `"path.N"` (how the store names them)."""
    texts = _texts(value, field_name)
    if len(texts) == 1:
        return texts[0]
    base, _, tail = field_name.rpartition(".")
    if base and tail.isdigit():
        texts = _texts(value, base)
        if len(texts) > 1 and int(tail) < len(texts):
            return texts[int(tail)]
    return None


def _check_vectors(
    store: FaissSqliteStore,
    conn: sqlite3.Connection,
    values: dict[int, tuple[str, str]],
    report: VerifyReport,
) -> dict[int, set[str]]:
    """Check every vector row; return each item's vector fields."""
    fields: dict[int, set[str]] = {}
    dims = store.dims
    for vid, item_id, grp, name, digest, dim, blob in conn.execute(
        "SELECT id, item_id, grp, field, text_hash, dim, blob FROM vectors"
    ):
        report.vectors += 1
        fields.setdefault(item_id, set()).add(name)
        found = values.get(item_id)
        if found is None:
            report.add(f"vector {vid} belongs to missing item {item_id}")
            continue
        prefix, value_json = found
        expected_group = ns_to_text(text_to_ns(prefix)[: store.group_depth])
        if grp != expected_group:
            report.add(f"vector {vid} is in group {grp!r}, its item in {expected_group!r}")
        vector = np.frombuffer(blob, dtype=np.float32)
        if dim != dims or len(vector) != dims:
            report.add(f"vector {vid} has {len(vector)} dims (recorded {dim}), store {dims}")
        elif abs(float(np.linalg.norm(vector)) - 1.0) > _NORM_TOLERANCE:
            report.add(f"vector {vid} is not unit-norm")
        text = text_at(json.loads(value_json), name)
        if text is None or text_hash(text) != digest:
            report.add(f"vector {vid} ({name}) does not match the text of item {item_id}")
    return fields


def _check_keywords(
    store: FaissSqliteStore,
    conn: sqlite3.Connection,
    fields: list[str],
    items: tuple[dict[int, tuple[str, str]], dict[int, set[str]]],
    report: VerifyReport,
) -> None:
    """`items`: each item's `(prefix, value JSON)` and each item's vector fields."""
    values, vector_fields = items
    index_paths = {path for path, _ in store._fields}
    docs = {
        row[0]: (row[1], list(fulltext.parse_forward(row[2])))
        for row in conn.execute("SELECT item_id, grp, terms FROM keyword_docs")
    }
    report.fulltext_rows = len(docs)
    for item_id, (grp, terms) in docs.items():
        found = values.get(item_id)
        if found is None or item_id not in vector_fields:
            report.add(f"keyword row {item_id} has no indexed item")
            continue
        expected_group = ns_to_text(text_to_ns(found[0])[: store.group_depth])
        if grp != expected_group:
            report.add(f"keyword row {item_id} is in group {grp!r}, its item in {expected_group!r}")
        expected = _keyword_terms(found[1], fields)
        if set(terms) != expected and _default_indexed(vector_fields.get(item_id), index_paths):
            report.add(f"keyword row {item_id} does not hold the item's current text")
    for item_id, names in vector_fields.items():
        if item_id in docs or item_id not in values or not _default_indexed(names, index_paths):
            continue
        if _keyword_terms(values[item_id][1], fields):
            report.add(f"indexed item {item_id} has no keyword row")
    _check_keyword_statistics(conn, docs, report)


def _check_keyword_statistics(
    conn: sqlite3.Connection, docs: dict[int, tuple[str, list[str]]], report: VerifyReport
) -> None:
    """Postings, document frequencies and group totals must follow from `keyword_docs`."""
    postings = Counter(
        (grp, term, round(value, 12), item_id)
        for grp, term, value, item_id in conn.execute(
            "SELECT grp, term, impact, item_id FROM keyword_postings"
        )
    )
    expected: Counter[tuple[str, str, float, int]] = Counter()
    for item_id, grp, *rest in conn.execute(
        f"SELECT item_id, grp, {_LENGTHS}, terms FROM keyword_docs"
    ):
        lengths, forward = rest[:SLOTS], rest[SLOTS]
        for term, tf in fulltext.parse_forward(forward).items():
            expected[(grp, term, round(impact(tf, lengths), 12), item_id)] += 1
    if postings != expected:
        report.add(f"keyword postings differ from the indexed items ({len(postings)} rows)")
    df = Counter((grp, term) for grp, term, _, _ in expected)
    stored_df = Counter(
        {(g, t): n for g, t, n in conn.execute("SELECT grp, term, df FROM keyword_terms")}
    )
    if df != stored_df:
        report.add("keyword document frequencies differ from the postings")
    totals: dict[str, list[int]] = {}
    for row in conn.execute(f"SELECT grp, {_LENGTHS} FROM keyword_docs"):
        total = totals.setdefault(row[0], [0] * (1 + SLOTS))
        total[0] += 1
        for s in range(SLOTS):
            total[1 + s] += row[1 + s]
    stored = {
        row[0]: list(row[1:])
        for row in conn.execute(f"SELECT grp, docs, {_LENGTHS} FROM keyword_groups")
    }
    if stored != totals:
        report.add("keyword group statistics differ from the indexed items")


def _keyword_terms(value_json: str, fields: list[str]) -> set[str]:
    texts = fulltext.item_texts(json.loads(value_json), fields)
    return {term for text in texts for term in analysis.terms(text)}


def _default_indexed(names: set[str] | None, index_paths: set[str]) -> bool:
    """Whether an item's vector fields come from the store's own index fields (not a
    per-put `index=[...]`), so its full-text row must follow the store's fields."""
    if not names:
        return True
    return all(name in index_paths or name.rpartition(".")[0] in index_paths for name in names)


def _check_faiss(store: FaissSqliteStore, report: VerifyReport) -> None:
    manager = store._index
    if manager is None:
        return
    with store._conns.read() as conn:
        groups = [row[0] for row in conn.execute("SELECT DISTINCT grp FROM vectors")]
    groups = sorted(set(groups) | set(manager.loaded_groups()))
    for group in groups:
        report.groups += 1
        for _ in range(_SYNC_RETRIES):
            with store._conns.read() as conn:
                manager.sync(conn, [group])
                head = log_head(conn)
                contents = manager.contents(group)
                rows = conn.execute(
                    "SELECT id, blob FROM vectors WHERE grp = ? ORDER BY id", (group,)
                ).fetchall()
            if contents is None or contents[0] == head:
                break  # else another thread synced past this snapshot: look again
        if contents is None:
            report.add(f"FAISS group {group!r} could not be loaded")
            continue
        _, ids, vectors = contents
        expected_ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        if not np.array_equal(ids, expected_ids):
            extra = sorted(set(ids.tolist()) - set(expected_ids.tolist()))[:5]
            missing = sorted(set(expected_ids.tolist()) - set(ids.tolist()))[:5]
            report.add(f"FAISS group {group!r}: ids differ (extra {extra}, missing {missing})")
            continue
        expected = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        if not np.array_equal(vectors.reshape(-1), expected):
            report.add(f"FAISS group {group!r}: vectors differ from SQLite")
