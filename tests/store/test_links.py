"""Links between items (`store/links.py`, `store/link_sql.py`, `store/pg_links.py`): stored
beside the items, audited, isolated per namespace, removed with either end, and followed by
search — the same on both back ends (`FaissSqliteStore`, `PostgresMemoryStore`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from langgraph.store.base import InvalidNamespaceError, PutOp, SearchItem

from hippograph.store import InvalidValueError, provenance
from hippograph.store.extras import ExtendedStore
from hippograph.store.links import (
    LinkedSearchItem,
    LinkEndpointError,
    LinkExpansion,
    LinkOp,
    ListLinksOp,
    UnlinkOp,
    link_expansion,
)
from hippograph.store.schema import SCHEMA_VERSION

ALICE = ("memories", "alice")
BOB = ("memories", "bob")

FACTS = {
    "sweden": "Moved here from Sweden four years ago",
    "necklace": "My grandma gave me a silver necklace when I was ten",
    "paint": "I love painting sunsets by the lake",
    "cats": "I have two cats named Luna and Oliver",
    "job": "Works as a nurse at the city hospital",
}


class Raw:
    """Writes that bypass the store, in the back end's own SQL (what another client, a
    script or an operator could do)."""

    def __init__(self, backend: str, where: str) -> None:
        self.where = where
        self.postgres = backend == "postgres"

    def execute(self, sql: str) -> None:
        if self.postgres:
            import psycopg  # the postgres extra: not installed for the lowest-versions job

            with psycopg.connect(self.where, autocommit=True) as conn:
                conn.execute(sql)  # type: ignore[arg-type]
            return
        conn = sqlite3.connect(self.where)
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    @property
    def integrity_error(self) -> type[Exception]:
        if self.postgres:
            import psycopg

            return psycopg.errors.ForeignKeyViolation
        return sqlite3.IntegrityError

    def items_table(self) -> str:
        return "store" if self.postgres else "items"

    def expire(self, key: str) -> None:
        past = "now() - interval '1 second'" if self.postgres else "0"
        self.execute(f"UPDATE {self.items_table()} SET expires_at = {past} WHERE key = '{key}'")

    def link_across_namespaces(self) -> None:
        table = "hippograph_links" if self.postgres else "links"
        self.execute(
            f"INSERT INTO {table} (prefix, src, dst, relation, weight, created_at) "
            "VALUES ('memories.alice', 'sweden', 'bob-job', 'r', 1, "
            f"{'now()' if self.postgres else chr(39) + 'x' + chr(39)})"
        )

    def delete_item(self, prefix: str, key: str) -> None:
        self.execute(
            f"DELETE FROM {self.items_table()} WHERE prefix = '{prefix}' AND key = '{key}'"
        )


Opener = Callable[..., ExtendedStore]


def rows(path: str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "links.db")


@pytest.fixture
def open_linked(backend: str, open_store: Any, request: pytest.FixtureRequest) -> Opener:
    """Factory `open_linked(embed=None, **kwargs)` of stores of the current back end on one
    location, indexing `content` (PostgreSQL searches by vectors only: `hybrid` is ignored)."""
    if backend == "sqlite":
        return cast(Opener, open_store)
    open_pg = request.getfixturevalue("open_pg")

    def factory(embed: Any = None, **kwargs: Any) -> ExtendedStore:
        kwargs.pop("hybrid", None)
        return cast(ExtendedStore, open_pg(embed, **kwargs))

    return factory


@pytest.fixture
def raw(backend: str, db: str, request: pytest.FixtureRequest) -> Raw:
    return Raw(backend, request.getfixturevalue("pg_url") if backend == "postgres" else db)


@pytest.fixture
def store(open_linked: Opener) -> ExtendedStore:
    store = open_linked()
    store.batch([PutOp(ALICE, key, {"content": text}) for key, text in FACTS.items()])
    return store


# ----------------------------------------------------------------- storing and auditing


def test_link_list_unlink_with_history_and_provenance(store: ExtendedStore) -> None:
    with provenance({"origin": "test", "thread_id": None, "message_ids": []}):
        made = store.link(ALICE, "sweden", "necklace", "entity:Sweden", weight=0.8)
    assert (made.src, made.dst, made.relation, made.weight) == (
        "sweden",
        "necklace",
        "entity:Sweden",
        0.8,
    )
    store.link(ALICE, "paint", "sweden")
    assert [(x.src, x.dst, x.relation) for x in store.links(ALICE, "sweden")] == [
        ("sweden", "necklace", "entity:Sweden"),
        ("paint", "sweden", "related"),
    ]
    assert [x.dst for x in store.links(ALICE, "necklace")] == ["necklace"]
    assert len(store.links(("memories",))) == 2  # a prefix lists every namespace under it

    assert store.link(ALICE, "sweden", "necklace", "entity:Sweden", weight=0.8) == made
    store.link(ALICE, "sweden", "necklace", "entity:Sweden", weight=0.5)  # a new weight
    removed = store.unlink(ALICE, "paint", "sweden")
    assert [(x.src, x.relation) for x in removed] == [("paint", "related")]
    assert store.unlink(ALICE, "paint", "sweden") == []

    history = [(h["op"], h["key"], h["old"], h["new"]) for h in store.history(ALICE)[:4]]
    assert history == [
        ("UNLINK", "paint", {"dst": "sweden", "relation": "related", "weight": 1.0}, None),
        (
            "LINK",
            "sweden",
            {"dst": "necklace", "relation": "entity:Sweden", "weight": 0.8},
            {"dst": "necklace", "relation": "entity:Sweden", "weight": 0.5},
        ),
        ("LINK", "paint", None, {"dst": "sweden", "relation": "related", "weight": 1.0}),
        ("LINK", "sweden", None, {"dst": "necklace", "relation": "entity:Sweden", "weight": 0.8}),
    ]  # linking again with the same weight changed nothing and recorded nothing
    assert store.history(ALICE)[3]["source"] == {
        "origin": "test",
        "thread_id": None,
        "message_ids": [],
    }


def test_an_item_and_its_links_commit_in_one_batch(store: ExtendedStore) -> None:
    results = store.batch(
        [
            PutOp(ALICE, "trip", {"content": "Visited Stockholm, the capital of Sweden"}),
            LinkOp(ALICE, "trip", "sweden", "entity:Sweden"),
            LinkOp(ALICE, "trip", "ghost"),
        ]
    )
    assert results[0] is None and results[1].dst == "sweden"
    assert results[2] is None  # a missing end: skipped, nothing written for it
    with pytest.raises(InvalidValueError):  # a bad op anywhere: the whole batch writes nothing
        store.batch([PutOp(ALICE, "late", {"content": "x"}), LinkOp(ALICE, "late", "trip", "")])
    assert store.get(ALICE, "late") is None
    assert [x.src for x in store.links(ALICE)] == ["trip"]


@pytest.mark.parametrize(
    ("op", "error"),
    [
        (LinkOp(ALICE, "sweden", "sweden"), InvalidValueError),
        (LinkOp(ALICE, "sweden", "paint", "  "), InvalidValueError),
        (LinkOp(ALICE, "sweden", "paint", "x" * 201), InvalidValueError),
        (LinkOp(ALICE, "sweden", "paint", "r", 1.5), InvalidValueError),
        (LinkOp(ALICE, "sweden", "paint", "r", float("nan")), InvalidValueError),
        (LinkOp(ALICE, "sweden", "paint", "r", True), InvalidValueError),
        (LinkOp(ALICE, "sweden", 7), InvalidValueError),  # type: ignore[arg-type]
        (LinkOp(("memories", "a.b"), "sweden", "paint"), InvalidNamespaceError),
        (LinkOp((), "sweden", "paint"), InvalidNamespaceError),
        (UnlinkOp(ALICE, "sweden", "paint", ""), InvalidValueError),
        (ListLinksOp(ALICE, limit=-1), InvalidValueError),
    ],
)
def test_bad_link_ops_are_rejected_before_any_write(store: ExtendedStore, op, error) -> None:
    before = store.history(limit=1000)
    with pytest.raises(error):
        store.batch([op])
    assert store.history(limit=1000) == before


def test_linking_a_missing_item_raises_and_writes_nothing(store: ExtendedStore) -> None:
    with pytest.raises(LinkEndpointError, match="ghost"):
        store.link(ALICE, "sweden", "ghost")
    assert store.links(ALICE) == []


# ----------------------------------------------------------------- isolation


def test_a_link_never_joins_two_namespaces(store: ExtendedStore, raw: Raw) -> None:
    store.put(BOB, "bob-job", {"content": "Works as a nurse at the city hospital in Sweden"})
    with pytest.raises(LinkEndpointError):
        store.link(ALICE, "sweden", "bob-job")  # bob's key is not an item of alice's namespace
    store.put(BOB, "sweden", {"content": "Bob never went to Sweden"})  # same key, other user
    store.put(BOB, "cats", {"content": "Bob has cats too"})
    store.link(BOB, "sweden", "cats")
    store.link(ALICE, "sweden", "necklace")
    assert [x.namespace for x in store.links(ALICE, "sweden")] == [ALICE]
    assert [x.namespace for x in store.links(BOB, "sweden")] == [BOB]
    with pytest.raises(raw.integrity_error):  # structural: the database itself refuses
        raw.link_across_namespaces()

    with link_expansion(LinkExpansion(seeds=5, decay=1.0)):
        hits = store.search(ALICE, query="Sweden", limit=10)
        bob_hits = store.search(BOB, query="Sweden", limit=10)
    assert {h.namespace for h in hits} == {ALICE}
    assert {h.namespace for h in bob_hits} == {BOB}
    assert {h.key for h in bob_hits} == {"bob-job", "sweden", "cats"}


# ----------------------------------------------------------------- deletion, update, TTL


def test_deleting_an_item_removes_its_links_both_ways_in_one_transaction(
    store: ExtendedStore,
) -> None:
    store.link(ALICE, "sweden", "necklace", "a")
    store.link(ALICE, "paint", "sweden", "b")
    store.link(ALICE, "paint", "cats", "c")
    with provenance({"origin": "cli"}):
        store.delete(ALICE, "sweden")
    assert [(x.src, x.dst) for x in store.links(ALICE)] == [("paint", "cats")]
    recent = store.history(ALICE)[:3]
    assert (recent[0]["op"], recent[0]["key"]) == ("DELETE", "sweden")
    assert {(h["op"], h["key"], (h["old"] or {}).get("dst")) for h in recent[1:]} == {
        ("UNLINK", "sweden", "necklace"),
        ("UNLINK", "paint", "sweden"),
    }
    assert all(h["source"] == {"origin": "cli"} for h in recent)
    assert len({h["at"] for h in recent}) == 1  # one transaction, one time


def test_updating_an_item_keeps_its_links(store: ExtendedStore) -> None:
    store.link(ALICE, "job", "cats")
    store.put(ALICE, "job", {"content": "Works as a head nurse at the city hospital"})
    assert [(x.src, x.dst) for x in store.links(ALICE)] == [("job", "cats")]


def test_expired_items_lose_their_links_when_swept(open_linked: Opener, raw: Raw) -> None:
    store = open_linked()
    store.put(ALICE, "short", {"content": "Lunch at noon today"}, ttl=1)
    store.put(ALICE, "long", {"content": "Lives in Lisbon"})
    store.link(ALICE, "long", "short")
    raw.expire("short")
    assert store.sweep_ttl() == 1
    assert store.links(ALICE) == []
    assert store.history(ALICE)[1]["op"] == "UNLINK"


def test_a_raw_delete_of_items_cascades_to_links(store: ExtendedStore, raw: Raw) -> None:
    """Foreign keys: even a writer bypassing the store (e.g. an erasure script deleting
    item rows, or a plain `PostgresStore` client) cannot leave a link to a missing item."""
    store.link(ALICE, "sweden", "necklace")
    raw.delete_item("memories.alice", "necklace")
    assert store.links(ALICE) == []


# ----------------------------------------------------------------- search expansion


def test_expansion_is_off_by_default_and_marks_what_it_adds(store: ExtendedStore) -> None:
    store.link(ALICE, "necklace", "sweden", "entity:grandma's country")
    plain = store.search(ALICE, query="a gift from my grandmother", limit=2)
    assert plain[0].key == "necklace"
    assert not any(isinstance(h, LinkedSearchItem) for h in plain)

    with link_expansion(LinkExpansion(decay=0.5)):
        expanded = store.search(ALICE, query="a gift from my grandmother", limit=2)
    assert [h.key for h in expanded] == ["necklace", "sweden"]
    reached = expanded[1]
    assert isinstance(reached, LinkedSearchItem) and isinstance(reached, SearchItem)
    assert reached.via == {
        "key": "necklace",
        "relation": "entity:grandma's country",
        "weight": 1.0,
        "hops": 1,
    }
    assert reached.score == pytest.approx(expanded[0].score * 0.5, rel=1e-6)
    assert reached.dict()["via"]["key"] == "necklace"
    assert reached.value == {"content": FACTS["sweden"]}  # the value is untouched


def test_expansion_decays_per_hop_and_weighs_links(open_linked: Opener) -> None:
    store = open_linked(expand_links=LinkExpansion(hops=2, decay=0.5, seeds=1))
    chain = {
        "a": "Caroline adopted a puppy called Max",
        "b": "Quarterly tax forms are due in April",
        "c": "The bakery on Elm street sells rye bread",
        "d": "Ski season opens in December",
    }
    store.batch([PutOp(ALICE, key, {"content": text}) for key, text in chain.items()])
    store.link(ALICE, "a", "b", weight=0.8)
    store.link(ALICE, "c", "b")  # followed backwards: links are walked both ways
    store.link(ALICE, "c", "d")  # three hops from the seed: out of reach
    hits = store.search(ALICE, query="adopted puppy Max", limit=10)
    by_key = {h.key: h for h in hits}
    top = by_key["a"].score
    assert by_key["b"].score == pytest.approx(top * 0.5 * 0.8, rel=1e-6)
    assert by_key["b"].via["hops"] == 1
    assert by_key["c"].score == pytest.approx(top * 0.5 * 0.8 * 0.5, rel=1e-6)
    assert by_key["c"].via == {"key": "b", "relation": "related", "weight": 1.0, "hops": 2}
    assert not isinstance(by_key["d"], LinkedSearchItem)  # found by its own (low) score


def test_expansion_keeps_limit_and_offset_semantics(store: ExtendedStore) -> None:
    store.link(ALICE, "paint", "cats")
    store.link(ALICE, "paint", "job")
    store.link(ALICE, "sweden", "job")
    with link_expansion(LinkExpansion(seeds=2, decay=0.9)):
        full = store.search(ALICE, query="painting by the lake", limit=10)
        pages = [
            store.search(ALICE, query="painting by the lake", limit=2, offset=o) for o in (0, 2, 4)
        ]
        single = store.search(ALICE, query="painting by the lake", limit=1)
    assert [h.key for page in pages for h in page] == [h.key for h in full]
    assert [h.score for page in pages for h in page] == [h.score for h in full]
    assert [h.key for h in single] == [full[0].key]
    assert len({h.key for h in full}) == len(full) == len(FACTS)  # each item once


def test_expansion_obeys_the_search_filter(open_linked: Opener) -> None:
    store = open_linked(expand_links=LinkExpansion(decay=1.0))
    store.put(ALICE, "p", {"content": "Plays the violin every evening", "category": "habits"})
    store.put(ALICE, "q", {"content": "Wants to learn the cello", "category": "goals"})
    store.link(ALICE, "p", "q")
    hits = store.search(ALICE, query="violin", filter={"category": "habits"}, limit=5)
    assert [h.key for h in hits] == ["p"]


def test_expansion_can_be_turned_off_for_one_search(open_linked: Opener) -> None:
    store = open_linked(expand_links=LinkExpansion())
    store.put(ALICE, "p", {"content": "Plays the violin every evening"})
    store.put(ALICE, "q", {"content": "Quarterly tax forms are due in April"})
    store.link(ALICE, "p", "q")
    assert isinstance(store.search(ALICE, query="violin", limit=2)[1], LinkedSearchItem)
    with link_expansion(None):
        assert not any(isinstance(h, LinkedSearchItem) for h in store.search(ALICE, query="violin"))


def test_vector_only_search_expands_too(open_linked: Opener) -> None:
    store = open_linked(hybrid=None, expand_links=LinkExpansion(decay=0.9))
    store.put(ALICE, "p", {"content": "Plays the violin every evening"})
    store.put(ALICE, "q", {"content": "Quarterly tax forms are due in April"})
    store.put(ALICE, "r", {"content": "Rides a bike to work"})
    store.link(ALICE, "p", "q")
    hits = store.search(ALICE, query="violin", limit=2)
    assert [h.key for h in hits] == ["p", "q"] and hits[1].via["key"] == "p"


async def test_async_twins(store: ExtendedStore) -> None:
    made = await store.alink(ALICE, "cats", "paint", "likes")
    assert made.relation == "likes"
    assert [x.dst for x in await store.alinks(ALICE, "cats")] == ["paint"]
    with link_expansion(LinkExpansion(decay=1.0)):  # a tie: the item found directly first
        hits = await store.asearch(ALICE, query="two cats Luna and Oliver", limit=2)
    assert [h.key for h in hits] == ["cats", "paint"] and hits[0].score == hits[1].score
    assert [x.relation for x in await store.aunlink(ALICE, "cats", "paint")] == ["likes"]
    await asyncio.sleep(0)


# ----------------------------------------------------------------- schema migration


def test_a_version_2_database_migrates_to_version_3(open_store: Any, db: str) -> None:
    """SQLite only: the file format's own migration."""
    old = open_store()
    old.put(ALICE, "sweden", {"content": FACTS["sweden"]})
    old.put(ALICE, "cats", {"content": FACTS["cats"]})
    old.close()
    conn = sqlite3.connect(db)  # what a file written before migration 3 looks like
    conn.execute("DROP TABLE links")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    store = open_store()
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)] and SCHEMA_VERSION >= 3
    assert store.search(ALICE, query="Sweden", limit=1)[0].key == "sweden"
    store.link(ALICE, "sweden", "cats")
    assert len(store.links(ALICE)) == 1
