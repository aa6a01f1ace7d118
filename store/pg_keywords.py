"""The keyword index of hybrid search on PostgreSQL: the same four tables as SQLite, per tenant.

Core pieces (schema migration 3, see `pg_schema`):
    - `hippograph_keyword_docs (id, prefix, key, grp, len0..len3, terms)`: one row per item
      with vectors — its length per field slot and its forward index, in `fulltext`'s text
      form. `id` is the integer id `ranking.SearchScope` works with; it is kept when an item
      is re-indexed, so ties between equal scores break the same way as SQLite's item ids.
      The row goes when its item goes (foreign key, any client).
    - `hippograph_keyword_postings (grp, term, impact, doc_id)`: a term's champions are a
      backwards index range with a LIMIT; they go with their document (its delete trigger).
    - `hippograph_keyword_terms (grp, term, df)`, `hippograph_keyword_groups (grp, docs,
      len0..len3)`: the group's statistics, kept by the same statement triggers.
    - `write_keywords(cur, entries, fields, group_of)`: (re)index items in the writer's
      transaction, through `COPY` for large batches. `PgKeywords`: the read side, the
      `ranking.bm25.KeywordSource` of one search scope.
    - `recorded_fields` / `ensure_fields` / `rebuild`: which value fields the database
      indexes (`hippograph_meta.keyword_fields`; only ever grows, as on SQLite).

Terms, lengths and impacts come from the same Python code as SQLite's (`fulltext.analyse`,
`ranking.bm25.impact`), so the same memories rank identically on both backends.

Items written by a plain `PostgresStore` client are not tokenised (that needs Python): a new
one has no keyword row, an updated one keeps its old terms until a hippograph store rewrites
it or `rebuild` runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Cursor

from hippograph.store import fulltext
from hippograph.store.codec import ns_to_text
from hippograph.store.pg_sql import WANTED, prefix_condition
from hippograph.store.ranking.bm25 import SLOTS, CollectionStats, DocumentTerms, impact

KEYWORD_FIELDS_KEY = fulltext.KEYWORD_FIELDS_KEY
"""`hippograph_meta` key holding the JSON list of indexed value fields."""

NO_TERMS = " "
"""Forward-index text of an item whose texts hold no searchable term (it keeps its id)."""

COPY_THRESHOLD = 64
"""Rows from which documents and postings stream through `COPY`."""

_LENGTHS = ", ".join(f"len{s}" for s in range(SLOTS))
_DOCS_COLUMNS = f"id, prefix, key, grp, {_LENGTHS}, terms"


@dataclass(frozen=True, slots=True)
class KeywordEntry:
    """One upserted item, as the keyword index sees it.

    Attributes:
        prefix: Namespace text.
        key: The item's key.
        value: The item's value.
        paths: The put's own `index=[...]` paths (`None`: the database's fields).
        indexed: Whether the item has vectors (only those are searchable and indexed).
    """

    prefix: str
    key: str
    value: Mapping[str, Any]
    paths: Sequence[str] | None
    indexed: bool


# ---------------------------------------------------------------------- configuration


def recorded_fields(cur: Cursor[Any]) -> list[str] | None:
    """The value fields the database indexes keywords for (`None`: no keyword index)."""
    row = cur.execute(
        "SELECT value FROM hippograph_meta WHERE key = %s", (KEYWORD_FIELDS_KEY,)
    ).fetchone()
    if row is None:
        return None
    value = row["value"] if isinstance(row, Mapping) else row[0]
    return list(json.loads(value))


def ensure_fields(
    cur: Cursor[Any], wanted: Sequence[str], group_of: Callable[[str], str]
) -> tuple[list[str], int]:
    """Make the database index keywords for (at least) `wanted`; returns the fields now
    indexed and how many items were (re)indexed — 0 unless the fields grew. Fields are
    only appended, so slots keep their meaning (see `fulltext.ensure_fields`)."""
    current = recorded_fields(cur)
    fields = fulltext.grown_fields(current, wanted)
    if current == fields:
        return fields, 0
    cur.execute(
        "INSERT INTO hippograph_meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (KEYWORD_FIELDS_KEY, json.dumps(fields)),
    )
    return fields, rebuild(cur, fields, group_of)


def rebuild(cur: Cursor[Any], fields: Sequence[str], group_of: Callable[[str], str]) -> int:
    """Re-index every item that has vectors from its value; returns the items indexed."""
    cur.execute(
        "TRUNCATE hippograph_keyword_postings, hippograph_keyword_docs, "
        "hippograph_keyword_terms, hippograph_keyword_groups"
    )
    if not _exists(cur, "store_vectors"):
        return 0
    rows = cur.execute(
        "SELECT s.prefix, s.key, s.value FROM store s WHERE EXISTS (SELECT 1 FROM store_vectors "
        "v WHERE v.prefix = s.prefix AND v.key = s.key) ORDER BY s.created_at, s.prefix, s.key"
    ).fetchall()
    entries = [
        KeywordEntry(_col(r, "prefix", 0), _col(r, "key", 1), _col(r, "value", 2), None, True)
        for r in rows
    ]
    indexed = 0
    for start in range(0, len(entries), 2000):
        indexed += write_keywords(cur, entries[start : start + 2000], fields, group_of)
    return indexed


def _col(row: Any, name: str, index: int) -> Any:
    return row[name] if isinstance(row, Mapping) else row[index]


def _exists(cur: Cursor[Any], table: str) -> bool:
    row = cur.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,)).fetchone()
    return bool(row and _col(row, "found", 0))


# ---------------------------------------------------------------------- writes


def write_keywords(
    cur: Cursor[Any],
    entries: Sequence[KeywordEntry],
    fields: Sequence[str],
    group_of: Callable[[str], str],
    *,
    copy: bool = True,
) -> int:
    """Rewrite the keyword rows of upserted items in the cursor's transaction: an item
    with vectors is indexed under `fields` (or its own paths), keeping its document id;
    one without loses its rows. Returns the items indexed."""
    if not entries:
        return 0
    old = cur.execute(
        f"DELETE FROM hippograph_keyword_docs d USING {WANTED} "
        "WHERE d.prefix = wanted.prefix AND d.key = wanted.key RETURNING d.prefix, d.key, d.id",
        ([e.prefix for e in entries], [e.key for e in entries]),
    ).fetchall()
    ids = {(_col(r, "prefix", 0), _col(r, "key", 1)): int(_col(r, "id", 2)) for r in old}
    indexed = [e for e in entries if e.indexed]
    fresh = _new_ids(cur, sum((e.prefix, e.key) not in ids for e in indexed))
    docs: list[tuple[Any, ...]] = []
    postings: list[tuple[str, str, float, int]] = []
    for entry in indexed:
        doc_id = ids.get((entry.prefix, entry.key))
        if doc_id is None:
            doc_id = fresh.pop(0)
        grp = group_of(entry.prefix)
        lengths, counts = fulltext.analyse(fulltext.item_texts(entry.value, fields, entry.paths))
        text = fulltext.forward_text(counts) if counts else NO_TERMS
        docs.append((doc_id, entry.prefix, entry.key, grp, *lengths, text))
        postings.extend((grp, term, impact(tf, lengths), doc_id) for term, tf in counts.items())
    postings.sort()
    doc_types = ["int8", "text", "text", "text", *["int4"] * SLOTS, "text"]
    _insert(cur, "hippograph_keyword_docs", _DOCS_COLUMNS, doc_types, docs, copy=copy)
    posting_types = ["text", "text", "float8", "int8"]
    posting_columns = "grp, term, impact, doc_id"
    _insert(cur, "hippograph_keyword_postings", posting_columns, posting_types, postings, copy=copy)
    return len(docs)


def _new_ids(cur: Cursor[Any], count: int) -> list[int]:
    """`count` fresh document ids, ascending (given out in put order, like SQLite's ids)."""
    if not count:
        return []
    rows = cur.execute(
        "SELECT nextval('hippograph_keyword_docs_id_seq') AS id FROM generate_series(1, %s)",
        (count,),
    ).fetchall()
    return sorted(int(_col(r, "id", 0)) for r in rows)


def _insert(
    cur: Cursor[Any],
    table: str,
    columns: str,
    types: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    copy: bool,
) -> None:
    """Insert `rows` into `table`: when large, one text-format `COPY` written as one
    buffer (per-row binary writes cost more in Python than the server's work), else one
    statement over array parameters."""
    if not rows:
        return
    if copy and len(rows) >= COPY_THRESHOLD:
        data = "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows)
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as stream:
            stream.write(data)
        return
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    cur.execute(
        f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})",
        [list(column) for column in zip(*rows, strict=True)],
    )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: object) -> str:
    """`value` in `COPY`'s text format (floats as `repr`, which round-trips exactly)."""
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return repr(value) if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------- reads


