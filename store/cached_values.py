"""Scalar value fields of one group's items, held beside its cached keyword index.

Hybrid ranking reads one or two value fields of every candidate (the time field for a
query naming a date, the thread field); from SQLite that is a `json_extract` per candidate
and field in every search. `ItemValues` holds them for a cached group (`keyword_cache`),
read by the very same SQL (`value_sql`), so a warm search answers from memory with the
values SQLite would give.

It stays exact through the keyword log: every upsert of an item with vectors rewrites its
keyword rows, and `fulltext.write_rows` logs each such item even when its text (and so its
postings) did not change — a timestamp edit is logged like a new text. Deletions of items
with keyword rows are logged by `fulltext.delete_rows`. An item whose value changes
without a log entry (a put with `index=False`) has no vectors and no keyword rows, so it
is never a hybrid candidate and its value is never asked for.

Expiry is not held here: `refresh_ttl` moves `expires_at` without a log entry, and expiry
depends on the clock, so admissibility stays a SQL condition.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hippograph.store.codec import prefix_condition, text_to_ns
from hippograph.store.index_manager import chunked


def value_sql(paths: Sequence[str]) -> tuple[str, list[str]]:
    """Columns `, json_extract(i.value, ?), json_type(i.value, ?)` per path (on `items i`)
    and their parameters."""
    json_paths = ["$" + "".join(f'."{part}"' for part in path.split(".")) for path in paths]
    columns = "".join(", json_extract(i.value, ?), json_type(i.value, ?)" for _ in paths)
    return columns, [p for json_path in json_paths for p in (json_path, json_path)]


def scalars(values: Sequence[object], count: int) -> tuple[object, ...]:
    """The `count` paths' scalars from `value_sql` columns (`None`: none there, or a JSON
    object or array)."""
    return tuple(
        None if values[2 * n] is None or values[2 * n + 1] in ("object", "array") else values[2 * n]
        for n in range(count)
    )


_Held = tuple[bool, tuple[object, ...]]
"""One item's values: whether it carries a TTL, and its scalar per path."""


@dataclass(frozen=True, slots=True)
class ItemValues:
    """Values of `paths` for a group's items at one snapshot, and whether each carries a
    TTL: the loaded columns plus the items re-read since (`changed`)."""

    paths: tuple[str, ...]
    ids: np.ndarray
    """Loaded item ids, ascending."""
    expiring: np.ndarray
    """Aligned with `ids`: the item has a TTL (`ttl_minutes`; only a logged put sets it)."""
    columns: tuple[np.ndarray, ...]
    """Per path, an object array aligned with `ids` (`None` where the item has no scalar)."""
    changed: Mapping[int, _Held | None]
    """Items re-read since the load (`None`: gone — never a candidate; treated as unknown)."""

    @classmethod
    def load(cls, conn: sqlite3.Connection, group: str, paths: Sequence[str]) -> ItemValues:
        """The values of every item under `group`, in `conn`'s snapshot."""
        where, params = prefix_condition(text_to_ns(group), "i.prefix")
        columns, column_params = value_sql(paths)
        rows = conn.execute(
            f"SELECT i.id, i.ttl_minutes IS NOT NULL{columns} FROM items i WHERE {where} "
            "ORDER BY i.id",
            (*column_params, *params),
        ).fetchall()
        shared: dict[tuple[type, object], object] = {}  # one object per distinct value
        held = [
            [shared.setdefault((type(v), v), v) for v in scalars(row[2:], len(paths))]
            for row in rows
        ]
        arrays = []
        for n in range(len(paths)):
            column = np.empty(len(rows), dtype=object)
            column[:] = [values[n] for values in held]
            arrays.append(column)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        expiring = np.fromiter((bool(row[1]) for row in rows), dtype=bool, count=len(rows))
        return cls(tuple(paths), ids, expiring, tuple(arrays), {})

    def advance(self, conn: sqlite3.Connection, item_ids: Collection[int]) -> ItemValues:
        """These values with `item_ids` (the items the keyword log names) re-read."""
        if not item_ids:
            return self
        changed = dict(self.changed)
        changed.update(dict.fromkeys(item_ids))
        columns, column_params = value_sql(self.paths)
        for chunk in chunked(sorted(item_ids)):
            for item_id, ttl, *values in conn.execute(
                f"SELECT i.id, i.ttl_minutes IS NOT NULL{columns} FROM items i "
                f"WHERE i.id IN ({','.join('?' * len(chunk))})",
                (*column_params, *chunk),
            ):
                changed[int(item_id)] = (bool(ttl), scalars(values, len(self.paths)))
        return replace(self, changed=changed)

    @property
    def nbytes(self) -> int:
        """Bytes held, roughly (pointers; distinct values are shared)."""
        return self.ids.nbytes * (1 + len(self.columns)) + 200 * len(self.changed)

    def _rows(self, item_ids: Sequence[int]) -> tuple[np.ndarray, list[bool]]:
        """Each id's row in the loaded columns, and whether it is held there as loaded."""
        ids = np.asarray(item_ids, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.ids, ids), max(len(self.ids) - 1, 0))
        loaded = self.ids[rows] == ids if len(self.ids) else np.zeros(len(ids), bool)
        if self.changed:
            loaded &= np.fromiter((i not in self.changed for i in item_ids), bool, len(ids))
        return rows, loaded.tolist()

    def lookup(
        self, item_ids: Sequence[int], paths: Sequence[str]
    ) -> tuple[dict[str, dict[int, object]], list[int]]:
        """`{path: {id: scalar}}` for the ids held (items without a scalar left out, as
        `reads._value_texts` leaves them out) and the ids not held (to read from SQLite)."""
        rows, loaded = self._rows(item_ids)
        found: dict[str, dict[int, object]] = {}
        if len(self.ids) and all(loaded):  # the usual warm case: every id held as loaded
            for path in paths:
                column = self.columns[self.paths.index(path)][rows].tolist()
                found[path] = {i: v for i, v in zip(item_ids, column, strict=True) if v is not None}
            return found, []
        for path in paths:
            slot = self.paths.index(path)
            column = self.columns[slot][rows].tolist() if len(self.ids) else loaded
            found[path] = {
                i: v
                for i, v, held in zip(item_ids, column, loaded, strict=True)
                if held and v is not None
            }
        missing: list[int] = []
        for item_id, held in zip(item_ids, loaded, strict=True):
            if held:
                continue
            entry = self.changed.get(item_id)
            if entry is None:
                missing.append(item_id)
                continue
            for path in paths:
                value = entry[1][self.paths.index(path)]
                if value is not None:
                    found[path][item_id] = value
        return found, missing

    def without_ttl(self, item_ids: Sequence[int]) -> set[int]:
        """The ids among `item_ids` held and known to carry no TTL (they cannot expire)."""
        never = self.no_ttl(np.asarray(item_ids, dtype=np.int64))
        return set(np.asarray(item_ids, dtype=np.int64)[never].tolist())

    def no_ttl(self, item_ids: np.ndarray) -> np.ndarray:
        """`without_ttl` as a mask over the int64 array `item_ids`."""
        if not len(self.ids):
            never = np.zeros(len(item_ids), dtype=bool)
        else:
            rows = np.minimum(np.searchsorted(self.ids, item_ids), len(self.ids) - 1)
            never = (self.ids[rows] == item_ids) & ~self.expiring[rows]
        if self.changed:
            for n, item_id in enumerate(item_ids.tolist()):
                if item_id in self.changed:
                    entry = self.changed[item_id]
                    never[n] = entry is not None and not entry[0]
        return never
