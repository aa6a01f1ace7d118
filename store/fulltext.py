"""The SQLite FTS5 side of hybrid search: one full-text row per indexed item.

Core pieces:
    - `fulltext` (a virtual table, schema migration 2): `rowid` is `items.id`; columns
      `f0`–`f3` hold the item's indexed fields (the store's first three index fields in
      order, everything else in `f3`), tokenised with Porter stemming so "painting" finds
      "paints".
    - `write_rows` / `delete_rows`: called inside the writer's transaction, so the
      full-text index commits with the item and its vectors, or not at all.
    - `match_expression`: a query turned into an FTS5 `OR` of its content words.
    - `bm25_scores`: BM25 of matching items under the caller's SQL conditions.
    - `rebuild`: refill the table from `items` (new migration, or the fields changed).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langgraph.store.base import get_text_at_path, tokenize_path

from hippograph.store.index_manager import chunked

COLUMNS = 4
"""Full-text columns: the first `COLUMNS - 1` index fields get one each, the rest share the last."""

_WORD = re.compile(r"\w+(?:'\w+)*", re.UNICODE)
_META_KEY = "fulltext_fields"
MAX_QUERY_WORDS = 64
"""Distinct query words sent to FTS5 (a pasted document as a query stays cheap)."""

_STOP_WORDS_TEXT = """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's i
    i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't
    what what's when when's where where's which while who who's whom why why's with won't would
    wouldn't you you'd you'll you're you've your yours yourself yourselves"""
