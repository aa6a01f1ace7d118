"""`MemoryManager`'s links (hippograph/memory_links.py): see, add and remove them inside one
user's memories, keep them through export/import — on SQLite and PostgreSQL alike — and say
clearly where they do not exist."""

from __future__ import annotations

import io
import json

import pytest
from langgraph.store.memory import InMemoryStore

from hippograph.backends import FeatureUnavailableError, memory_index_config, open_store, supports
from hippograph.memories import MemoryManager, MemoryNotFoundError
from hippograph.memory_links import LinksUnavailableError


@pytest.fixture(params=["sqlite", "postgres"])
def linked_store(request, memory_store, embeddings):
    """The memory store of each back end that keeps links."""
    if request.param == "sqlite":
        yield memory_store
        return
    with open_store(request.getfixturevalue("pg_url"), embeddings=embeddings) as store:
        yield store


@pytest.fixture
def alice(linked_store):
    return MemoryManager(linked_store, "alice", origin="test")


def test_link_list_and_unlink_either_way(alice):
    porto = alice.add("Lives in Porto").id
    daughter = alice.add("Has a daughter, Inês").id
    java = alice.add("Codes primarily in Java").id
    made = alice.link(daughter, porto, "family", weight=0.7)
    assert (made.src, made.dst, made.relation, made.weight) == (daughter, porto, "family", 0.7)
    alice.link(porto, java, "works_from")

    seen = {(x.key, x.relation, x.outgoing, x.content) for x in alice.links(porto)}
    assert seen == {
        (daughter, "family", False, "Has a daughter, Inês"),
        (java, "works_from", True, "Codes primarily in Java"),
    }
    assert [x.relation for x in alice.unlink(porto, daughter)] == ["family"]  # either way
    assert [x.key for x in alice.links(porto)] == [java]
    assert alice.unlink(porto, daughter) == []
    ops = [(h["op"], h["source"]["origin"]) for h in alice.history(limit=3)]
    assert ops == [("UNLINK", "test"), ("LINK", "test"), ("LINK", "test")]


def test_bad_links_change_nothing(alice, linked_store):
    one = alice.add("Lives in Porto").id
    two = alice.add("Works at Acme").id
    bob = MemoryManager(linked_store, "bob").add("Bob's memory").id
    with pytest.raises(MemoryNotFoundError):
        alice.link(one, bob)  # bob's memory is not alice's: links never cross users
    with pytest.raises(MemoryNotFoundError):
        alice.links("nope")
    for bad in ({"relation": ""}, {"relation": "x" * 300}, {"weight": 2.0}):
        with pytest.raises(ValueError):
            alice.link(one, two, **bad)
    with pytest.raises(ValueError, match="itself"):
        alice.link(one, one)
    assert alice.links(one) == [] and MemoryManager(linked_store, "bob").links(bob) == []


def test_deleting_a_memory_removes_its_links_and_editing_keeps_them(alice):
    porto = alice.add("Lives in Porto").id
    daughter = alice.add("Has a daughter").id
    java = alice.add("Codes in Java").id
    alice.link(daughter, porto, "family")
    alice.link(java, porto, "works_from")
    alice.edit(porto, content="Lives in Porto, near the river")
    assert len(alice.links(porto)) == 2
    alice.delete(porto)
    assert alice.links(daughter) == [] and alice.links(java) == []


def test_graph_draws_linked_memories_first(alice):
    keys = [alice.add(f"Memory number {n}").id for n in range(5)]
    alice.link(keys[0], keys[1])
    alice.link(keys[0], keys[2])
    graph = alice.graph(limit=3)
    drawn = {m.id for m in graph.memories}
    assert graph.memories[0].id == keys[0] and graph.truncated and len(drawn) == 3
    assert all(x.src in drawn and x.dst in drawn for x in graph.links)
    assert len(alice.graph().links) == 2 and not alice.graph().truncated


def test_export_and_import_keep_links(alice, linked_store):
    porto = alice.add("Lives in Porto").id
    daughter = alice.add("Has a daughter").id
    alice.link(daughter, porto, "family", weight=0.5)
    out = io.StringIO()
    alice.export_jsonl(out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    exported = {line["key"]: line.get("links") for line in lines}
    assert exported == {
        porto: None,
        daughter: [{"key": porto, "relation": "family", "weight": 0.5}],
    }

    carol = MemoryManager(linked_store, "carol")
    lines.append({"content": "Orphan", "links": [{"key": "missing", "relation": "r"}]})
    report = carol.import_jsonl(io.StringIO("\n".join(json.dumps(line) for line in lines)))
    assert report.imported == 3 and report.links == 1
    assert [(e.line, e.error) for e in report.skipped] == [
        (3, "link to missing skipped: no such memory")
    ]
    (link,) = carol.links(porto)
    assert (link.key, link.relation, link.weight, link.outgoing) == (daughter, "family", 0.5, False)
    assert (
        "links" not in linked_store.get(carol.namespace, daughter).value
    )  # the table is the truth


def test_import_rejects_malformed_links(alice):
    bad = [
        {"content": "A", "links": "nope"},
        {"content": "B", "links": [{"relation": "r"}]},
        {"key": "c", "content": "C", "links": [{"key": "c"}]},
    ]
    with pytest.raises(ValueError) as caught:
        alice.import_jsonl(io.StringIO("\n".join(json.dumps(line) for line in bad)))
    assert [e.line for e in caught.value.errors] == [1, 2, 3]  # type: ignore[attr-defined]
    assert alice.count() == 0


def test_stores_without_links_say_so(embeddings):
    store = InMemoryStore(index=memory_index_config(embeddings))
    manager = MemoryManager(store, "alice")
    one, two = manager.add("A").id, manager.add("B").id
    assert not supports(store, "links")
    for call in (lambda: manager.links(one), lambda: manager.link(one, two), manager.graph):
        with pytest.raises(LinksUnavailableError, match="not a hippograph store"):
            call()
    assert issubclass(LinksUnavailableError, FeatureUnavailableError)
    lines = json.dumps({"content": "C", "links": [{"key": one, "relation": "r"}]})
    report = manager.import_jsonl(io.StringIO(lines))
    assert report.imported == 1 and "no links here" in report.skipped[0].error
