"""`json_rows.insert` writes exactly what `executemany` writes: same rows, same types, same ids."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hippograph.store import json_rows

COLUMNS = ("a", "b", "c")

texts = st.text(max_size=12)  # any Unicode: NUL, line separators, emoji, lone combining marks
values = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), texts)


@st.composite
def tables(draw: Any) -> tuple[list[tuple[Any, ...]], list[bytes] | None]:
    """Rows whose columns are constant, counting up, or anything — the three ways `insert`
    sends a column — with or without a BLOB per row."""
    n = draw(st.integers(1, 30))
    columns = []
    for _ in COLUMNS:
        kind = draw(st.sampled_from(["fixed", "counter", "any"]))
        if kind == "fixed":
            columns.append([draw(values)] * n)
        elif kind == "counter":
            start = draw(st.integers(-5, 10**9))
            columns.append(list(range(start, start + n)))
        else:
            columns.append(draw(st.lists(values, min_size=n, max_size=n)))
    width = draw(st.integers(0, 6))
    blobs = draw(
        st.one_of(
            st.none(), st.lists(st.binary(min_size=width, max_size=width), min_size=n, max_size=n)
        )
    )
    return list(zip(*columns, strict=True)), blobs


def stored(rows: list[tuple[Any, ...]], blobs: list[bytes] | None, *, each: bool) -> list[Any]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, a, b, c, v BLOB)")
    names = [*COLUMNS, "v"] if blobs is not None else list(COLUMNS)
    if each:
        marks = ",".join("?" * len(names))
        data = rows if blobs is None else [(*r, b) for r, b in zip(rows, blobs, strict=True)]
        conn.executemany(f"INSERT INTO t ({', '.join(names)}) VALUES ({marks})", data)
    else:
        json_rows.insert(
            conn, "t", COLUMNS, rows, blob_column="v" if blobs is not None else None, blobs=blobs
        )
    found = conn.execute(
        "SELECT id, a, typeof(a), b, typeof(b), c, typeof(c), v, typeof(v) FROM t"
    ).fetchall()
    conn.close()
    return found


@settings(max_examples=300, deadline=None)
@given(tables())
def test_rows_are_stored_as_executemany_stores_them(table: Any) -> None:
    rows, blobs = table
    assert stored(rows, blobs, each=False) == stored(rows, blobs, each=True)


@settings(max_examples=100, deadline=None)
@given(tables())
def test_a_batch_too_large_for_one_statement_is_split_not_refused(table: Any) -> None:
    rows, blobs = table
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_rows, "MAX_JSON_CHARS", 16)
        assert stored(rows, blobs, each=False) == stored(rows, blobs, each=True)


def test_blobs_of_different_lengths_are_stored_as_given() -> None:
    rows = [(1, "x", None), (2, "y", None)]
    blobs = [b"\x00\x01", b"\x02"]
    assert stored(rows, blobs, each=False) == stored(rows, blobs, each=True)
