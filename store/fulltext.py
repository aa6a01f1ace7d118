"""The keyword index of hybrid search on SQLite: postings and statistics kept per tenant.

Core pieces (schema migration 4; PostgreSQL keeps the same four tables):
    - `keyword_postings (grp, term, impact, item_id)`, clustered by `(grp, term, impact)`:
      one row per term of an indexed item, so a term's champions (`ranking.bm25.impact`)
      are an index range read backwards with a LIMIT.
    - `keyword_docs (item_id, grp, len0..len3, terms)`: the forward index — each indexed
      item's length per field slot (`SLOTS`) and its terms with their count per slot,
      stored as `" term/tf0/tf1/tf2/tf3 ..."` so a query's terms are found by substring
      search; scoring a candidate and removing an item's postings both read it.
    - `keyword_terms (grp, term, df)`: how many of the group's items hold each term.
    - `keyword_groups (grp, docs, len0..len3)`: items and total length per slot, per group.

A group is a FAISS group (`group_depth` labels of the namespace: one per user for
`("memories", user_id)`), so statistics, and therefore scores and cost, are per tenant.
Rows are written by `write_rows` / `delete_rows` inside the writer's transaction: they
commit with the item or not at all, and so do their `keyword_log` entries, from which
`keyword_cache` keeps in-memory copies of groups exact in every process. `SqliteKeywords`
is the read side, the `ranking.bm25.KeywordSource` of one search scope.

Which value fields are indexed is a property of the database (`meta.keyword_fields`), not
of whoever opens it: every store maintains them on write, whatever its own settings, and a
store that wants more fields adds them (`ensure_fields`). Opening a file with hybrid search
off, or without an index, never drops or stales the keyword index.

An item has keyword rows exactly when it has vectors (it is searchable) and the database
indexes keywords; its slots hold the texts at the database's fields (or at a per-put
`index=[...]` list, laid out by `slot_of`).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from langgraph.store.base import tokenize_path

from hippograph.store import analysis, json_rows, keyword_log
from hippograph.store.codec import texts_at_path
from hippograph.store.index_manager import chunked
from hippograph.store.ranking.bm25 import SLOTS, CollectionStats, DocumentTerms, impact

KEYWORD_FIELDS_KEY = "keyword_fields"
"""`meta` key holding the JSON list of indexed value fields (absent: no keyword index)."""

_LENGTH_COLUMNS = tuple(f"len{s}" for s in range(SLOTS))
_LENGTHS = ", ".join(_LENGTH_COLUMNS)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

KeywordRow = tuple[int, str, Sequence[str]]
"""`(item_id, group, slot texts)`: what `write_rows` indexes for one item."""


def _marks(n: int) -> str:
    return ",".join("?" * n)


# ---------------------------------------------------------------------- layout


def slot_of(field_name: str, fields: Sequence[str]) -> int:
    """The slot for a text indexed under `field_name` (`"notes[*].2"` counts as `"notes[*]"`)."""
    base, _, tail = field_name.rpartition(".")
    for candidate in (field_name, base if tail.isdigit() else None):
        if candidate is not None and candidate in fields:
            return min(fields.index(candidate), SLOTS - 1)
    return SLOTS - 1


def slot_texts(texts: Sequence[tuple[str, str]], fields: Sequence[str]) -> list[str]:
    """`(field name, text)` pairs laid out as the `SLOTS` texts of one item."""
    if len(texts) == 1:  # the common case (one field): its slot holds the text as it is
        slots = [""] * SLOTS
        field_name, text = texts[0]
        slots[slot_of(field_name, fields)] = text
        return slots
    parts: list[list[str]] = [[] for _ in range(SLOTS)]
    for field_name, text in texts:
        parts[slot_of(field_name, fields)].append(text)
    return ["\n".join(p) for p in parts]


@lru_cache(maxsize=1024)
def _tokens(path: str) -> tuple[str, ...]:
    """`tokenize_path(path)`, parsed once per path (bulk writes index many items)."""
    return tuple(tokenize_path(path))


def texts_at(value: Mapping[str, Any], paths: Sequence[str]) -> list[tuple[str, str]]:
    """`(field name, text)` for each of `paths` in `value`, named as the vector index names
    them (`"path"`, or `"path.N"` when a path yields several texts)."""
    texts: list[tuple[str, str]] = []
    for path in paths:
        found = texts_at_path(value, path if path == "$" else list(_tokens(path)))
        for n, text in enumerate(found):
            texts.append((f"{path}.{n}" if len(found) > 1 else path, text))
    return texts


def item_texts(
    value: Mapping[str, Any], fields: Sequence[str], paths: Sequence[str] | None = None
) -> list[str]:
    """The slot texts of an item: the texts at `paths` (default: `fields`) laid out by `fields`."""
    return slot_texts(texts_at(value, list(paths) if paths else fields), fields)


# ---------------------------------------------------------------------- configuration


def recorded_fields(conn: sqlite3.Connection) -> list[str] | None:
    """The value fields the database indexes keywords for (`None`: no keyword index)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (KEYWORD_FIELDS_KEY,)).fetchone()
    return None if row is None else list(json.loads(row[0]))