_LIGHT_VERBS_TEXT = """
    also get gets getting got go goes going gone just know knows like likes liked make makes
    made making really see seen take takes taken took tell tells told thing things use used
    uses using want wants went"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split()) | frozenset(_LIGHT_VERBS_TEXT.split())
"""A standard English stop-word list plus light verbs and fillers from the SMART list ("use",
"get", "like", "thing"): words that say nothing about which memory is meant. Without the
latter, "Which programming language do I use?" finds "Uses NeoVim" by its one shared word."""


def column_of(field_name: str, fields: Sequence[str]) -> int:
    """The full-text column for a text indexed under `field_name` (`"notes[*].2"` counts as
    `"notes[*]"`)."""
    base, _, tail = field_name.rpartition(".")
    for candidate in (field_name, base if tail.isdigit() else None):
        if candidate is not None and candidate in fields:
            return min(fields.index(candidate), COLUMNS - 1)
    return COLUMNS - 1


def columns_for(texts: Iterable[tuple[str, str]], fields: Sequence[str]) -> list[str]:
    """`(field name, text)` pairs laid out as the `COLUMNS` column values of one row."""
    parts: list[list[str]] = [[] for _ in range(COLUMNS)]
    for field_name, text in texts:
        parts[column_of(field_name, fields)].append(text)
    return ["\n".join(p) for p in parts]


def column_weights(fields: Sequence[str], weight_of: Any) -> list[float]:
    """BM25 weights of the columns, from a `field path -> weight` function."""
    weights = [weight_of(path) for path in fields[: COLUMNS - 1]]
    return [*weights, *[1.0] * (COLUMNS - len(weights))]


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def delete_rows(conn: sqlite3.Connection, item_ids: Sequence[int]) -> None:
    """Remove the full-text rows of `item_ids` (missing rows are ignored)."""
    for chunk in chunked(item_ids):
        conn.execute(
            f"DELETE FROM fulltext WHERE rowid IN ({_placeholders(len(chunk))})", tuple(chunk)
        )


def write_rows(conn: sqlite3.Connection, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
    """Replace the full-text rows of `(item_id, column values)`."""
    if not rows:
        return
    delete_rows(conn, [item_id for item_id, _ in rows])
    conn.executemany(
        f"INSERT INTO fulltext (rowid, f0, f1, f2, f3) VALUES (?, {_placeholders(COLUMNS)})",
        [(item_id, *columns) for item_id, columns in rows],
    )


def match_expression(query: str) -> str | None:
    """An FTS5 query matching any content word of `query` (each quoted, so no word is read
    as FTS5 syntax); `None` when nothing is left after stop words."""
    words: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOP_WORDS and word.strip("_"):
            words[word] = None
            if len(words) == MAX_QUERY_WORDS:
                break
    if not words:
        return None
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def bm25_scores(
    conn: sqlite3.Connection,
    match: str,
    weights: Sequence[float],
    where: str | None = None,
    params: Sequence[object] = (),
) -> dict[int, float]:
    """`{item_id: bm25}` of every item matching `match` (and `where`, over `items i`).

    BM25 is returned positive (higher is better). FTS5 scores every match anyway, so one
    pass returns them all. Without `where` the full-text table is read alone, which is
    much faster than joining `items` for each match.
    """
    weight_sql = ", ".join(f"{float(w)!r}" for w in weights)
    if where is None:
        sql = f"SELECT rowid, bm25(fulltext, {weight_sql}) FROM fulltext WHERE fulltext MATCH ?"
    else:
        sql = (
            f"SELECT i.id, bm25(fulltext, {weight_sql}) FROM fulltext "
            f"JOIN items i ON i.id = fulltext.rowid WHERE fulltext MATCH ? AND {where}"
        )
    return {item_id: -rank for item_id, rank in conn.execute(sql, (match, *params))}


def best_matching(
    conn: sqlite3.Connection,
    scores: dict[int, float],
    where: str,
    params: Sequence[object],
    count: int,
) -> list[int] | None:
    """The `count` best-scored items of `scores` that satisfy `where`, best first; `None`
    when few of the best satisfy it (another tenant's matches dominate): then score under
    `where` directly."""
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    found: list[int] = []
    step = max(4 * count, 256)
    for start in range(0, min(len(ranked), 2 * step), step):
        chunk = ranked[start : start + step]
        kept = {
            row[0]
            for row in conn.execute(
                f"SELECT i.id FROM items i WHERE i.id IN ({_placeholders(len(chunk))}) AND {where}",
                (*chunk, *params),
            )
        }
        found.extend(item_id for item_id in chunk if item_id in kept)
        if len(found) >= count:
            return found[:count]
    return found if len(ranked) <= 2 * step else None


def texts_at(value: Mapping[str, Any], paths: Sequence[str]) -> list[tuple[str, str]]:
    """`(field name, text)` for each of `paths` in `value`, named as the vector index names
    them (`"path"`, or `"path.N"` when a path yields several texts)."""
    texts: list[tuple[str, str]] = []
    for path in paths:
        found = get_text_at_path(value, path if path == "$" else tokenize_path(path))
        for n, text in enumerate(found):
            texts.append((f"{path}.{n}" if len(found) > 1 else path, text))
    return texts


def is_current(conn: sqlite3.Connection, fields: Sequence[str]) -> bool:
    """Whether the full-text rows were built for `fields` (else `rebuild` them)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_META_KEY,)).fetchone()
    return row is not None and json.loads(row[0]) == list(fields)


def rebuild(conn: sqlite3.Connection, fields: Sequence[str]) -> int:
    """Refill the table from every item that has vectors, reading `fields` from its value;
    return the rows written. Runs in the caller's write transaction."""
    conn.execute("DELETE FROM fulltext")
    rows = conn.execute(
        "SELECT i.id, i.value FROM items i WHERE EXISTS "
        "(SELECT 1 FROM vectors v WHERE v.item_id = i.id)"
    ).fetchall()
    built = []
    for item_id, value_json in rows:
        texts = texts_at(json.loads(value_json), fields)
        if texts:
            built.append((item_id, columns_for(texts, fields)))
    write_rows(conn, built)
    mark(conn, fields)
    return len(built)


def mark(conn: sqlite3.Connection, fields: Sequence[str] | None) -> None:
    """Record which fields the rows hold (`None`: the rows are no longer maintained)."""
    if fields is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (_META_KEY,))
        return
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_META_KEY, json.dumps(list(fields))),
    )
