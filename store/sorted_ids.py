"""Set operations on the small int64 id arrays of one search, at a fraction of numpy's cost.

`np.unique`, `np.union1d` and `np.isin` spend ~10-15 µs each on the ~100 ids a hybrid search
handles (hashing, argument checks, dispatch), and a search calls several of them. These give
the same arrays with a sort and a comparison, or a binary search (~1-3 µs each). For large
arrays numpy's own are as good; use these on the hot path of a search.
"""

from __future__ import annotations

import numpy as np

__all__ = ["contains", "union", "unique"]


def unique(ids: np.ndarray) -> np.ndarray:
    """The distinct values of the 1-D array `ids`, ascending (what `np.unique` returns)."""
    ordered = np.sort(ids)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def union(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The distinct values of both arrays, ascending (what `np.union1d` returns)."""
    return unique(np.concatenate((first, second)))


def contains(held: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Whether each of `ids` is in `held` (ascending) — `np.isin(ids, held)` as a mask."""
    if not len(held):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(held, ids), len(held) - 1)
    return held[at] == ids
