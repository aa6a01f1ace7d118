"""Read a `FaissSqliteStore` file, read-only, for `hippograph migrate`.

Core pieces:
    - `SqliteSource`: the store's `items`, `vectors`, `links` and `history` tables (see
      `hippograph.store.schema`) opened with `mode=ro`, read in id order so a copy can resume
      after the last id it finished.
    - `SourceItem` / `SourceLink` / `SourceHistory`: one row each, decoded.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hippograph.store.codec import text_to_ns
from hippograph.store.index_manager import chunked


class SourceError(ValueError):
    """The source is not a readable hippograph SQLite store."""


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One live item of the source store."""

    id: int
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: str
    updated_at: str
    expires_at: float | None
    ttl_minutes: float | None
    fields: tuple[str, ...]
    """The value paths the source embedded for it (empty: it was put with `index=False`)."""

    @property
    def indexed(self) -> bool:
        """Whether the source holds vectors for it."""
        return bool(self.fields)


@dataclass(frozen=True, slots=True)
class SourceLink:
    """One link of the source store between two live items."""

    prefix: str
    src: str
    dst: str
    relation: str
    weight: float
    created_at: str


@dataclass(frozen=True, slots=True)
class SourceHistory:
    """One audit-trail row of the source store (JSON columns left as text)."""

    id: int
    prefix: str
    key: str
    op: str
    old: str | None
    new: str | None
    at: str
    source: str | None


_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_ITEM_COLUMNS = "id, prefix, key, value, created_at, updated_at, expires_at, ttl_minutes"
_LIVE_ENDS = " AND ".join(
    f"EXISTS (SELECT 1 FROM items i WHERE i.prefix = l.prefix AND i.key = l.{end} "
    "AND (i.expires_at IS NULL OR i.expires_at > ?))"
    for end in ("src", "dst")
)
"""Both ends of link `l` are live items."""