def grown_fields(current: Sequence[str] | None, wanted: Sequence[str]) -> list[str]:
    """The fields a keyword index holds once `wanted` is asked of one holding `current`:
    missing ones appended, none removed (slots keep their meaning; every backend)."""
    fields = list(current or [])
    fields.extend(f for f in wanted if f not in fields)
    return fields


def ensure_fields(
    conn: sqlite3.Connection, wanted: Sequence[str], group_of: Callable[[str], str]
) -> tuple[list[str], int]:
    """Make the database index keywords for (at least) `wanted`; returns the fields now
    indexed and how many items were (re)indexed — 0 unless the fields grew.

    Fields are only ever added (appended, so existing slots keep their meaning): a store
    asking for fewer fields searches with the others weighted 0. Runs in the caller's
    write transaction; `group_of` maps an item's namespace text to its group.
    """
    current = recorded_fields(conn)
    fields = grown_fields(current, wanted)
    if current == fields:
        return fields, 0
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (KEYWORD_FIELDS_KEY, json.dumps(fields)),
    )
    return fields, rebuild(conn, fields, group_of)


def rebuild(conn: sqlite3.Connection, fields: Sequence[str], group_of: Callable[[str], str]) -> int:
    """Re-index every item that has vectors from its value; returns the items indexed."""
    for table in ("keyword_postings", "keyword_docs", "keyword_terms", "keyword_groups"):
        conn.execute(f"DELETE FROM {table}")
    keyword_log.reset(conn)
    indexed = 0
    cursor = conn.execute(
        "SELECT i.id, i.prefix, i.value FROM items i WHERE EXISTS "
        "(SELECT 1 FROM vectors v WHERE v.item_id = i.id) ORDER BY i.id"
    )
    while batch := cursor.fetchmany(2000):
        rows = [
            (item_id, group_of(prefix), item_texts(json.loads(value), fields))
            for item_id, prefix, value in batch
        ]
        indexed += write_rows(conn, rows, fresh=True)
    return indexed


# ---------------------------------------------------------------------- writes


def _apply_group_deltas(
    conn: sqlite3.Connection,
    df: Mapping[tuple[str, str], int],
    groups: Mapping[str, list[int]],
) -> None:
    """Add `df` changes per `(group, term)` and `[docs, len0..]` changes per group."""
    by_group: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (grp, term), n in sorted(df.items()):
        if n:
            by_group[grp].append((term, n))
    upsert = (
        "INSERT INTO keyword_terms (grp, term, df) SELECT ?1, {} FROM json_each(?2) AS j "
        "WHERE true ON CONFLICT (grp, term) DO UPDATE SET df = df + excluded.df"
    )
    for grp, changes in by_group.items():  # a statement or two per group: rows travel as JSON
        ones = [term for term, n in changes if n == 1]  # most, in a load: a flat array of terms
        if ones:
            conn.execute(upsert.format("j.value, 1"), (grp, _JSON.encode(ones)))
        if len(ones) < len(changes):
            others = [change for change in changes if change[1] != 1]
            conn.execute(upsert.format("j.value ->> 0, j.value ->> 1"), (grp, _JSON.encode(others)))
    if any(n < 0 for n in df.values()):
        conn.executemany(
            "DELETE FROM keyword_terms WHERE grp = ? AND term = ? AND df <= 0",
            [(grp, term) for (grp, term), n in df.items() if n < 0],
        )
    sets = ", ".join(f"len{s} = len{s} + excluded.len{s}" for s in range(SLOTS))
    conn.executemany(
        f"INSERT INTO keyword_groups (grp, docs, {_LENGTHS}) VALUES (?, ?, {_marks(SLOTS)}) "
        f"ON CONFLICT (grp) DO UPDATE SET docs = docs + excluded.docs, {sets}",
        [(grp, *delta) for grp, delta in sorted(groups.items())],
    )
    conn.executemany(
        "DELETE FROM keyword_groups WHERE grp = ? AND docs <= 0",
        [(grp,) for grp, delta in groups.items() if delta[0] < 0],
    )


def analyse(texts: Sequence[str]) -> tuple[list[int], dict[str, list[int]]]:
    """One document's length (terms) per slot and `{term: count per slot}`, from its slot
    texts — what every backend stores for it."""
    counts: dict[str, list[int]] = {}
    lengths = [0] * SLOTS
    for slot, text in enumerate(texts[:SLOTS]):
        found = analysis.terms(text) if text else []
        lengths[slot] = len(found)
        for term in found:
            counts.setdefault(term, [0] * SLOTS)[slot] += 1
    return lengths, counts


