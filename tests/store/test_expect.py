"""Conditional writes (`ExpectOp`, `hippograph.store.expect`): a batch decided on data that has
changed since it was read is refused whole, on one database shared by separate processes.

Runs on PostgreSQL (`PostgresMemoryStore`); the SQLite store gets the same primitive from the
memory-formation work, and these cases are written to run on it unchanged.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import pytest
from langgraph.store.base import InvalidNamespaceError, PutOp

from hippograph.store import InvalidValueError, LocalEmbeddings
from hippograph.store.expect import ExpectOp, StaleWriteError
from hippograph.store.links import LinkOp
from hippograph.store.postgres import PostgresMemoryStore

NS = ("memories", "alice")
TIMEOUT = 180.0


@pytest.fixture
def store(pg_url: str, local_embeddings: LocalEmbeddings) -> Iterator[PostgresMemoryStore]:
    index = {"dims": 384, "embed": local_embeddings, "fields": ["content"]}
    with PostgresMemoryStore.open(pg_url, index=index) as opened:  # type: ignore[arg-type]
        yield opened


def _read(store: PostgresMemoryStore, key: str) -> Any:
    item = store.get(NS, key)
    assert item is not None
    return item


def test_a_write_decided_on_fresh_data_applies(store: PostgresMemoryStore) -> None:
    store.put(NS, "city", {"content": "Lives in Lisbon"})
    seen = _read(store, "city")
    results = store.batch(
        [ExpectOp(NS, "city", seen.updated_at), PutOp(NS, "city", {"content": "Lives in Porto"})]
    )
    assert results == [None, None]
    assert _read(store, "city").value == {"content": "Lives in Porto"}


def test_a_stale_update_is_refused_and_the_newer_change_kept(store: PostgresMemoryStore) -> None:
    store.put(NS, "city", {"content": "Lives in Lisbon"})
    stale = _read(store, "city")
    store.put(NS, "city", {"content": "Moved to Berlin"})  # another turn, after the read
    newer = _read(store, "city")
    with pytest.raises(StaleWriteError, match="memories/alice/city") as caught:
        store.batch(
            [
                ExpectOp(NS, "city", stale.updated_at),
                PutOp(NS, "city", {"content": "Lives in Porto"}),
            ]
        )
    (conflict,) = caught.value.conflicts
    assert (conflict.key, conflict.expected, conflict.found) == (
        "city",
        stale.updated_at,
        newer.updated_at,
    )
    assert _read(store, "city").value == {"content": "Moved to Berlin"}
    assert [e["op"] for e in store.history(NS, "city")] == ["UPDATE", "ADD"]  # nothing more


def test_a_delete_decided_on_a_deleted_or_changed_item_is_refused(
    store: PostgresMemoryStore,
) -> None:
    store.put(NS, "pet", {"content": "Has a cat"})
    seen = _read(store, "pet")
    store.delete(NS, "pet")
    with pytest.raises(StaleWriteError, match=r"pet \(deleted\)") as caught:
        store.batch([ExpectOp(NS, "pet", seen.updated_at), PutOp(NS, "pet", None)])
    assert caught.value.conflicts[0].found is None


def test_the_batch_is_all_or_nothing(store: PostgresMemoryStore) -> None:
    store.batch(
        [
            PutOp(NS, "a", {"content": "Plays chess"}),
            PutOp(NS, "b", {"content": "Plays the violin"}),
        ]
    )
    a, b = _read(store, "a"), _read(store, "b")
    store.put(NS, "b", {"content": "Plays the cello"})
    before = store.history(NS, limit=100)
    with pytest.raises(StaleWriteError) as caught:
        store.batch(
            [
                ExpectOp(NS, "a", a.updated_at),
                ExpectOp(NS, "b", b.updated_at),
                PutOp(NS, "a", {"content": "Plays chess every Sunday"}),
                PutOp(NS, "new", {"content": "Learns Go"}),
                LinkOp(NS, "a", "b", "hobby"),
            ]
        )
    assert [c.key for c in caught.value.conflicts] == ["b"]
    assert _read(store, "a").value == {"content": "Plays chess"}
    assert store.get(NS, "new") is None and store.links(NS) == []
    assert store.history(NS, limit=100) == before


def test_expecting_absence(store: PostgresMemoryStore) -> None:
    store.batch([ExpectOp(NS, "fresh", None), PutOp(NS, "fresh", {"content": "Likes tea"})])
    assert _read(store, "fresh").value == {"content": "Likes tea"}
    with pytest.raises(StaleWriteError, match=r"fresh \(now exists\)"):
        store.batch([ExpectOp(NS, "fresh", None), PutOp(NS, "fresh", {"content": "Likes coffee"})])
    assert _read(store, "fresh").value == {"content": "Likes tea"}


def test_other_users_items_never_satisfy_an_expectation(store: PostgresMemoryStore) -> None:
    store.put(("memories", "bob"), "city", {"content": "Bob lives in Oslo"})
    bobs = store.get(("memories", "bob"), "city")
    assert bobs is not None
    with pytest.raises(StaleWriteError):
        store.batch([ExpectOp(NS, "city", bobs.updated_at), PutOp(NS, "city", {"content": "x"})])
    assert store.get(NS, "city") is None


@pytest.mark.parametrize(
    ("op", "error"),
    [
        (ExpectOp(NS, "k", datetime(2024, 1, 1)), InvalidValueError),  # naive: which instant?
        (ExpectOp(NS, "k", "2024-01-01"), InvalidValueError),  # type: ignore[arg-type]
        (ExpectOp((), "k", None), InvalidNamespaceError),
        (ExpectOp(("memories", "al.ice"), "k", None), InvalidNamespaceError),  # LangGraph's rule
        (ExpectOp(NS, 7, None), InvalidValueError),  # type: ignore[arg-type]
    ],
)
def test_bad_expectations_are_refused_before_any_write(
    store: PostgresMemoryStore, op: ExpectOp, error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.batch([op, PutOp(NS, "k", {"content": "x"})])
    assert store.get(NS, "k") is None


async def test_async_batches_check_too(store: PostgresMemoryStore) -> None:
    await store.aput(NS, "k", {"content": "one"})
    seen = await store.aget(NS, "k")
    assert seen is not None
    await store.aput(NS, "k", {"content": "two"})
    with pytest.raises(StaleWriteError):
        await store.abatch([ExpectOp(NS, "k", seen.updated_at), PutOp(NS, "k", {"content": "x"})])
    assert (await store.aget(NS, "k")).value == {"content": "two"}  # type: ignore[union-attr]
    assert datetime.now(UTC) > seen.updated_at


# ----------------------------------------------------------------- two processes, two pools


def _agent(url: str, role: str, conn: Connection) -> None:
    """A process with its own store and pool, doing what it is told through `conn`."""
    try:
        from langchain_core.embeddings import Embeddings
        from langgraph.store.base import PutOp

        from hippograph.store.expect import ExpectOp, StaleWriteError
        from hippograph.store.postgres import PostgresMemoryStore

        class Flat(Embeddings):  # this test is about writes, not similarity
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return [[1.0] + [0.0] * 383 for _ in texts]

            def embed_query(self, text: str) -> list[float]:
                return [1.0] + [0.0] * 383

        index = {"dims": 384, "embed": Flat(), "fields": ["content"]}
        with PostgresMemoryStore.open(url, index=index, max_connections=2) as store:  # type: ignore[arg-type]
            conn.send(("ready", role))
            while (request := conn.recv()) is not None:
                verb, *args = request
                if verb == "read":
                    item = store.get(NS, args[0])
                    conn.send(("ok", None if item is None else (item.value, item.updated_at)))
                elif verb == "write":
                    store.put(NS, args[0], args[1])
                    conn.send(("ok", None))
                elif verb == "write_if":
                    key, value, seen = args
                    try:
                        store.batch([ExpectOp(NS, key, seen), PutOp(NS, key, value)])
                        conn.send(("ok", "written"))
                    except StaleWriteError as exc:
                        conn.send(("ok", f"refused: {exc.conflicts[0].key}"))
                elif verb == "increment":  # read-modify-write with retries, `args[0]` times
                    retries = 0
                    for _ in range(args[0]):
                        while True:
                            item = store.get(NS, "counter")
                            assert item is not None
                            value = {"content": "counter", "n": item.value["n"] + 1}
                            try:
                                store.batch(
                                    [
                                        ExpectOp(NS, "counter", item.updated_at),
                                        PutOp(NS, "counter", value),
                                    ]
                                )
                                break
                            except StaleWriteError:
                                retries += 1
                    conn.send(("ok", retries))
    except BaseException:
        conn.send(("error", traceback.format_exc()))


class Peer:
    """One `_agent` process (spawned: a fresh interpreter, its own pool)."""

    def __init__(self, url: str, role: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_agent, args=(url, role, child), daemon=True)
        self.proc.start()
        child.close()

    def receive(self) -> Any:
        if not self.conn.poll(TIMEOUT):
            raise AssertionError(f"the peer process did not answer within {TIMEOUT}s")
        status, payload = self.conn.recv()
        if status == "error":
            raise AssertionError(f"the peer process failed:\n{payload}")
        return payload

    def ask(self, *request: Any) -> Any:
        self.conn.send(request)
        return self.receive()

    def stop(self) -> None:
        with suppress(OSError):  # a peer that failed has closed its end already
            self.conn.send(None)
        self.proc.join(TIMEOUT)
        if self.proc.is_alive():
            self.proc.kill()


@pytest.fixture
def peers(pg_url: str, store: PostgresMemoryStore) -> Iterator[tuple[Peer, Peer]]:
    writer, reader = Peer(pg_url, "writer"), Peer(pg_url, "reader")
    try:
        assert writer.receive() == "writer" and reader.receive() == "reader"
        yield writer, reader
    finally:
        writer.stop()
        reader.stop()


def test_a_stale_decision_in_another_process_never_overwrites_a_newer_change(
    peers: tuple[Peer, Peer], store: PostgresMemoryStore
) -> None:
    """The reader process reads a memory and decides to update it; meanwhile the writer
    process changes it. The reader's write is refused; after reading again it goes in."""
    writer, reader = peers
    writer.ask("write", "job", {"content": "Works as a nurse"})
    value, seen = reader.ask("read", "job")
    assert value == {"content": "Works as a nurse"}
    writer.ask("write", "job", {"content": "Works as a head nurse since May"})
    assert reader.ask("write_if", "job", {"content": "Works as a doctor"}, seen) == "refused: job"
    assert _read(store, "job").value == {"content": "Works as a head nurse since May"}
    value, fresh = reader.ask("read", "job")
    assert value == {"content": "Works as a head nurse since May"}
    assert reader.ask("write_if", "job", {"content": "Works as a doctor"}, fresh) == "written"
    assert [e["op"] for e in store.history(NS, "job")] == ["UPDATE", "UPDATE", "ADD"]


def test_concurrent_read_modify_writes_lose_no_update(
    peers: tuple[Peer, Peer], store: PostgresMemoryStore
) -> None:
    """Both processes increment one counter 40 times at once, each write conditional on the
    value it read: every increment lands exactly once."""
    store.put(NS, "counter", {"content": "counter", "n": 0})
    rounds = 40
    for peer in peers:
        peer.conn.send(("increment", rounds))
    started = time.monotonic()
    retries = [peer.receive() for peer in peers]
    assert _read(store, "counter").value["n"] == 2 * rounds, (retries, time.monotonic() - started)
    assert len(store.history(NS, "counter", limit=1000)) == 2 * rounds + 1
