"""Issue 13.2: a user's hybrid ranking depends on that user's memories only, and so does its cost.

Before schema 4, BM25 came from one FTS5 table over every tenant: user A's scores moved when
user B wrote, and A's search read B's postings. Now each group (user) has its own postings
and statistics.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import PutOp

from hippograph.store import FaissSqliteStore, HybridSearch, LocalEmbeddings

ALICE = ("memories", "alice")
ALICE_NOTES = [
    "I adopted a golden retriever named Max",
    "My sister lives in Paris and paints",
    "I work with NeoVim every day",
    "We went hiking near Lisbon in May",
    "The support ticket number is QX-4471",
    "I am learning to paint landscapes",
    "Max loves the beach",
    "I bake sourdough bread on Sundays",
]
QUERIES = ["golden retriever", "painting in Paris", "ticket QX-4471", "hiking trip", "bread"]
OTHER_NOTES = [
    "Bob paints golden sunsets every weekend",
    "Bob's retriever puppy chews paint brushes",
    "A hiking trip to Paris, with bread",
    "ticket ticket ticket for the golden gate",
]


def ranking(store: FaissSqliteStore, namespace: tuple[str, ...] = ALICE) -> list[Any]:
    return [
        [(hit.key, hit.score) for hit in store.search(namespace, query=query, limit=8)]
        for query in QUERIES
    ]


@pytest.fixture
def store(tmp_path: Path, local_embeddings: LocalEmbeddings) -> Iterator[FaissSqliteStore]:
    index = {"embed": local_embeddings, "fields": ["content"]}
    with FaissSqliteStore(str(tmp_path / "t.db"), index=index, hybrid=HybridSearch()) as opened:  # type: ignore[arg-type]
        yield opened


def test_another_users_writes_do_not_move_a_users_scores(store: FaissSqliteStore) -> None:
    for n, text in enumerate(ALICE_NOTES):
        store.put(ALICE, f"a{n}", {"content": text})
    before = ranking(store)
    bob = ("memories", "bob")
    store.batch(
        [PutOp(bob, f"b{n}", {"content": f"{OTHER_NOTES[n % 4]} #{n}"}) for n in range(200)]
    )
    assert store.count(("memories", "bob")) == 200
    after = ranking(store)
    assert after == before  # same keys, same order, identical scores


@contextmanager
def counting_sqlite_steps(store: FaissSqliteStore) -> Iterator[list[int]]:
    """Count the SQLite virtual-machine steps (in units of 100) of the reads made inside."""
    steps = [0]
    original = store._conns.read

    @contextmanager
    def read() -> Iterator[sqlite3.Connection]:
        with original() as conn:

            def tick() -> int:
                steps[0] += 1
                return 0

            conn.set_progress_handler(tick, 100)
            try:
                yield conn
            finally:
                conn.set_progress_handler(None, 100)

    store._conns.read = read  # type: ignore[method-assign]
    try:
        yield steps
    finally:
        store._conns.read = original  # type: ignore[method-assign]


def _fill(store: FaissSqliteStore, users: int, per_user: int) -> None:
    notes = [*ALICE_NOTES, *OTHER_NOTES]
    for user in range(users):
        namespace = ("memories", f"user{user}")
        store.batch(
            [
                PutOp(namespace, f"m{n}", {"content": f"{notes[n % len(notes)]} ({n})"})
                for n in range(per_user)
            ]
        )


def test_search_cost_does_not_grow_with_other_users(
    tmp_path: Path, local_embeddings: LocalEmbeddings
) -> None:
    """SQLite work of user0's hybrid searches with 1 user vs 100 users of the same size."""
    index = {"embed": local_embeddings, "fields": ["content"]}
    steps = {}
    for users in (1, 100):
        path = str(tmp_path / f"{users}.db")
        with FaissSqliteStore(path, index=index, hybrid=HybridSearch()) as store:  # type: ignore[arg-type]
            _fill(store, users, 60)
            ranking(store, ("memories", "user0"))  # warm: queries embedded, index loaded
            with counting_sqlite_steps(store) as counted:
                ranking(store, ("memories", "user0"))
            steps[users] = counted[0]
    print(f"SQLite step units, user0 hybrid searches: 1 user {steps[1]}, 100 users {steps[100]}")
    assert steps[1] > 0
    assert steps[100] <= 1.5 * steps[1], steps  # B-tree depth may add a little, no more
