"""Stateful property tests: random operation sequences on `FaissSqliteStore` and on LangGraph's
`InMemoryStore` (the oracle) give the same results, and a reopened store equals the one
that was closed.

Searches are compared as result sets with their scores (a deterministic embedder, hybrid
search off, limits above the data size), since ties may be ordered differently. The
example budget comes from `HIPPOGRAPH_HYPOTHESIS_PROFILE` (see `conftest.py`).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import hypothesis.strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from langgraph.store.base import GetOp, ListNamespacesOp, MatchCondition, PutOp

from hippograph.store import FaissSqliteStore
from tests.reliability.conftest import PROFILE
from tests.reliability.oracle import DIMS, Oracle, WordEmbeddings, run, scored, snapshot

LABELS = st.sampled_from(["a", "b", "ab", "a b", "*", "%", "_", "ä", "A", "[x]", "?"])
NAMESPACES = st.lists(LABELS, min_size=1, max_size=3).map(tuple)
KEYS = st.sampled_from(["k1", "k2", "k3", "k 4", "%", "*", "é"])
WORDS = st.sampled_from(["tea", "coffee", "python", "rust", "paris", "lisbon", "cat", "dog"])
TEXT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
NUMBER = st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 2)))
VALUES = st.fixed_dictionaries(
    {"text": TEXT, "n": NUMBER, "s": st.sampled_from(["x", "y", "xy", "X"]), "b": st.booleans()},
    optional={
        "tags": st.lists(st.sampled_from(["t1", "t2"]), max_size=2),
        "meta": st.fixed_dictionaries({"x": st.integers(0, 2)}),
        "other": TEXT,
        "nothing": st.none(),
    },
).filter(lambda value: value.get("other") != value["text"])  # see tests/reliability/oracle.py
INDEX = st.sampled_from([None, False, ["text"], ["other"], ["text", "other"]])
FILTERS = st.one_of(
    st.none(),
    st.builds(lambda s: {"s": s}, st.sampled_from(["x", "y", "xy", "X"])),
    st.builds(lambda b: {"b": b}, st.booleans()),
    st.builds(lambda n: {"n": n}, NUMBER),
    st.builds(
        lambda op, n: {"n": {op: n}}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), NUMBER
    ),
    st.builds(lambda lo, hi: {"n": {"$gte": lo, "$lt": hi}}, NUMBER, NUMBER),
    st.builds(lambda s: {"s": {"$ne": s}}, st.sampled_from(["x", "y"])),
    st.builds(lambda t: {"tags": t}, st.lists(st.sampled_from(["t1", "t2"]), max_size=2)),
    st.builds(lambda x: {"meta": {"x": x}}, st.integers(0, 2)),
    st.just({"nothing": None}),
    st.builds(lambda s, b: {"s": s, "b": b}, st.sampled_from(["x", "y"]), st.booleans()),
)
BIG = 10_000
ROOTS = [(label,) for label in ["a", "b", "ab", "a b", "*", "%", "_", "ä", "A", "[x]", "?"]]


class StoreMachine(RuleBasedStateMachine):
    """Drives our store and the oracle with the same operations and compares every result."""

    written = Bundle("written")

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="hg-prop-")
        self.path = f"{self.directory}/store.db"
        self.embeddings = WordEmbeddings()
        self.index = {"dims": DIMS, "embed": self.embeddings, "fields": ["text"]}
        self.ours = self._open()
        self.oracle = Oracle(index=self.index)

    def _open(self) -> FaissSqliteStore:
        return FaissSqliteStore(self.path, index=self.index, hybrid=None, durability="normal")

    def teardown(self) -> None:
        self.ours.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ------------------------------------------------------------------ writes

    @rule(target=written, namespace=NAMESPACES, key=KEYS, value=VALUES, index=INDEX)
    def put(self, namespace, key, value, index) -> tuple:
        op = PutOp(namespace, key, value, index=index)
        assert _same_outcome(run(self.ours, [op]), run(self.oracle, [op]))
        return (namespace, key)

    @rule(item=written)
    def delete(self, item) -> None:
        op = PutOp(item[0], item[1], None)
        assert _same_outcome(run(self.ours, [op]), run(self.oracle, [op]))

    @rule(
        writes=st.lists(st.tuples(NAMESPACES, KEYS, st.one_of(st.none(), VALUES)), max_size=6),
        reads=st.lists(st.tuples(NAMESPACES, KEYS), max_size=3),
    )
    def mixed_batch(self, writes, reads) -> None:
        ops: list[Any] = [GetOp(ns, key) for ns, key in reads]
        ops += [PutOp(ns, key, value) for ns, key, value in writes]
        ops += [GetOp(ns, key) for ns, key in reads]
        ours, oracle = run(self.ours, ops), run(self.oracle, ops)
        assert [_item(r) for r in ours] == [_item(r) for r in oracle]

    # ------------------------------------------------------------------ reads

    @rule(item=written)
    def get(self, item) -> None:
        assert _item(self.ours.get(*item)) == _item(self.oracle.get(*item))

    @rule(prefix=st.lists(LABELS, max_size=2).map(tuple), filter=FILTERS)
    def search_filter(self, prefix, filter) -> None:
        ours = self.ours.search(prefix, filter=filter, limit=BIG)
        oracle = self.oracle.search(prefix, filter=filter, limit=BIG)
        assert _values(ours) == _values(oracle)

    @rule(prefix=st.lists(LABELS, max_size=2).map(tuple), query=TEXT, filter=FILTERS)
    def search_query(self, prefix, query, filter) -> None:
        ours = scored(self.ours.search(prefix, query=query, filter=filter, limit=BIG))
        oracle = scored(self.oracle.search(prefix, query=query, filter=filter, limit=BIG))
        assert ours.keys() == oracle.keys()
        for key, score in ours.items():
            other = oracle[key]
            assert (score is None) == (other is None), key
            if score is not None and other is not None:
                assert abs(score - other) < 1e-4, (key, score, other)

    @rule(
        prefix=st.one_of(st.none(), st.lists(LABELS, max_size=2).map(tuple)),
        suffix=st.one_of(st.none(), st.lists(LABELS, min_size=1, max_size=2).map(tuple)),
        max_depth=st.one_of(st.none(), st.integers(1, 3)),
        limit=st.integers(1, 20),
        offset=st.integers(0, 5),
    )
    def list_namespaces(self, prefix, suffix, max_depth, limit, offset) -> None:
        conditions = tuple(
            MatchCondition(kind, path)
            for kind, path in (("prefix", prefix), ("suffix", suffix))
            if path is not None
        )
        op = ListNamespacesOp(conditions or None, max_depth, limit, offset)
        assert run(self.ours, [op]) == run(self.oracle, [op])

    @rule(prefix=st.lists(LABELS, max_size=2).map(tuple), limit=st.integers(1, 4))
    def pages_cover_the_result(self, prefix, limit) -> None:
        """Paging through a filter-only search returns every item exactly once."""
        everything = self.ours.search(prefix, limit=BIG)
        pages = []
        for offset in range(0, len(everything) + limit, limit):
            pages += self.ours.search(prefix, limit=limit, offset=offset)
        assert [(i.namespace, i.key) for i in pages] == [(i.namespace, i.key) for i in everything]

    # ------------------------------------------------------------------ durability

    @rule(query=TEXT)
    def reopen(self, query) -> None:
        """Close and reopen: same items, same namespaces, same scores, consistent indexes."""
        before = snapshot(self.ours, ROOTS)
        namespaces = self.ours.list_namespaces(limit=BIG)
        scores = scored(self.ours.search((), query=query, limit=BIG))
        self.ours.close()
        self.ours = self._open()
        assert snapshot(self.ours, ROOTS) == before
        assert self.ours.list_namespaces(limit=BIG) == namespaces
        assert scored(self.ours.search((), query=query, limit=BIG)) == scores
        report = self.ours.verify()
        assert report.ok, report.problems

    @invariant()
    def same_items(self) -> None:
        assert snapshot(self.ours, ROOTS) == snapshot(self.oracle, ROOTS)


def _item(result: Any) -> Any:
    """What must agree between stores for a get result (timestamps differ by nature)."""
    if result is None or isinstance(result, Exception):
        return type(result).__name__ if isinstance(result, Exception) else None
    return (tuple(result.namespace), result.key, result.value)


def _values(results: Any) -> dict:
    return {(tuple(r.namespace), r.key): r.value for r in results}


def _same_outcome(ours: list, oracle: list) -> bool:
    """Both succeeded, or both refused the write."""
    return isinstance(ours[0], Exception) == isinstance(oracle[0], Exception)


StoreMachine.TestCase.settings = PROFILE
TestStoreAgainstOracle = StoreMachine.TestCase
