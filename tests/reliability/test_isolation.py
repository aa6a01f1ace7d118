"""Tenant isolation: nothing read under user A — list, search (vector and hybrid), get, filter,
count, stats, history, export, the raw namespace API — ever returns user B's memories, for
user ids built to collide: prefix overlaps, wildcards, dots, percent signs, empty-looking
and unicode look-alike ids, very long ids.

The UI pages and CLI commands go through the same `MemoryManager`; `test_isolation_surfaces`
drives them with the trickiest pairs.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore, GetOp, InvalidNamespaceError, SearchOp

from hippograph.graph import build_agent
from hippograph.memories import MemoryManager, MemoryNotFoundError
from hippograph.store import FaissSqliteStore, LocalEmbeddings, memory_namespace
from tests.reliability.conftest import PROFILE
from tests.reliability.oracle import DIMS, Oracle, WordEmbeddings, run

TRICKY_IDS = [
    "alice",
    "alice2",
    "alic",
    "Alice",
    "alice ",
    " alice",
    "alice.x",
    "alice%2Ex",
    "alice%2E",
    "alice%",
    "alice%25",
    "%",
    "%2E",
    ".",
    "..",
    "*",
    "a*",
    "alice*",
    "ali?e",
    "ali[c]e",
    "al_ce",
    "al%ce",
    "alice\\",
    "alice/x",
    "alice\u200b",  # zero-width space
    "\u0430lice",  # Cyrillic a
    "ａｌｉｃｅ",  # fullwidth
    "e\u0301",  # e + combining accent
    "\u00e9",  # precomposed é
    "memories",
    "langgraph",
    "x" * 5000,
]
USER_IDS = st.one_of(
    st.sampled_from(TRICKY_IDS),
    st.text(min_size=1, max_size=24).filter(lambda s: "\x00" not in s),
)
PAIRS = [
    ("alice", "alice2"),
    ("alice2", "alice"),
    ("alice", "alic"),
    ("alice", "alice.x"),
    ("alice.x", "alice%2Ex"),
    ("alice", "*"),
    ("*", "alice"),
    ("al_ce", "alice"),
    ("alice%", "alice%25"),
    ("\u0430lice", "alice"),
    ("e\u0301", "\u00e9"),
    ("x" * 5000, "x" * 4999),
]


def _store(path: str) -> FaissSqliteStore:
    index = {"dims": DIMS, "embed": WordEmbeddings(), "fields": ["content"]}
    return FaissSqliteStore(path, index=index, durability="normal")


def seed_pair(store: BaseStore, a: str, b: str) -> dict[str, Any]:
    """Two memories each for `a` and `b` (B's carry the marker `zzb`), one of B's in a
    sub-namespace; returns what was written."""
    ma, mb = MemoryManager(store, a), MemoryManager(store, b)
    a_keys = [ma.add(f"tea note {n} of A", category="preferences").id for n in range(2)]
    b_keys = [mb.add(f"tea note {n} of B zzb", category="preferences").id for n in range(2)]
    store.put((*memory_namespace(b), "work"), "bw", {"content": "tea at work zzb"})
    return {"a": ma, "b": mb, "a_keys": a_keys, "b_keys": [*b_keys, "bw"]}


def assert_isolated(store: BaseStore, seeded: dict[str, Any]) -> None:
    """Everything user A can read is A's own."""
    a: MemoryManager = seeded["a"]

    def clean(text: str) -> None:
        assert "zzb" not in text, text

    assert sorted(m.id for m in a.list()) == sorted(seeded["a_keys"])
    assert {m.id for m in a.list(category="preferences", min_importance=0.0)} <= set(
        seeded["a_keys"]
    )
    for query in ("tea note of B zzb", "zzb", "tea at work"):
        for hit in a.search(query, limit=50):
            clean(hit.memory.content)
        for item in store.search(a.namespace, query=query, limit=50):
            clean(item.value["content"])
    for key in seeded["b_keys"]:
        with pytest.raises(MemoryNotFoundError):
            a.get(key)
        assert store.get(a.namespace, key) is None
    assert a.count() == 2
    assert a.stats().total == 2
    for entry in a.history():
        assert entry["namespace"] == a.namespace
        clean(json.dumps(entry["new"] or {}) + json.dumps(entry["old"] or {}))
    exported = io.StringIO()
    assert a.export_jsonl(exported) == 2
    clean(exported.getvalue())
    for filter in ({"content": "tea at work zzb"}, {"category": "preferences"}):
        for item in store.search(a.namespace, filter=filter, limit=50):
            clean(item.value["content"])
    for namespace in store.list_namespaces(prefix=a.namespace):
        assert namespace[: len(a.namespace)] == a.namespace


@PROFILE
@given(a=USER_IDS, b=USER_IDS)
def test_users_never_see_each_other(a: str, b: str) -> None:
    if a == b:
        return
    directory = tempfile.mkdtemp(prefix="hg-iso-")
    try:
        with _store(f"{directory}/m.db") as store:
            assert_isolated(store, seed_pair(store, a, b))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


LABEL = st.one_of(
    st.sampled_from(["a", "ab", "a b", "*", "%", "_", "?", "[a]", "A", "é", "e\u0301", "x" * 300]),
    st.text(min_size=1, max_size=8).filter(lambda s: "." not in s and "\x00" not in s),
)
NAMESPACE = st.lists(LABEL, min_size=1, max_size=3).map(tuple)


@PROFILE
@given(
    namespaces=st.lists(NAMESPACE, min_size=1, max_size=6, unique=True),
    prefixes=st.lists(st.lists(LABEL, max_size=3).map(tuple), max_size=6),
)
def test_raw_namespaces_match_whole_labels_only(
    namespaces: list[tuple[str, ...]], prefixes: list[tuple[str, ...]]
) -> None:
    """Reads under any prefix return exactly what LangGraph's reference store returns."""
    directory = tempfile.mkdtemp(prefix="hg-ns-")
    try:
        with _store(f"{directory}/m.db") as ours:
            oracle = Oracle(index={"dims": DIMS, "embed": WordEmbeddings(), "fields": ["content"]})
            for n, namespace in enumerate(namespaces):
                for s in (ours, oracle):
                    s.put(namespace, "k", {"content": f"tea {n}"})
            for prefix in [*prefixes, *(ns[:-1] for ns in namespaces)]:
                for query in (None, "tea"):
                    found = ours.search(prefix, query=query, limit=100)
                    wanted = oracle.search(prefix, query=query, limit=100)
                    assert {(i.namespace, i.key) for i in found} == {
                        (i.namespace, i.key) for i in wanted
                    }
                    assert all(tuple(i.namespace[: len(prefix)]) == prefix for i in found)
                assert ours.list_namespaces(prefix=prefix) == oracle.list_namespaces(prefix=prefix)
                if prefix:
                    got = run(ours, [GetOp(prefix, "k")])[0]
                    assert (got is not None) == (prefix in namespaces)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(
    "prefix", [("memories", "alice.x"), ("memories", ""), ("memories.alice",), ("",)]
)
def test_impossible_namespaces_are_refused(memory_store: FaissSqliteStore, prefix) -> None:
    """A label with a dot or an empty label could alias a real namespace's text: refused."""
    memory_store.put(("memories", "alice", "x"), "k", {"content": "secret"})
    for op in (SearchOp(prefix), GetOp(prefix, "k")):
        with pytest.raises(InvalidNamespaceError):
            memory_store.batch([op])


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"pair{n}" for n in range(len(PAIRS))])
def test_isolation_on_postgres(a: str, b: str, pg_databases: Callable[[], str]) -> None:
    from hippograph.store.postgres import PostgresMemoryStore

    index = {"dims": DIMS, "embed": WordEmbeddings(), "fields": ["content"]}
    with PostgresMemoryStore.open(pg_databases(), index=index) as store:
        assert_isolated(store, seed_pair(store, a, b))