def groups_for_prefix(cur: Cursor[Any], prefix: tuple[str, ...], depth: int) -> list[str]:
    """The keyword groups a search under `prefix` spans."""
    if len(prefix) >= depth:
        return [ns_to_text(prefix[:depth])]
    where, params = prefix_condition(prefix, "grp")
    rows = cur.execute(f"SELECT grp FROM hippograph_keyword_groups WHERE {where}", params)
    return sorted(_col(r, "grp", 0) for r in rows.fetchall())


class PgKeywords:
    """The keyword index of one search scope (`groups`), read in the caller's cursor;
    implements `ranking.bm25.KeywordSource` with the SQL of `fulltext.SqliteKeywords`."""

    def __init__(self, cur: Cursor[Any], groups: Sequence[str]) -> None:
        self.cur = cur
        self.groups = list(groups)

    def collection(self) -> CollectionStats:
        """Documents in the scope and their total length per slot."""
        sums = ", ".join(f"coalesce(sum(len{s}), 0)::float8 AS len{s}" for s in range(SLOTS))
        row = self.cur.execute(
            f"SELECT coalesce(sum(docs), 0)::int8 AS docs, {sums} "
            "FROM hippograph_keyword_groups WHERE grp = ANY(%s)",
            (self.groups,),
        ).fetchone()
        if row is None:
            return CollectionStats(0, (0.0,) * SLOTS)
        values = list(row.values()) if isinstance(row, Mapping) else list(row)
        return CollectionStats(int(values[0]), tuple(float(v) for v in values[1:]))

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents of the scope holding it}`."""
        if not self.groups or not terms:
            return {}
        rows = self.cur.execute(
            "SELECT term, sum(df)::int8 AS df FROM hippograph_keyword_terms "
            "WHERE grp = ANY(%s) AND term = ANY(%s) GROUP BY term",
            (self.groups, list(terms)),
        ).fetchall()
        return {_col(r, "term", 0): int(_col(r, "df", 1)) for r in rows}

    def champions(self, terms: Sequence[str], limit: int | None) -> dict[str, list[int]]:
        """Per term, the ids of its `limit` postings of highest impact (all with `None`),
        read in one statement: a backwards index range per term and group."""
        if not terms or not self.groups:
            return {}
        tail = "ORDER BY impact DESC, doc_id DESC" + (" LIMIT %s" if limit is not None else "")
        inner = " UNION ALL ".join(
            f"(SELECT impact, doc_id FROM hippograph_keyword_postings "
            f"WHERE grp = %s AND term = %s {tail})"
            for _ in self.groups
        )
        part = f"(SELECT %s AS term, doc_id FROM ({inner}) g {tail})"
        sql = " UNION ALL ".join([part] * len(terms))
        args: list[Any] = []
        for term in terms:
            args.append(term)
            for grp in self.groups:
                args.extend([grp, term] + ([limit] if limit is not None else []))
            if limit is not None:
                args.append(limit)
        found: dict[str, list[int]] = {}
        for row in self.cur.execute(sql, args).fetchall():
            found.setdefault(_col(row, "term", 0), []).append(int(_col(row, "doc_id", 1)))
        return found

    def documents(self, ids: Collection[int], terms: Sequence[str]) -> DocumentTerms:
        """The forward index of the documents `ids`, limited to `terms`."""
        if not ids:
            return DocumentTerms.empty(len(terms))
        rows = self.cur.execute(
            f"SELECT id, {_LENGTHS}, terms FROM hippograph_keyword_docs "
            "WHERE id = ANY(%s) ORDER BY id",
            (sorted(ids),),
        ).fetchall()
        plain = [list(r.values()) if isinstance(r, Mapping) else list(r) for r in rows]
        return fulltext.document_terms(plain, terms)
