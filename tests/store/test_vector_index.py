"""`GroupIndex`: exact where it promises exactness, correct through removals and rebuilds."""

from __future__ import annotations

import numpy as np
import pytest

from hippograph.store.vector_index import GroupIndex, IndexPolicy


def unit(rows: int, dims: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vectors @ query
    return ids[np.argsort(-scores, kind="stable")[:k]].tolist()


def test_flat_search_is_exact_and_removal_is_real() -> None:
    vectors, ids = unit(200), np.arange(1, 201)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=None))
    index.add(ids, vectors)
    query = unit(1, seed=5)[0]
    scores, found = index.search(query, 10)
    assert found.tolist() == brute(vectors, ids, query, 10)
    assert np.all(np.diff(scores) <= 1e-6)
    index.remove(np.array(found[:3]))
    assert len(index) == 197 and index.tombstones == 0
    assert not set(found[:3].tolist()) & set(index.search(query, 200)[1].tolist())


def test_subset_search_is_exact() -> None:
    vectors, ids = unit(300), np.arange(10, 310)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=50))
    index.add(ids, vectors)
    assert index.kind == "hnsw"
    allowed = np.array([12, 50, 51, 299, 305, 999_999])
    query = unit(1, seed=9)[0]
    _, found = index.search(query, 3, allowed)
    mask = np.isin(ids, allowed)
    assert found.tolist() == brute(vectors[mask], ids[mask], query, 3)


def test_hnsw_tombstones_then_rebuild_to_flat() -> None:
    vectors, ids = unit(100), np.arange(1, 101)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=60, rebuild_ratio=0.3))
    index.add(ids, vectors)
    assert index.kind == "hnsw"
    index.remove(ids[:20])
    assert index.tombstones == 20 and len(index) == 80
    live = set(index.search(unit(1, seed=2)[0], 100)[1].tolist())
    assert live == set(ids[20:].tolist())
    index.remove(ids[20:40])  # 40 tombstones > 30% → rebuilt from 60 live vectors
    assert index.tombstones == 0 and len(index) == 60 and index.kind == "flat"


def test_out_of_order_ids_are_sorted_and_last_write_wins() -> None:
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=None))
    a, b = unit(2, seed=3)
    index.add(np.array([5]), a[None])
    index.add(np.array([3]), b[None])
    index.add(np.array([5]), b[None])
    live_ids, live_vectors = index.live()
    assert live_ids.tolist() == [3, 5]
    assert np.allclose(live_vectors[1], b)


@pytest.mark.parametrize("k", [0, -1])
def test_non_positive_k_returns_nothing(k: int) -> None:
    index = GroupIndex(16, IndexPolicy())
    index.add(np.array([1]), unit(1))
    assert index.search(unit(1)[0], k)[1].tolist() == []


def test_export_restore_keeps_contents_and_rejects_mismatches() -> None:
    vectors, ids = unit(120), np.arange(1, 121)
    policy = IndexPolicy(hnsw_threshold=100)
    index = GroupIndex(16, policy)
    index.add(ids, vectors)
    index.remove(ids[:5])
    raw, tombstones, meta = index.export()
    restored = GroupIndex.restore(16, policy, raw, tombstones=tombstones, meta=meta, applied_seq=7)
    assert restored.kind == "hnsw" and len(restored) == 115 and restored.applied_seq == 7
    assert np.array_equal(restored.vectors_for(ids[5:8]), vectors[5:8])
    with pytest.raises(KeyError):
        restored.vectors_for(ids[:1])  # a tombstone is not live
    with pytest.raises(ValueError, match="kind"):
        GroupIndex.restore(
            16, policy, raw, tombstones=tombstones, meta={**meta, "kind": "flat"}, applied_seq=7
        )
    with pytest.raises(ValueError, match="live count"):
        GroupIndex.restore(
            16, policy, raw, tombstones=tombstones, meta={**meta, "live": 3}, applied_seq=7
        )
    with pytest.raises(ValueError, match="16-d"):
        GroupIndex.restore(
            16,
            policy,
            GroupIndex(8, policy).export()[0],
            tombstones=tombstones,
            meta=meta,
            applied_seq=7,
        )


def test_conform_rebuilds_to_the_current_policy() -> None:
    vectors, ids = unit(120), np.arange(1, 121)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=100))
    index.add(ids, vectors)
    assert not index.conform()
    raw, tombstones, meta = index.export()
    exact = GroupIndex.restore(
        16, IndexPolicy(hnsw_threshold=None), raw, tombstones=tombstones, meta=meta, applied_seq=0
    )
    assert exact.conform() and exact.kind == "flat" and len(exact) == 120
    wider = GroupIndex.restore(
        16,
        IndexPolicy(hnsw_threshold=100, hnsw_m=8),
        raw,
        tombstones=tombstones,
        meta=meta,
        applied_seq=0,
    )
    assert wider.conform() and wider.kind == "hnsw" and wider.hnsw_m == 8


def test_changes_count_real_additions_and_removals() -> None:
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=None))
    index.add(np.arange(1, 11), unit(10))
    index.remove(np.array([1, 2, 999]))
    assert index.changes == 12


def test_ef_search_grows_with_the_group_and_covers_k() -> None:
    policy = IndexPolicy(hnsw_ef_search=64)
    assert [policy.ef_search_for(n, 10) for n in (5_000, 100_000, 1_000_000)] == [64, 64, 255]
    assert policy.ef_search_for(5_000, 500) == 500