class SqliteSource:
    """A `FaissSqliteStore` file opened read-only.

    Args:
        path: The SQLite file (or a `sqlite:///path` URL).

    Raises:
        SourceError: the file is missing or holds no hippograph store.
    """

    def __init__(self, path: str | Path) -> None:
        text = str(path)
        text = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text
        self.path = Path(text).expanduser().resolve()
        if not self.path.is_file():
            raise SourceError(f"no SQLite store at {self.path}")
        self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master")}
        missing = {"items", "vectors", "history", "meta"} - tables
        if missing:
            self._conn.close()
            raise SourceError(
                f"{self.path} is not a hippograph store (no {', '.join(sorted(missing))} table)"
            )
        self.now = time.time()
        """Items expiring before this instant are not copied (fixed for the whole run)."""

    @property
    def identity(self) -> str:
        """Names this source in the target's progress table."""
        return f"sqlite:///{self.path}"

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def meta(self) -> dict[str, str]:
        """The store's `meta` table: `dims`, `embedder`, ..."""
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def indexed_paths(self) -> tuple[str, ...]:
        """Every value path the source embedded for any item."""
        names = [str(row[0]) for row in self._conn.execute("SELECT DISTINCT field FROM vectors")]
        return _paths(names)

    def count_items(self) -> int:
        """Live (unexpired) items."""
        row = self._conn.execute(f"SELECT count(*) FROM items WHERE {_LIVE}", (self.now,))
        return int(row.fetchone()[0])

    def count_indexed_items(self) -> int:
        """Live items that have at least one vector."""
        row = self._conn.execute(
            f"SELECT count(*) FROM items WHERE {_LIVE} "
            "AND EXISTS (SELECT 1 FROM vectors v WHERE v.item_id = items.id)",
            (self.now,),
        )
        return int(row.fetchone()[0])

    def _has_links(self) -> bool:
        row = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'links'").fetchone()
        return row is not None

    def count_links(self) -> int:
        """Links whose two ends are live (a store older than links has none)."""
        if not self._has_links():
            return 0
        row = self._conn.execute(
            f"SELECT count(*) FROM links l WHERE {_LIVE_ENDS}", (self.now, self.now)
        )
        return int(row.fetchone()[0])

    def links(self, batch: int = 1000) -> Iterator[list[SourceLink]]:
        """Every link between live items, in batches."""
        if not self._has_links():
            return
        cursor = self._conn.execute(
            "SELECT l.prefix, l.src, l.dst, l.relation, l.weight, l.created_at FROM links l "
            f"WHERE {_LIVE_ENDS} ORDER BY l.prefix, l.src, l.dst, l.relation",
            (self.now, self.now),
        )
        while rows := cursor.fetchmany(batch):
            yield [SourceLink(*row) for row in rows]

    def count_history(self) -> int:
        """Rows in the audit trail."""
        return int(self._conn.execute("SELECT count(*) FROM history").fetchone()[0])

    def items_after(self, after_id: int, limit: int) -> tuple[list[SourceItem], int]:
        """Up to `limit` item rows with id > `after_id`, in id order.

        Returns:
            The live ones among them, and the last id scanned (expired rows are skipped but
            still advance the cursor).
        """
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        last = int(rows[-1][0]) if rows else after_id
        return self._items([row for row in rows if row[6] is None or row[6] > self.now]), last

    def _items(self, rows: Sequence[Sequence[Any]]) -> list[SourceItem]:
        """Decode item rows, with the fields each one has vectors for."""
        fields: dict[int, list[str]] = {}
        for chunk in chunked([int(row[0]) for row in rows]):
            for item_id, name in self._conn.execute(
                f"SELECT item_id, field FROM vectors WHERE item_id IN ({_marks(chunk)})",
                tuple(chunk),
            ):
                fields.setdefault(int(item_id), []).append(str(name))
        return [_item(row, _paths(fields.get(int(row[0]), []))) for row in rows]

    def vectors_of(self, item_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """`{text hash: unit vector}` of the given items."""
        found: dict[str, np.ndarray] = {}
        for chunk in chunked(list(item_ids)):
            for digest, blob in self._conn.execute(
                f"SELECT text_hash, blob FROM vectors WHERE item_id IN ({_marks(chunk)})",
                tuple(chunk),
            ):
                found[digest] = np.frombuffer(blob, dtype=np.float32)
        return found

    def vector_by_hash(self, digest: str) -> np.ndarray | None:
        """Any stored vector of a text with this hash."""
        row = self._conn.execute(
            "SELECT blob FROM vectors WHERE text_hash = ? LIMIT 1", (digest,)
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.float32)

    def field_vectors(self, item_id: int) -> dict[str, np.ndarray]:
        """`{field: vector}` of one item."""
        return {
            field: np.frombuffer(blob, dtype=np.float32)
            for field, blob in self._conn.execute(
                "SELECT field, blob FROM vectors WHERE item_id = ?", (item_id,)
            )
        }

    def history_after(self, after_id: int, limit: int) -> list[SourceHistory]:
        """Up to `limit` history rows with id > `after_id`, oldest first."""
        rows = self._conn.execute(
            "SELECT id, prefix, key, op, old, new, at, source FROM history "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [SourceHistory(*row) for row in rows]

    def live_keys(self, batch: int = 1000) -> Iterator[list[tuple[str, str]]]:
        """`(prefix, key)` of every live item, in batches."""
        cursor = self._conn.execute(
            f"SELECT prefix, key FROM items WHERE {_LIVE} ORDER BY id", (self.now,)
        )
        while rows := cursor.fetchmany(batch):
            yield [(str(p), str(k)) for p, k in rows]

    def sample(self, size: int) -> list[SourceItem]:
        """Up to `size` live items chosen at random."""
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE {_LIVE} ORDER BY random() LIMIT ?",
            (self.now, size),
        ).fetchall()
        return self._items(rows)


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _paths(field_names: list[str]) -> tuple[str, ...]:
    """The index paths behind stored field names: a path that yielded several texts was
    stored as `path.0`, `path.1`, ... (the convention of LangGraph's stores)."""
    names = set(field_names)
    paths = set()
    for name in names:
        match = re.fullmatch(r"(.*)\.(\d+)", name)
        paths.add(match[1] if match and f"{match[1]}.0" in names else name)
    return tuple(sorted(paths))


def _item(row: Sequence[Any], fields: tuple[str, ...]) -> SourceItem:
    return SourceItem(
        id=int(row[0]),
        namespace=text_to_ns(row[1]),
        key=str(row[2]),
        value=json.loads(row[3]),
        created_at=str(row[4]),
        updated_at=str(row[5]),
        expires_at=row[6],
        ttl_minutes=row[7],
        fields=fields,
    )
