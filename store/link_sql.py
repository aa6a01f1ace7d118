"""Every SQL statement on the `links` table: write, remove, cascade, list, expand a search.

Writes run inside the caller's `BEGIN IMMEDIATE` transaction, next to the item writes they
belong to, and record a history row per change (`LINK` / `UNLINK`, keyed by `src`, the
link as `{"dst", "relation", "weight"}` in `new` / `old`). Reads run in the caller's read
snapshot. See `links.py` for the types.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from hippograph.store.codec import ns_to_text, prefix_condition, text_to_ns
from hippograph.store.expansion import expand_ranked
from hippograph.store.index_manager import chunked
from hippograph.store.links import (
    Link,
    LinkExpansion,
    LinkOp,
    LinkWrite,
    ListLinksOp,
    UnlinkOp,
    Via,
)

_COLUMNS = "prefix, src, dst, relation, weight, created_at"
_HISTORY = (
    "INSERT INTO history (prefix, key, op, old, new, at, source) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _link(row: Sequence[object]) -> Link:
    prefix, src, dst, relation, weight, created_at = row
    return Link(
        namespace=text_to_ns(str(prefix)),
        src=str(src),
        dst=str(dst),
        relation=str(relation),
        weight=float(weight),  # type: ignore[arg-type]
        created_at=datetime.fromisoformat(str(created_at)),
    )


def _audit(link: Link) -> str:
    return json.dumps(
        {"dst": link.dst, "relation": link.relation, "weight": link.weight}, ensure_ascii=False
    )


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def apply_link_writes(
    conn: sqlite3.Connection,
    ops: Sequence[LinkWrite],
    *,
    at: str,
    source: str | None,
    record_history: bool,
) -> list[Link | list[Link] | None]:
    """Apply link and unlink operations in order; one result per operation (see `LinkOp`,
    `UnlinkOp`)."""
    results: list[Link | list[Link] | None] = []
    history: list[tuple[str, str, str, str | None, str | None, str, str | None]] = []
    for op in ops:
        prefix = ns_to_text(op.namespace)
        if isinstance(op, UnlinkOp):
            removed = _remove(conn, prefix, op)
            history += [(prefix, x.src, "UNLINK", _audit(x), None, at, source) for x in removed]
            results.append(removed)
            continue
        stored, old = _write(conn, prefix, op, at)
        if stored is not None and (old is None or old.weight != stored.weight):
            previous = None if old is None else _audit(old)
            history.append((prefix, op.src, "LINK", previous, _audit(stored), at, source))
        results.append(stored)
    if record_history and history:
        conn.executemany(_HISTORY, history)
    return results


def _write(
    conn: sqlite3.Connection, prefix: str, op: LinkOp, at: str
) -> tuple[Link | None, Link | None]:
    """`(stored link, link before)`; `(None, None)` when an end is missing."""
    found = conn.execute(
        "SELECT count(*) FROM items WHERE prefix = ? AND key IN (?, ?)", (prefix, op.src, op.dst)
    ).fetchone()[0]
    if found < 2:
        return None, None
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM links WHERE prefix = ? AND src = ? AND dst = ? AND relation = ?",
        (prefix, op.src, op.dst, op.relation),
    ).fetchone()
    old = None if row is None else _link(row)
    if old is not None and old.weight == op.weight:
        return old, old
    conn.execute(
        f"INSERT INTO links ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (prefix, src, dst, relation) DO UPDATE SET weight = excluded.weight, "
        "created_at = excluded.created_at",
        (prefix, op.src, op.dst, op.relation, op.weight, at),
    )
    return _link((prefix, op.src, op.dst, op.relation, op.weight, at)), old


def _remove(conn: sqlite3.Connection, prefix: str, op: UnlinkOp) -> list[Link]:
    where, params = "prefix = ?", [prefix]
    for column, value in (("src", op.src), ("dst", op.dst), ("relation", op.relation)):
        if value is not None:
            where, params = f"{where} AND {column} = ?", [*params, value]
    rows = conn.execute(f"DELETE FROM links WHERE {where} RETURNING {_COLUMNS}", params)
    return sorted((_link(row) for row in rows.fetchall()), key=lambda x: (x.src, x.dst, x.relation))


def drop_links_of(
    conn: sqlite3.Connection,
    items: Sequence[tuple[str, str, str | None]],
    *,
    at: str,
    record_history: bool,
) -> int:
    """Remove every link from or to the `(prefix, key, source)` items being deleted, with
    an `UNLINK` history row each carrying the deletion's source; returns how many."""
    by_prefix: dict[str, dict[str, str | None]] = defaultdict(dict)
    for prefix, key, source in items:
        by_prefix[prefix][key] = source
    history: list[tuple[str, str, str, str | None, str | None, str, str | None]] = []
    removed = 0
    for prefix, sources in by_prefix.items():
        for chunk in chunked(list(sources)):
            marks = _placeholders(len(chunk))
            rows = conn.execute(
                f"DELETE FROM links WHERE prefix = ? AND (src IN ({marks}) OR dst IN ({marks})) "
                f"RETURNING {_COLUMNS}",
                (prefix, *chunk, *chunk),
            ).fetchall()
            removed += len(rows)
            for link in sorted(map(_link, rows), key=lambda x: (x.src, x.dst, x.relation)):
                source = sources.get(link.src, sources.get(link.dst))
                history.append((prefix, link.src, "UNLINK", _audit(link), None, at, source))
    if record_history and history:
        conn.executemany(_HISTORY, history)
    return removed