class _Counting(WordEmbeddings):
    """The word embedder, counting the texts it embeds (documents and queries)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.texts.append(text)
        return super().embed_query(text)


def test_what_a_user_pays_does_not_depend_on_other_users(tmp_path) -> None:
    """B's writes and searches embed exactly B's texts whatever A stored or searched: no
    vector or query embedding is reused across users, so neither the cost nor the timing
    of B's calls tells B that A stored (or asked) the same words."""
    embeddings = _Counting()
    index = {"dims": DIMS, "embed": embeddings, "fields": ["content"]}
    secret = "tea with the zzb oncologist on friday"
    with FaissSqliteStore(str(tmp_path / "m.db"), index=index) as store:
        alice, bob = MemoryManager(store, "alice"), MemoryManager(store, "bob")
        alice.add(secret)
        alice.search("who is my oncologist")
        embeddings.texts.clear()
        bob.add(secret)
        bob.search("who is my oncologist")
        assert embeddings.texts == [secret, "who is my oncologist"]
        embeddings.texts.clear()
        bob.add(secret + " again")
        bob.add(secret)  # B's own repeat is free
        bob.search("who is my oncologist")
        assert embeddings.texts == [secret + " again"]


def _bundled_embedder_stores(
    tmp_path: Any, pg_databases: Callable[[], str], embeddings: LocalEmbeddings, backend: str
) -> Any:
    index = {"dims": 384, "embed": embeddings, "fields": ["content"]}
    if backend == "sqlite":
        return FaissSqliteStore(str(tmp_path / "m.db"), index=index)
    from hippograph.store.postgres import PostgresMemoryStore

    return PostgresMemoryStore.open(pg_databases(), index=index)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_bundled_embedder_does_not_serve_one_users_texts_to_another(
    tmp_path, request, backend: str
) -> None:
    """The default `LocalEmbeddings` keeps an LRU of recent texts: B's write and search of
    A's words still run the model (no ~7 ms saved that would tell B someone said them),
    while B's own repeat is served from it."""
    embeddings = LocalEmbeddings()  # its own LRU, as the process-wide default has
    secret = "tea with the zzb oncologist on friday"
    pg = request.getfixturevalue("pg_databases") if backend == "postgres" else None
    with _bundled_embedder_stores(tmp_path, pg, embeddings, backend) as store:
        alice, bob = MemoryManager(store, "alice"), MemoryManager(store, "bob")
        alice.add(secret)
        alice.search("who is my oncologist")
        before = embeddings.computed
        bob.add(secret)
        bob.search("who is my oncologist")
        assert embeddings.computed - before == 2
        before = embeddings.computed
        bob.add(secret)
        bob.search("who is my oncologist")
        assert embeddings.computed == before


def test_an_agent_turn_runs_the_model_on_its_message_whoever_said_it_before(tmp_path) -> None:
    """Alice and Bob say the same words in turns of one agent process: Bob's turn embeds
    them itself (each user's turns reuse only their own vectors), and still once."""
    embeddings = LocalEmbeddings()
    index = {"dims": 384, "embed": embeddings, "fields": ["content"]}
    words = "I am allergic to penicillin."
    with FaissSqliteStore(str(tmp_path / "m.db"), index=index) as store:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        for user in ("alice", "bob"):
            before = embeddings.computed
            agent.invoke(
                {"messages": [{"role": "user", "content": words}]},
                {"configurable": {"thread_id": f"t-{user}"}},
                context={"user_id": user},
            )
            assert embeddings.computed - before == 1, user
