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
    assert index.kind == "flat" and index.pending() == "promote"  # built in the background
    assert index.maintain() == 1 and index.kind == "hnsw"
    allowed = np.array([12, 50, 51, 299, 305, 999_999])
    query = unit(1, seed=9)[0]
    _, found = index.search(query, 3, allowed)
    mask = np.isin(ids, allowed)
    assert found.tolist() == brute(vectors[mask], ids[mask], query, 3)


def test_hnsw_tombstones_then_rebuild_to_flat() -> None:
    vectors, ids = unit(100), np.arange(1, 101)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=60, rebuild_ratio=0.3))
    index.add(ids, vectors)
    index.maintain()
    assert index.kind == "hnsw"
    index.remove(ids[:20])
    assert index.tombstones == 20 and len(index) == 80 and index.pending() is None
    live = set(index.search(unit(1, seed=2)[0], 100)[1].tolist())
    assert live == set(ids[20:].tolist())
    index.remove(ids[20:40])  # 40 tombstones > 30%: a rebuild from 60 live vectors is due
    assert index.pending() == "rebuild"
    assert set(index.search(unit(1, seed=2)[0], 100)[1].tolist()) == set(ids[40:].tolist())
    index.maintain()
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
    index.maintain()
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
    index.maintain()
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


def _exact_top(index: GroupIndex, truth: dict[int, np.ndarray], query: np.ndarray, k: int) -> None:
    """`index` holds exactly `truth` and finds its exact top `k` (a check for small groups,
    where HNSW with a wide beam is exact too)."""
    ids = np.array(sorted(truth))
    vectors = np.stack([truth[i] for i in ids])
    live_ids, live_vectors = index.live()
    assert live_ids.tolist() == ids.tolist() and np.array_equal(live_vectors, vectors)
    assert index.search(query, k)[1].tolist() == brute(vectors, ids, query, k)


def test_hnsw_groups_take_changes_in_an_exact_delta_until_it_is_merged() -> None:
    policy = IndexPolicy(hnsw_threshold=50, delta_limit=30, hnsw_ef_search=200)
    vectors = unit(200, seed=11)
    truth = {i + 1: vectors[i] for i in range(100)}
    index = GroupIndex(16, policy)
    index.add(np.arange(1, 101), vectors[:100])
    index.maintain()
    graph = index.generation
    index.add(np.arange(101, 121), vectors[100:120])
    truth.update({i + 1: vectors[i] for i in range(100, 120)})
    index.remove(np.array([5, 110]))  # one from the graph (tombstone), one from the delta
    del truth[5], truth[110]
    assert index.kind == "hnsw" and index.delta_size == 19 and index.tombstones == 1
    assert index.generation == graph and index.pending() is None  # nothing rebuilt yet
    query = unit(1, seed=12)[0]
    _exact_top(index, truth, query, 10)
    index.add(np.arange(121, 135), vectors[120:134])
    truth.update({i + 1: vectors[i] for i in range(120, 134)})
    assert index.pending() == "merge"
    index.maintain()
    assert index.delta_size == 0 and index.generation > graph and len(index) == len(truth)
    _exact_top(index, truth, query, 10)


def test_install_reconciles_changes_made_while_a_build_ran() -> None:
    policy = IndexPolicy(hnsw_threshold=50, hnsw_ef_search=200)
    vectors = unit(120, seed=21)
    index = GroupIndex(16, policy)
    index.add(np.arange(1, 81), vectors[:80])
    job = index.plan()
    assert job is not None and job.reason == "promote"
    index.add(np.arange(81, 91), vectors[80:90])  # while the graph is being built
    index.remove(np.array([2, 85]))
    result = job.run()
    assert result is not None and index.install(result)
    truth = {i + 1: vectors[i] for i in range(90) if i + 1 not in (2, 85)}
    assert index.kind == "hnsw" and index.tombstones == 1 and index.delta_size == 9
    _exact_top(index, truth, unit(1, seed=22)[0], 10)
    stale = job.run()  # planned against a main index that has been replaced since
    assert stale is not None and not index.install(stale)


def test_a_pinned_flat_index_keeps_its_arrays_still_until_unpinned() -> None:
    vectors = unit(60, seed=31)
    index = GroupIndex(16, IndexPolicy(hnsw_threshold=None))
    index.add(np.arange(1, 41), vectors[:40])
    with index.exporting() as (raw, tombstones, meta):
        before = faiss_bytes(raw)
        index.add(np.arange(41, 51), vectors[40:50])
        index.remove(np.array([3, 45]))
        assert faiss_bytes(raw) == before  # what is being written does not move
        assert meta == {"kind": "flat", "max_id": 40, "hnsw_m": 32, "live": 40}
        assert len(tombstones) == 0 and index.tombstones == 1 and index.delta_size == 9
        truth = {i + 1: vectors[i] for i in range(50) if i + 1 not in (3, 45)}
        _exact_top(index, truth, unit(1, seed=32)[0], 5)
    index.add(np.arange(51, 53), vectors[50:52])  # unpinned: folded back into one flat index
    truth.update({51: vectors[50], 52: vectors[51]})
    assert index.tombstones == 0 and index.delta_size == 0
    _exact_top(index, truth, unit(1, seed=32)[0], 5)


def faiss_bytes(index: object) -> bytes:
    import faiss

    return bytes(faiss.serialize_index(index))
