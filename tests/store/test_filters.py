"""Filter semantics: our SQL compilation against LangGraph's in-memory evaluation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.store.memory import InMemoryStore

from hippograph.store import FaissSqliteStore, InvalidValueError
from hippograph.store.filters import compile_filter

NS = ("f",)

scalars = st.one_of(
    st.integers(-5, 5),
    st.sampled_from([0.5, 1.5, -2.25]),
    st.sampled_from(["a", "b", "ü", "a.b", "'"]),
    st.none(),
)
values = st.dictionaries(
    st.sampled_from(["x", "y", "z"]),
    st.one_of(scalars, st.dictionaries(st.sampled_from(["p", "q"]), scalars, max_size=2)),
    max_size=3,
)


def _numeric_or_str_ops(draw: Any) -> dict[str, Any]:
    op = draw(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]))
    return {op: draw(st.integers(-5, 5))}


@st.composite
def filters(draw: Any) -> dict[str, Any]:
    key = draw(st.sampled_from(["x", "y", "z"]))
    kind = draw(st.sampled_from(["eq", "ne", "cmp", "nested"]))
    if kind == "eq":
        return {key: draw(scalars)}
    if kind == "ne":
        return {key: {"$ne": draw(scalars)}}
    if kind == "cmp":
        return {key: _numeric_or_str_ops(draw)}
    return {key: {draw(st.sampled_from(["p", "q"])): draw(scalars)}}


def _oracle_ok(docs: list[dict[str, Any]], flt: dict[str, Any]) -> bool:
    """The in-memory store raises on comparisons with missing/non-numeric values and
    treats True == 1; those are the documented differences, so skip such cases."""
    comparisons = ("$gt", "$gte", "$lt", "$lte")
    for key, spec in flt.items():
        compares = isinstance(spec, dict) and any(k in spec for k in comparisons)
        if compares and any(not isinstance(d.get(key), (int, float)) for d in docs):
            return False
    return True


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=st.lists(values, min_size=1, max_size=6), flt=filters())
def test_filters_match_the_inmemory_oracle(
    tmp_path_factory: Any, docs: list[dict[str, Any]], flt: dict[str, Any]
) -> None:
    if not _oracle_ok(docs, flt):
        return
    oracle = InMemoryStore()
    with FaissSqliteStore(":memory:") as ours:
        for i, doc in enumerate(docs):
            oracle.put(NS, str(i), doc)
            ours.put(NS, str(i), doc)
        expected = {r.key for r in oracle.search(NS, filter=flt, limit=100)}
        actual = {r.key for r in ours.search(NS, filter=flt, limit=100)}
    assert actual == expected, (docs, flt)


def test_compiled_sql_binds_every_value() -> None:
    sql, params = compile_filter(
        {"name": "Robert'); DROP TABLE items;--", "n": {"$gt": 3}}, "value"
    )
    assert "DROP" not in sql
    assert "Robert'); DROP TABLE items;--" in params
    assert sql.count("?") == len(params)


@pytest.mark.parametrize(
    "bad",
    [
        {"k": {"$in": [1]}},
        {"k": {"$gt": None}},
        {"k": {"$gt": [1]}},
        {'k"': 1},
        {"k\n": 1},
        {1: 1},
    ],
)
def test_invalid_filters_raise(bad: dict[Any, Any]) -> None:
    with pytest.raises(InvalidValueError):
        compile_filter(bad, "value")


def test_type_aware_comparisons() -> None:
    with FaissSqliteStore(":memory:") as store:
        store.put(NS, "bool", {"v": True})
        store.put(NS, "one", {"v": 1})
        store.put(NS, "str", {"v": "10"})
        store.put(NS, "num", {"v": 10})
        assert [r.key for r in store.search(NS, filter={"v": True})] == ["bool"]
        assert [r.key for r in store.search(NS, filter={"v": 1})] == ["one"]
        assert {r.key for r in store.search(NS, filter={"v": {"$gt": 5}})} == {"num"}
        assert {r.key for r in store.search(NS, filter={"v": {"$gt": "1"}})} == {"str"}


# ------------------------------------------- LangGraph's filter contract (issue 13, item 8)

CONTRACT_BACKENDS = ["faiss_sqlite", "postgres"]


@pytest.mark.parametrize("backend", CONTRACT_BACKENDS)
def test_non_finite_bounds_compare_like_floats(make_store: Any) -> None:
    """`{"$lt": inf}` matches every number, as in LangGraph's stores (it was refused)."""
    store = make_store(index=False)
    for key, price in (("cheap", 10), ("dear", 30), ("neg", -10)):
        store.put(NS, key, {"price": price})
    store.put(NS, "text", {"price": "n/a"})
    inf, nan = float("inf"), float("nan")

    def found(spec: Any) -> set[str]:
        return {r.key for r in store.search(NS, filter={"price": spec}, limit=10)}

    numbers = {"cheap", "dear", "neg"}
    assert found({"$lt": inf}) == found({"$lte": inf}) == numbers
    assert found({"$gt": -inf}) == found({"$gte": -inf}) == numbers
    assert found({"$gt": inf}) == found({"$lt": -inf}) == set()
    assert found({"$eq": nan}) == found(nan) == found({"$gt": nan}) == found(inf) == set()
    assert found({"$ne": nan}) == {*numbers, "text"}
    assert found({"$lt": 10**100}) == numbers  # beyond 64-bit integers
    assert found({"$gt": -(10**30), "$lt": 0}) == {"neg"}