def forward_text(counts: Mapping[str, Sequence[int]]) -> str:
    """`{term: per-slot counts}` as the forward index's text (leading and trailing space)."""
    if SLOTS == 4:  # the layout in use, without a join per term
        return " " + " ".join(f"{t}/{a}/{b}/{c}/{d}" for t, (a, b, c, d) in counts.items()) + " "
    return " " + " ".join(f"{t}/{'/'.join(map(str, tf))}" for t, tf in counts.items()) + " "


def parse_forward(text: str) -> dict[str, tuple[int, ...]]:
    """Every `{term: per-slot counts}` of a forward-index text."""
    found = {}
    for token in text.split():
        term, *counts = token.split("/")
        found[term] = tuple(int(c) for c in counts)
    return found


def delete_rows(conn: sqlite3.Connection, item_ids: Sequence[int], *, log: bool = True) -> int:
    """Remove the keyword rows of `item_ids` (items without any are ignored); returns the
    items whose rows were removed. `log=False` is for a caller that logs them itself."""
    docs: list[tuple[int, str, list[int], str]] = []
    for chunk in chunked(item_ids):
        for row in conn.execute(
            f"SELECT item_id, grp, {_LENGTHS}, terms FROM keyword_docs "
            f"WHERE item_id IN ({_marks(len(chunk))})",
            tuple(chunk),
        ):
            docs.append((row[0], row[1], list(row[2 : 2 + SLOTS]), row[2 + SLOTS]))
    if not docs:
        return 0
    df: Counter[tuple[str, str]] = Counter()
    groups: dict[str, list[int]] = defaultdict(lambda: [0] * (1 + SLOTS))
    postings = []
    for item_id, grp, lengths, forward in docs:
        for term, tf in parse_forward(forward).items():
            df[(grp, term)] -= 1
            postings.append((grp, term, impact(tf, lengths), item_id))
        delta = groups[grp]
        delta[0] -= 1
        for s in range(SLOTS):
            delta[1 + s] -= lengths[s]
    conn.executemany(
        "DELETE FROM keyword_postings WHERE grp = ? AND term = ? AND impact = ? AND item_id = ?",
        postings,
    )
    conn.executemany("DELETE FROM keyword_docs WHERE item_id = ?", [(d[0],) for d in docs])
    _apply_group_deltas(conn, df, groups)
    if log:
        keyword_log.record(conn, [(d[1], d[0]) for d in docs])
    return len(docs)


def write_rows(conn: sqlite3.Connection, rows: Sequence[KeywordRow], *, fresh: bool = False) -> int:
    """Index many items at once (replacing their previous rows); returns the items indexed
    (an item whose slots hold no searchable term gets no rows).

    The batch path: postings are inserted in key order, documents and statistics as one
    statement each (`json_rows`), statistics updated once per term and group, so bulk
    ingest pays per row, not per statement. `fresh`: every item was inserted by this
    transaction (it has no rows to replace), so nothing is looked up to delete; the keyword
    log records the items either way.
    """
    if not rows:
        return 0
    if not fresh:
        delete_rows(conn, [item_id for item_id, _, _ in rows], log=False)
    keyword_log.record(conn, [(grp, item_id) for item_id, grp, _ in rows])
    df: Counter[tuple[str, str]] = Counter()
    groups: dict[str, list[int]] = defaultdict(lambda: [0] * (1 + SLOTS))
    postings: list[tuple[str, str, float, int]] = []
    docs: list[tuple[int, str, int, int, int, int, str]] = []
    for item_id, grp, texts in rows:
        lengths, counts = analyse(texts)
        if not counts:
            continue
        for term, tf in counts.items():
            postings.append((grp, term, impact(tf, lengths), item_id))
        df.update((grp, term) for term in counts)
        delta = groups[grp]
        delta[0] += 1
        for s in range(SLOTS):
            delta[1 + s] += lengths[s]
        docs.append((item_id, grp, *lengths, forward_text(counts)))  # type: ignore[arg-type]
    postings.sort()
    conn.executemany(  # impacts are floats: bound, never sent as JSON text (see json_rows)
        "INSERT INTO keyword_postings (grp, term, impact, item_id) VALUES (?, ?, ?, ?)", postings
    )
    json_rows.insert(conn, "keyword_docs", ("item_id", "grp", *_LENGTH_COLUMNS, "terms"), docs)
    _apply_group_deltas(conn, df, groups)
    return len(docs)


