"""`store.sorted_ids` gives exactly numpy's `unique` / `union1d` / `isin` on id arrays."""

from __future__ import annotations

import numpy as np
import pytest

from hippograph.store import sorted_ids


@pytest.mark.parametrize("seed", range(20))
def test_same_arrays_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 150))
    ids = rng.integers(-5, 400, size=size).astype(np.int64)
    other = rng.integers(0, 400, size=int(rng.integers(0, 80))).astype(np.int64)

    unique = sorted_ids.unique(ids)
    assert unique.dtype == np.unique(ids).dtype
    assert np.array_equal(unique, np.unique(ids))
    assert np.array_equal(sorted_ids.union(ids, other), np.union1d(ids, other))
    held = np.unique(other)
    assert np.array_equal(sorted_ids.contains(held, ids), np.isin(ids, held))


def test_empty_and_single() -> None:
    empty = np.empty(0, np.int64)
    assert sorted_ids.unique(empty).shape == (0,)
    assert sorted_ids.unique(np.array([7])).tolist() == [7]
    assert sorted_ids.contains(empty, np.array([1, 2])).tolist() == [False, False]
    assert sorted_ids.contains(np.array([2]), empty).shape == (0,)