def list_links(conn: sqlite3.Connection, op: ListLinksOp) -> list[Link]:
    """The links `op` asks for, oldest first."""
    if op.key is not None:
        where = "prefix = ? AND (src = ? OR dst = ?)"
        params: list[object] = [ns_to_text(op.namespace_prefix), op.key, op.key]
    else:
        where, ns_params = prefix_condition(op.namespace_prefix, "prefix")
        params = list(ns_params)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM links WHERE {where} "
        "ORDER BY created_at, prefix, src, dst, relation LIMIT ? OFFSET ?",
        (*params, op.limit, op.offset),
    )
    return [_link(row) for row in rows]


# ---------------------------------------------------------------------- expansion

Ranked = list[tuple[tuple, float]]


def expand(
    conn: sqlite3.Connection,
    ranked: Ranked,
    settings: LinkExpansion,
    *,
    where: str,
    params: Sequence[object],
    item_columns: str,
) -> tuple[Ranked, dict[int, Via]]:
    """`ranked` (item rows per `item_columns`, best first) with the items its best results
    link to merged in (see `LinkExpansion`); returns the new ranking and, by item id, how
    each reached item came back. `where` / `params` are the search's conditions on `items i`.
    """
    graph = _SqliteLinkGraph(conn, where, params, item_columns)
    merged, via = expand_ranked(ranked, settings, graph)
    ids = {graph.ref(row): row[0] for row, _ in merged}
    return merged, {ids[ref]: how for ref, how in via.items()}


class _SqliteLinkGraph:
    """`LinkGraph` over the `links` and `items` tables, for one search."""

    def __init__(
        self, conn: sqlite3.Connection, where: str, params: Sequence[object], item_columns: str
    ) -> None:
        self.conn, self.where, self.params, self.item_columns = conn, where, params, item_columns

    def ref(self, row: tuple) -> tuple[str, str]:
        return (row[1], row[2])

    def order(self, row: tuple) -> int:
        return int(row[0])

    def links_touching(self, keys: Mapping[str, Sequence[str]]) -> list[Link]:
        found: list[Link] = []
        for prefix, wanted in keys.items():
            for chunk in chunked(list(wanted)):
                marks = _placeholders(len(chunk))
                found += map(
                    _link,
                    self.conn.execute(
                        f"SELECT {_COLUMNS} FROM links WHERE prefix = ? AND "
                        f"(src IN ({marks}) OR dst IN ({marks}))",
                        (prefix, *chunk, *chunk),
                    ),
                )
        return found

    def reachable(
        self, wanted: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[tuple, float | None]]:
        """Rows of the wanted items that satisfy the search and have vectors (their own
        score is not looked up: a reached item is ranked by its reached score)."""
        keys_by_prefix: dict[str, list[str]] = defaultdict(list)
        for prefix, key in sorted(wanted):
            keys_by_prefix[prefix].append(key)
        found: dict[tuple[str, str], tuple[tuple, float | None]] = {}
        for prefix, keys in keys_by_prefix.items():
            for chunk in chunked(keys):
                for row in self.conn.execute(
                    f"SELECT {self.item_columns} FROM items i WHERE i.prefix = ? AND i.key IN "
                    f"({_placeholders(len(chunk))}) AND {self.where} AND EXISTS "
                    "(SELECT 1 FROM vectors v WHERE v.item_id = i.id)",
                    (prefix, *chunk, *self.params),
                ):
                    found[(row[1], row[2])] = (row, None)
        return found