def purge_groups(conn: sqlite3.Connection, where: str, params: Sequence[object]) -> int:
    """Drop every keyword row of the groups matching `where` (SQL on `grp`), for erasing
    whole tenants, with their `keyword_log` entries (they name the group; caches of the
    groups are dropped through the erasure's vector-log fence); returns the items whose
    rows were removed."""
    removed = conn.execute(f"DELETE FROM keyword_docs WHERE {where}", params).rowcount
    for table in ("keyword_postings", "keyword_terms", "keyword_groups", "keyword_log"):
        conn.execute(f"DELETE FROM {table} WHERE {where}", params)
    return int(removed)


# ---------------------------------------------------------------------- reads


class SqliteKeywords:
    """The keyword index of one search scope (`groups`), read in the caller's transaction;
    implements `ranking.bm25.KeywordSource`."""

    def __init__(self, conn: sqlite3.Connection, groups: Sequence[str]) -> None:
        self.conn = conn
        self.groups = list(groups)

    def _in_groups(self) -> tuple[str, list[str]]:
        if len(self.groups) == 1:
            return "grp = ?", self.groups
        return f"grp IN ({_marks(len(self.groups))})", self.groups

    def collection(self) -> CollectionStats:
        """Documents in the scope and their total length per slot."""
        if not self.groups:
            return CollectionStats(0, (0.0,) * SLOTS)
        where, params = self._in_groups()
        sums = ", ".join(f"COALESCE(SUM(len{s}), 0)" for s in range(SLOTS))
        row = self.conn.execute(
            f"SELECT COALESCE(SUM(docs), 0), {sums} FROM keyword_groups WHERE {where}", params
        ).fetchone()
        return CollectionStats(int(row[0]), tuple(float(v) for v in row[1:]))

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents of the scope holding it}`."""
        if not self.groups or not terms:
            return {}
        where, params = self._in_groups()
        found: Counter[str] = Counter()
        for chunk in chunked(list(terms)):
            for term, df in self.conn.execute(
                f"SELECT term, df FROM keyword_terms WHERE {where} AND term IN "
                f"({_marks(len(chunk))})",
                (*params, *chunk),
            ):
                found[term] += int(df)
        return dict(found)

    def champions(self, terms: Sequence[str], limit: int | None) -> dict[str, list[int]]:
        """Per term, the ids of its `limit` postings of highest impact (all with `None`),
        read in one statement: a backwards range scan of the primary key per term."""
        if not terms or not self.groups:
            return {}
        where, params = self._in_groups()
        tail = "ORDER BY impact DESC, item_id DESC" + (" LIMIT ?" if limit is not None else "")
        part = (
            "SELECT * FROM (SELECT term, item_id FROM keyword_postings "
            f"WHERE {where} AND term = ? {tail})"
        )
        sql = " UNION ALL ".join([part] * len(terms))
        args: list[object] = []
        for term in terms:
            args.extend([*params, term] + ([limit] if limit is not None else []))
        found: dict[str, list[int]] = defaultdict(list)
        for term, item_id in self.conn.execute(sql, args):
            found[term].append(item_id)
        return dict(found)

    def documents(self, ids: Collection[int], terms: Sequence[str]) -> DocumentTerms:
        """The forward index of the documents `ids`, limited to `terms`."""
        rows = (
            row
            for chunk in chunked(sorted(ids))
            for row in self.conn.execute(
                f"SELECT item_id, {_LENGTHS}, terms FROM keyword_docs "
                f"WHERE item_id IN ({_marks(len(chunk))})",
                tuple(chunk),
            )
        )
        return document_terms(rows, terms)


def document_terms(rows: Iterable[Sequence[Any]], terms: Sequence[str]) -> DocumentTerms:
    """`DocumentTerms` of forward-index rows `(id, len0..len3, terms text)`, limited to
    `terms` (each found in a document's text by a plain substring search: ` term/` starts
    its entry). Every backend's `KeywordSource.documents` reads its rows through this."""
    needles = [f" {term}/" for term in terms]
    found: list[int] = []
    lengths: list[Sequence[int]] = []
    hit_rows: list[int] = []
    columns: list[int] = []
    counts: list[list[str]] = []
    for item_id, *rest in rows:
        text: str = rest[SLOTS]
        for column, needle in enumerate(needles):
            at = text.find(needle)
            if at >= 0:
                start = at + len(needle)
                hit_rows.append(len(found))
                columns.append(column)
                counts.append(text[start : text.index(" ", start)].split("/"))
        found.append(int(item_id))
        lengths.append(rest[:SLOTS])
    if not found:
        return DocumentTerms.empty(len(terms))
    tf = np.zeros((len(found), len(terms), SLOTS))
    if hit_rows:
        tf[hit_rows, columns] = np.asarray(counts, dtype=np.float64)
    ids_array = np.asarray(found, dtype=np.int64)
    return DocumentTerms(ids_array, np.asarray(lengths, dtype=np.float64), tf)