@pytest.mark.parametrize("backend", CONTRACT_BACKENDS)
def test_dotted_keys_reach_nested_values(make_store: Any) -> None:
    """`{"user.access-level": v}` matches `{"user": {"access-level": v}}` (as SqliteStore);
    a literal top-level key `"a.b"` still wins where an item has one (as InMemoryStore)."""
    store = make_store(index=False)
    store.put(NS, "hyphen", {"access-level": "public", "user": {"access-level": "nested"}})
    store.put(NS, "digit", {"123abc": "ok", "user": {"123abc": "ok2", "n": 5}})
    store.put(NS, "literal", {"user.n": 7, "user": {"n": 5}})

    def found(flt: dict[str, Any]) -> list[str]:
        return sorted(r.key for r in store.search(NS, filter=flt, limit=10))

    assert found({"access-level": "public"}) == ["hyphen"]
    assert found({"user.access-level": "nested"}) == ["hyphen"]
    assert found({"123abc": "ok"}) == ["digit"]
    assert found({"user.123abc": "ok2"}) == ["digit"]
    assert found({"user.123abc": {"$ne": "ok2"}}) == ["hyphen", "literal"]
    assert found({"user.n": 5}) == ["digit"]  # "literal" has a top-level "user.n": 7
    assert found({"user.n": {"$gt": 6}}) == ["literal"]
    assert found({"user.n": {"$gte": 5}}) == ["digit", "literal"]
    assert found({"user": {"n": 5}}) == ["digit", "literal"]


MALICIOUS_KEYS = [
    "access') = 'public' OR '1'='1' OR json_extract(value, '$.",
    "x') OR 1=1 --",
    'quote"key',
    "$.content",
    "a..b",
    ".a",
    "",
    "a b",
    "k\n",
]


@pytest.mark.parametrize("backend", CONTRACT_BACKENDS)
@pytest.mark.parametrize("key", MALICIOUS_KEYS)
def test_malicious_filter_keys_raise_like_upstream(make_store: Any, key: str) -> None:
    store = make_store(index=False)
    store.put(NS, "private", {"access": "private", "password": "123"})
    for flt in ({key: "dummy"}, {key: {"$eq": "dummy"}}, {key: {"$gt": 1}}):
        with pytest.raises(ValueError, match="Invalid filter key"):
            store.search(NS, filter=flt)
    assert store.get(NS, "private") is not None


def test_unicode_and_upstream_keys_are_valid() -> None:
    for key in ("category", "user.access-level", "123abc", "café", "a_b.c-d.0"):
        compile_filter({key: 1}, "value")
