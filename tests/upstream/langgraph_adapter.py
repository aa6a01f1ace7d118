"""A pytest plugin that runs LangGraph's own store test suites against `FaissSqliteStore`.

LangGraph's sdists carry the tests of `SqliteStore`, `AsyncSqliteStore` and `InMemoryStore`.
`tests/upstream/run.py` downloads them and runs them with this plugin, which:
    - rebinds the store classes those test modules name (`SqliteStore`, `AsyncSqliteStore`,
      `InMemoryStore`) to thin adapters that open a `FaissSqliteStore` instead, so every
      fixture and test body drives our store through the same calls;
    - applies `differences.toml`: each deliberate difference is a strict expected failure
      (it must fail, and says why), each test of upstream's private helpers is skipped;
    - fails a test that passes without ever opening our store and is not listed, so a
      passing count always means "passed against FaissSqliteStore".

It is loaded by module name (`-p langgraph_adapter`), outside our `tests` package: the
upstream suites import their own `tests` package.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore, Op, Result

from hippograph.store import FaissSqliteStore

DIFFERENCES = Path(__file__).with_name("differences.toml")


def _index_config(index: dict[str, Any] | None) -> dict[str, Any] | None:
    """A LangGraph `SqliteIndexConfig` as our `IndexConfig`: `text_fields` are our `fields`;
    `distance_type` is cosine on both (SQLite supports nothing else)."""
    if index is None:
        return None
    config = dict(index)
    if config.get("text_fields") is not None:
        config["fields"] = list(config["text_fields"])
    return config


class SqliteStoreAdapter(FaissSqliteStore):
    """`FaissSqliteStore` opened the way LangGraph's `SqliteStore` is."""

    opened = 0
    """Stores opened so far in this process (a test that opens none tested nothing of ours)."""

    def __init__(self, path: str = ":memory:", **kwargs: Any) -> None:
        SqliteStoreAdapter.opened += 1
        kwargs["index"] = _index_config(kwargs.get("index"))
        super().__init__(path, **kwargs)

    @property
    def conn(self) -> Any:
        """The raw SQLite connection, as `SqliteStore.conn` (the tests list its tables)."""
        return self._conns._writer


class InMemoryStoreAdapter(SqliteStoreAdapter):
    """`FaissSqliteStore` on `":memory:"`, constructed like LangGraph's `InMemoryStore`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(":memory:", **kwargs)


class AsyncSqliteStoreAdapter(BaseStore):
    """LangGraph's `AsyncSqliteStore` interface over `FaissSqliteStore`: reads and writes go
    through our `abatch`; `setup` and the TTL calls are coroutines, as there."""

    supports_ttl = True

    def __init__(self, store: FaissSqliteStore) -> None:
        self.store = store
        self.index_config = store.index_config
        self.embeddings = store.embeddings
        self.ttl_config = store.ttl_config

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, **kwargs: Any
    ) -> AsyncIterator[AsyncSqliteStoreAdapter]:
        """Open (in a worker thread) and close our store around the `async with` body."""
        store = await asyncio.to_thread(SqliteStoreAdapter, conn_string, **kwargs)
        try:
            yield cls(store)
        finally:
            await asyncio.to_thread(store.close)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Our store's sync path (LangGraph's async store refuses it on the event loop)."""
        return self.store.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Our store's async path."""
        return await self.store.abatch(ops)

    async def setup(self) -> None:
        """Our store sets itself up when opened; this re-runs it (idempotent)."""
        await asyncio.to_thread(self.store.setup)

    async def sweep_ttl(self) -> int:
        """Delete expired items now."""
        return await asyncio.to_thread(self.store.sweep_ttl)

    async def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Start our store's sweeper thread."""
        self.store.start_ttl_sweeper(sweep_interval_minutes)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop our store's sweeper thread."""
        return await asyncio.to_thread(self.store.stop_ttl_sweeper, timeout)


ADAPTERS: dict[str, Any] = {
    "SqliteStore": SqliteStoreAdapter,
    "AsyncSqliteStore": AsyncSqliteStoreAdapter,
    "InMemoryStore": InMemoryStoreAdapter,
}
"""Names the upstream test modules bind to LangGraph's stores, and what they get instead."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One entry of `differences.toml`."""

    suite: str
    test: str
    kind: str
    reason: str

    def matches(self, nodeid: str) -> bool:
        """The entry names this test (exactly, or all parametrisations of it)."""
        return nodeid == self.test or nodeid.split("[", 1)[0] == self.test


def load_differences(suite: str, path: Path = DIFFERENCES) -> list[Difference]:
    """The committed entries of `suite`; each needs a kind (`xfail` or `internal`) and a reason."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("difference", [])
    found = [
        Difference(e["suite"], e["test"], e["kind"], e["reason"].strip())
        for e in entries
        if e["suite"] == suite
    ]
    for entry in found:
        if entry.kind not in ("xfail", "internal") or not entry.reason:
            raise pytest.UsageError(f"{path.name}: {entry.test} needs a kind and a reason")
    return found


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--upstream-suite`: the LangGraph distribution whose tests run (selects the entries)."""
    parser.addoption("--upstream-suite", required=True, help="e.g. langgraph-checkpoint-sqlite")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Point the collected upstream modules at our store and mark the listed differences."""
    for module in {item.module for item in items if isinstance(item, pytest.Function)}:
        for name, adapter in ADAPTERS.items():
            if hasattr(module, name):
                setattr(module, name, adapter)
    differences = load_differences(config.getoption("--upstream-suite"))
    used: set[str] = set()
    for item in items:
        entry = next((d for d in differences if d.matches(item.nodeid)), None)
        if entry is None:
            continue
        used.add(entry.test)
        if entry.kind == "internal":
            item.add_marker(pytest.mark.skip(reason=f"upstream internals: {entry.reason}"))
        else:
            item.add_marker(pytest.mark.xfail(reason=entry.reason, strict=True))
    suites = {item.nodeid.split("::", 1)[0] for item in items}
    stale = [d.test for d in differences if d.test not in used and d.test.split("::")[0] in suites]
    if stale:
        raise pytest.UsageError(f"differences.toml names tests that do not exist: {stale}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a passing test that never opened our store (it tested nothing of ours)."""
    before = SqliteStoreAdapter.opened
    outcome = yield
    opened = SqliteStoreAdapter.opened > before
    if outcome.excinfo is None and not opened and not _uses_store_fixture(item):
        outcome.force_exception(
            pytest.fail.Exception(
                "passed without opening FaissSqliteStore: list it in differences.toml "
                "as kind = 'internal' (it tests upstream's own helpers)",
                pytrace=False,
            )
        )


def _uses_store_fixture(item: pytest.Item) -> bool:
    """The test got a store from a fixture (opened during setup, not during the call)."""
    funcargs = getattr(item, "funcargs", {})
    return any(
        isinstance(value, (FaissSqliteStore, AsyncSqliteStoreAdapter))
        for value in funcargs.values()
    )
