"""Which item owns each vector of one group, held beside its cached keyword index.

A hybrid search joins its ~50 FAISS hits with `vectors` and `items` to learn their items
(`reads._hydrate`), and reads the blobs of the items only keywords found to score their
cosines; at 100k memories those two statements are a third of a warm search. `VectorOwners`
holds a cached group's `vectors.id → item_id` map (and its inverse), so a warm search maps
hits to items and items to FAISS ids in memory, and takes the cosines' vectors from the
FAISS group (which stores them exactly).

It stays exact the way `index_manager` keeps FAISS exact: through the vector log. A
snapshot with a newer head re-reads only what the log names for the group — removed ids,
and the rows above the highest id held when anything was added (ids are AUTOINCREMENT and
writers serialised, so every added id is above it). A floor raised past the copy's stamp
(compaction, erasure) makes the owning `keyword_cache` group reload.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from hippograph.store import vector_log


@dataclass(frozen=True, slots=True)
class VectorOwners:
    """The `vector id → item id` map of one group at one snapshot: the loaded arrays plus
    the ids added and removed since."""

    ids: np.ndarray
    """Loaded vector ids, ascending (int64)."""
    owners: np.ndarray
    """Aligned with `ids`: each vector's item id."""
    item_order: np.ndarray
    """The loaded vectors' item ids in the order SQLite reads an item's vectors (by item
    id, then field: the `UNIQUE (item_id, field)` index)."""
    vectors_by_item: np.ndarray
    """Aligned with `item_order`: the vector ids."""
    added: Mapping[int, int]
    """Vectors added since the load: `{vector id: item id}`."""
    removed: np.ndarray
    """Loaded vector ids removed since the load, sorted."""
    top: int
    """The highest vector id of the group seen (added ones above it are read on advance)."""

    @classmethod
    def load(cls, conn: sqlite3.Connection, group: str) -> VectorOwners:
        """Every vector of `group` in `conn`'s snapshot."""
        rows = conn.execute(
            "SELECT id, item_id FROM vectors WHERE grp = ? ORDER BY item_id, field", (group,)
        ).fetchall()
        pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        by_id = np.argsort(pairs[:, 0], kind="stable")
        ids, owners = pairs[by_id, 0], pairs[by_id, 1]
        top = int(ids[-1]) if len(ids) else 0
        return cls(
            ids, owners, pairs[:, 1].copy(), pairs[:, 0].copy(), {}, np.empty(0, np.int64), top
        )

    def advance(self, conn: sqlite3.Connection, group: str, after: int, head: int) -> VectorOwners:
        """This map brought from the vector-log position `after` to `head`."""
        if head <= after:
            return self
        gone, grew = vector_log.group_changes(conn, group, after, head)
        if not gone and not grew:
            return self
        added = dict(self.added)
        for vector_id in gone:
            added.pop(vector_id, None)
        removed = np.union1d(self.removed, self.ids[np.isin(self.ids, gone)])
        top = self.top
        if grew:
            for vector_id, item_id in conn.execute(
                "SELECT id, item_id FROM vectors WHERE grp = ? AND id > ? ORDER BY id",
                (group, self.top),
            ):
                added[int(vector_id)] = int(item_id)
                top = max(top, int(vector_id))
        return replace(self, added=added, removed=removed.astype(np.int64), top=top)

    @property
    def nbytes(self) -> int:
        """Bytes held, roughly."""
        return 4 * self.ids.nbytes + 100 * len(self.added)

    def owner_of(self, vector_ids: np.ndarray) -> np.ndarray:
        """Each vector's item id (int64), -1 for a vector the group does not hold now."""
        vector_ids = np.asarray(vector_ids, dtype=np.int64)
        items = np.full(len(vector_ids), -1, dtype=np.int64)
        if len(self.ids):  # loaded empty (a new tenant): only `added` can hold them
            rows = np.minimum(np.searchsorted(self.ids, vector_ids), len(self.ids) - 1)
            found = self.ids[rows] == vector_ids
            if len(self.removed):
                found &= ~np.isin(vector_ids, self.removed)
            items = np.where(found, self.owners[rows], -1)
        if self.added:
            for n, vector_id in enumerate(vector_ids.tolist()):
                item = self.added.get(vector_id)
                if item is not None:
                    items[n] = item
        return items.astype(np.int64, copy=False)

    def vectors_of(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """`(owners, vector ids)` of the items `item_ids` (ascending), in the order SQLite
        returns their `vectors` rows for an `item_id IN (...)` list; `None` when one of them
        has vectors added since the load (their order is SQLite's to tell)."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if self.added and not set(self.added.values()).isdisjoint(item_ids.tolist()):
            return None
        start = np.searchsorted(self.item_order, item_ids, side="left")
        end = np.searchsorted(self.item_order, item_ids, side="right")
        counts = end - start
        positions = np.repeat(end - counts.cumsum(), counts) + np.arange(int(counts.sum()))
        vids = self.vectors_by_item[positions]
        owners = self.item_order[positions]
        if len(self.removed):
            keep = ~np.isin(vids, self.removed)
            vids, owners = vids[keep], owners[keep]
        return owners, vids
