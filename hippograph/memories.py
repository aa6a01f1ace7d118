"""`MemoryManager`: one user's memories, as the CLI and the UI show and change them.

Core pieces:
    - `MemoryManager`: list (filters), search (scores), add, edit, delete, history,
      stats — over any LangGraph `BaseStore`, always inside `memory_namespace(user_id)` and
      nowhere else; links between memories come from `hippograph.memory_links.MemoryLinks`
      (links, link, unlink, graph), JSONL export / import from
      `hippograph.memory_jsonl.MemoryJsonl` (its report and error types are re-exported
      here).
    - `ScoredMemory`, `MemoryStats`, `Erasure`: what it returns.
    - `MemoryNotFoundError`, `AmbiguousKeyError`, `DuplicateMemoryError`,
      `HistoryUnavailableError`: how it fails.

Every write is validated through `Memory` and made under `provenance(...)` naming where it
came from (`origin`, e.g. `"cli"` or `"ui"`), so the history says who changed what.
"""

from __future__ import annotations

import builtins
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import BaseStore, Item, PutOp

from hippograph.backends import FeatureUnavailableError, require
from hippograph.background.pending import forget_pending
from hippograph.memory.context import Context
from hippograph.memory.similarity import exact_cosine
from hippograph.memory_jsonl import (
    CONFLICT_POLICIES,
    ConflictPolicy,
    ImportReport,
    ImportValidationError,
    LineError,
    MemoryJsonl,
    NotJsonlError,
)
from hippograph.memory_links import MemoryLinks
from hippograph.profile import (
    PROFILE_LABEL,
    read_profile,
)
from hippograph.store import HistoryEntry, Memory, memory_namespace, provenance
from hippograph.store.extras import ExtendedStore
from hippograph.store.memory import as_utc, validated_value
from hippograph.store.ranking.explain import search_explain
from hippograph.store.threads import owned_threads

__all__ = [
    "CONFLICT_POLICIES",
    "HISTOGRAM_BINS",
    "PAGE_SIZE",
    "AmbiguousKeyError",
    "ConflictPolicy",
    "DuplicateMemoryError",
    "Erasure",
    "HistoryUnavailableError",
    "ImportReport",
    "ImportValidationError",
    "LineError",
    "MemoryManager",
    "MemoryNotFoundError",
    "MemoryStats",
    "NotJsonlError",
    "ScoredMemory",
    "validated_value",
]

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
"""Items read from the store per page when iterating a user's memories."""

HISTOGRAM_BINS = 10
"""Importance histogram: ten bins of width 0.1 over [0, 1]."""

_STORE_FIELDS = ("key", "created_at", "updated_at", "score")


class MemoryNotFoundError(KeyError):
    """No memory with this key in the user's namespace."""


MIN_KEY_PREFIX = 4
"""Fewest characters of a shortened key: one or two characters that happen to start a
single key are a typo or a guess (a model calling `delete_memory` with "a"), not a choice."""


class AmbiguousKeyError(KeyError):
    """A shortened key does not name one memory: several of the user's keys start with it."""

    problem = "is the start of several keys"
    """What is wrong with the key, as error messages finish the sentence "'<key>' …"."""


class KeyPrefixTooShortError(AmbiguousKeyError):
    """A shortened key under `MIN_KEY_PREFIX` characters (whole keys of any length work)."""

    problem = f"is not a whole key, and a shortened key needs at least {MIN_KEY_PREFIX} characters"


class DuplicateMemoryError(ValueError):
    """`MemoryManager.add(..., allow_duplicate=False)` refused a near-duplicate.

    Attributes:
        existing: The stored memory it duplicates, with its exact cosine similarity.
    """

    def __init__(self, existing: ScoredMemory) -> None:
        self.existing = existing
        super().__init__(
            f"already remembered as “{existing.memory.content}” (similarity {existing.score:.2f})"
        )


class HistoryUnavailableError(FeatureUnavailableError):
    """The store keeps no audit trail (ours and `PostgresMemoryStore` do; `InMemoryStore`
    and a bare `PostgresStore` do not)."""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What `MemoryManager.erase` removed from the store.

    Attributes:
        items: Memories erased (every namespace under the user's, sub-namespaces included).
        history: Audit-trail rows erased with them.
        threads: Conversation threads the user owns (`hippograph.store.threads`: recorded
            when the agent ran them, never read from provenance), so the caller can delete
            those checkpoints too (`hippograph.erasure.erase_user` does).
        compacted: The store's files were rewritten so no erased byte remains (SQLite); a
            store that keeps nothing but its items counts as compacted.
    """

    items: int
    history: int
    threads: list[str]
    compacted: bool


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    """A search hit: the memory and its similarity to the query (and, when asked for, the
    parts of its score: see `hippograph.store.ranking.explain`)."""

    memory: Memory
    score: float
    explain: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """Counts for the analytics views.

    Attributes:
        total: Number of memories.
        by_category: Count per category.
        importance_histogram: Counts in `HISTOGRAM_BINS` equal bins over [0, 1]
            (the last bin includes 1.0).
        growth: `(date, memories stated up to that date)` per day with new memories.
    """

    total: int
    by_category: dict[str, int]
    importance_histogram: list[int]
    growth: list[tuple[str, int]]


class MemoryManager(MemoryLinks, MemoryJsonl):
    """One user's long-term memories: browse, search, change, audit, link, export, import.

    Works over any LangGraph `BaseStore` (ours, `InMemoryStore`, `PostgresStore`); only
    `history` needs a store that keeps one (`hippograph.backends.open_store` opens such a
    store for SQLite and PostgreSQL alike). It never reads or writes outside
    `memory_namespace(user_id)`.

    Args:
        store: The memory store.
        user_id: Whose memories.
        origin: Recorded as the source of every change made here (`"cli"`, `"ui"`, …).
        namespace: Where this user's memories live (default: `memory_namespace(user_id)`;
            the memory tools pass the namespace their template resolves to).
        source: More provenance for every change made here (e.g. the `thread_id` and
            `message_ids` of the agent turn whose tool call made it).

    Example:
        ```python
        manager = MemoryManager(store, "alice", origin="cli")
        memory = manager.add("Prefers dark mode", category="preferences", importance=0.6)
        manager.edit(memory.id, importance=0.9)
        [hit.memory.content for hit in manager.search("UI theme")]
        ```
    """

    def __init__(
        self,
        store: BaseStore,
        user_id: str,
        *,
        origin: str = "api",
        namespace: tuple[str, ...] | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.origin = origin
        self.namespace = memory_namespace(user_id) if namespace is None else tuple(namespace)
        self.source = dict(source or {})

    # ------------------------------------------------------------------ reading

    def _items(self, filter: dict[str, Any] | None = None) -> Iterator[Item]:
        offset = 0
        while True:
            page = self.store.search(self.namespace, filter=filter, limit=PAGE_SIZE, offset=offset)
            for item in page:
                if tuple(item.namespace) == self.namespace:
                    yield item
            if len(page) < PAGE_SIZE:
                return
            offset += PAGE_SIZE

    def _memory(self, item: Item) -> Memory | None:
        """`item` as a `Memory`, or `None` (logged) when its value is not a valid memory."""
        try:
            return Memory.from_item(item)
        except ValueError as exc:
            logger.warning("skipping malformed memory %s of %s: %s", item.key, self.user_id, exc)
            return None

    def _memories(self, items: Iterable[Item]) -> Iterator[Memory]:
        for item in items:
            memory = self._memory(item)
            if memory is not None:
                yield memory

    def get(self, key: str) -> Memory:
        """The memory with this key.

        Raises:
            MemoryNotFoundError: no such memory for this user.
        """
        item = self.store.get(self.namespace, key)
        if item is None:
            raise MemoryNotFoundError(key)
        return Memory.from_item(item)

    def resolve_key(self, key: str) -> str:
        """The full key of the memory `key` names: the key itself, or a unique prefix of one
        (the CLI shows keys shortened).

        Raises:
            MemoryNotFoundError: no memory has this key or a key starting with it.
            KeyPrefixTooShortError: not a whole key, and shorter than `MIN_KEY_PREFIX`.
            AmbiguousKeyError: several memories' keys start with it.
        """
        if self.store.get(self.namespace, key) is not None:
            return key
        if 0 < len(key) < MIN_KEY_PREFIX:
            raise KeyPrefixTooShortError(key)
        found = [item.key for item in self._items() if item.key.startswith(key)] if key else []
        if not found:
            raise MemoryNotFoundError(key)
        if len(found) > 1:
            raise AmbiguousKeyError(key)
        return found[0]

    def list(
        self,
        *,
        category: str | None = None,
        min_importance: float | None = None,
        max_importance: float | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Memory]:
        """Memories matching every given filter, newest statement first.

        Args:
            category: Exact category (after normalisation, e.g. `"tools"`).
            min_importance / max_importance: Inclusive importance range.
            since / until: Inclusive range on when the fact was stated (`timestamp`).
            text: Case-insensitive substring of the content.
            limit / offset: Page of the sorted result.
        """
        filter: dict[str, Any] = {}
        if category is not None:
            filter["category"] = category
        bounds = {"$gte": min_importance, "$lte": max_importance}
        if any(v is not None for v in bounds.values()):
            filter["importance"] = {k: v for k, v in bounds.items() if v is not None}
        needle = text.casefold() if text else None
        found = [
            memory
            for memory in self._memories(self._items(filter or None))
            if (since is None or memory.timestamp >= as_utc(since))
            and (until is None or memory.timestamp <= as_utc(until))
            and (needle is None or needle in memory.content.casefold())
        ]
        found.sort(key=lambda m: m.timestamp, reverse=True)
        return found[offset : None if limit is None else offset + limit]

    def search(
        self, query: str, *, limit: int = 10, category: str | None = None, explain: bool = False
    ) -> builtins.list[ScoredMemory]:
        """Memories closest in meaning to `query`, best first, with their scores; with
        `explain`, each hit's parts (on stores that only give a score: just the score)."""
        filter = {"category": category} if category else None
        with search_explain(explain):
            hits = self.store.search(self.namespace, query=query, filter=filter, limit=limit)
        found = ((hit, self._memory(hit)) for hit in hits)
        return [
            ScoredMemory(
                memory,
                float(hit.score or 0.0),
                dict(getattr(hit, "explain", None) or {"score": hit.score}) if explain else None,
            )
            for hit, memory in found
            if memory is not None
        ]

    def profile(self) -> dict[str, Any] | None:
        """The user's structured profile (`hippograph.profile`), or `None`."""
        return read_profile(self.store, self.user_id)

    def count(self) -> int:
        """Number of this user's memories."""
        if isinstance(self.store, ExtendedStore):  # a prefix count: less the profile item
            profile = (*self.namespace, PROFILE_LABEL)
            return self.store.count(self.namespace) - self.store.count(profile)
        return sum(1 for _ in self._items())

    def history(self, key: str | None = None, *, limit: int = 100) -> builtins.list[HistoryEntry]:
        """Changes to this user's memories (or one memory), newest first.

        Raises:
            HistoryUnavailableError: the store keeps no history (e.g. `InMemoryStore`).
        """
        try:
            require(self.store, "history")
        except FeatureUnavailableError as exc:
            raise HistoryUnavailableError(str(exc)) from None
        assert isinstance(self.store, ExtendedStore)
        return self.store.history(self.namespace, key, limit=limit)

    def stats(self) -> MemoryStats:
        """Category counts, importance histogram and growth over time, in one pass."""
        categories: Counter[str] = Counter()
        histogram = [0] * HISTOGRAM_BINS
        per_day: Counter[str] = Counter()
        for memory in self._memories(self._items()):
            categories[memory.category] += 1
            histogram[min(int(memory.importance * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
            per_day[memory.timestamp.date().isoformat()] += 1
        growth: builtins.list[tuple[str, int]] = []
        running = 0
        for day in sorted(per_day):
            running += per_day[day]
            growth.append((day, running))
        return MemoryStats(sum(categories.values()), dict(categories), histogram, growth)

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _provenance(self) -> Iterator[dict[str, Any]]:
        source: dict[str, Any] = {
            "origin": self.origin,
            "thread_id": None,
            "message_ids": [],
            "turn_at": datetime.now(UTC).isoformat(),
            **self.source,
        }
        with provenance(source):
            yield source

    def duplicate_of(self, content: str) -> ScoredMemory | None:
        """The stored memory that `content` would duplicate, by the rule chat uses offline:
        exact cosine similarity at least `Context.duplicate_threshold` (0.95 by default)
        to the closest of the memories a search for `content` returns."""
        context = Context(user_id=self.user_id)
        hits = self.store.search(self.namespace, query=content, limit=context.similar_k)
        scored = exact_cosine(self.store, content, [(hit, hit.score or 0.0) for hit in hits])
        for hit, score in scored[:1]:
            memory = self._memory(hit)
            if memory is not None and score >= context.duplicate_threshold:
                return ScoredMemory(memory, score)
        return None

    def add(
        self,
        content: str,
        *,
        category: str = "other",
        importance: float = 0.5,
        allow_duplicate: bool = True,
    ) -> Memory:
        """Store a new memory (validated: non-empty content, importance in [0, 1]).

        Args:
            allow_duplicate: With `False`, refuse content that `duplicate_of` matches.

        Raises:
            ValueError: invalid content, category or importance; nothing is written.
            DuplicateMemoryError: `allow_duplicate=False` and the memory is already stored.
        """
        memory = Memory(content=content, category=category, importance=importance)
        if not allow_duplicate:
            existing = self.duplicate_of(memory.content)
            if existing is not None:
                raise DuplicateMemoryError(existing)
        with self._provenance() as source:
            memory.source = source
            self.store.put(self.namespace, memory.id, memory.to_value())
        return memory

    def edit(
        self,
        key: str,
        *,
        content: str | None = None,
        category: str | None = None,
        importance: float | None = None,
    ) -> Memory:
        """Change a memory's content, category and/or importance (validated through `Memory`).

        Raises:
            MemoryNotFoundError: no such memory for this user.
            ValueError: the new values are invalid; nothing is written.
        """
        item = self.store.get(self.namespace, key)
        if item is None:
            raise MemoryNotFoundError(key)
        changes = {"content": content, "category": category, "importance": importance}
        raw = {**item.value, **{k: v for k, v in changes.items() if v is not None}}
        value = validated_value(key, raw)
        with self._provenance():
            self.store.put(self.namespace, key, value)
        return Memory.from_value(key, value)

    def delete(self, keys: str | Iterable[str]) -> builtins.list[str]:
        """Delete memories by key in one batch; returns the keys that existed (and are gone)."""
        wanted = [keys] if isinstance(keys, str) else list(dict.fromkeys(keys))
        existing = [k for k in wanted if self.store.get(self.namespace, k) is not None]
        if existing:
            with self._provenance():
                self.store.batch([PutOp(self.namespace, k, None) for k in existing])
        return existing

    def prune(
        self,
        *,
        below_importance: float,
        older_than: timedelta,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> builtins.list[Memory]:
        """Forget what is both minor and old: memories with importance below
        `below_importance` stated more than `older_than` before `now` (default: now).

        Deletions go through `delete` (history keeps a `DELETE` row each). With `dry_run`,
        nothing is deleted. Returns the memories pruned (or that would be), oldest first.
        """
        if not 0.0 <= below_importance <= 1.0:
            raise ValueError(f"below_importance must be in [0, 1], got {below_importance!r}")
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative, got {older_than!r}")
        cutoff = as_utc(now or datetime.now(UTC)) - older_than
        doomed = [
            memory
            for memory in self.list(max_importance=below_importance, until=cutoff)
            if memory.importance < below_importance and memory.timestamp < cutoff
        ]
        doomed.sort(key=lambda m: m.timestamp)
        if doomed and not dry_run:
            self.delete([memory.id for memory in doomed])
        return doomed

    def erase(self, *, compact: bool = True) -> Erasure:
        """Erase every memory of this user and every trace of them (right to erasure).

        Turns of the user still waiting for background formation are erased first. On
        stores with `purge` (`FaissSqliteStore`, `PostgresMemoryStore`) that removes the
        items, vectors, full-text rows and history under the user's namespace and, with
        `compact`, rewrites the storage so the bytes are gone (see `FaissSqliteStore.purge`).
        Other stores (e.g. `InMemoryStore`) keep only items, which are deleted.
        """
        threads = owned_threads(self.store, self.user_id)
        forget_pending(self.store, self.user_id)  # turns still waiting for background formation
        with self._provenance():
            if isinstance(self.store, ExtendedStore):
                report = self.store.purge(self.namespace, compact=compact)
                history = int(report.removed.get("history", 0))
                return Erasure(report.items, history, threads, bool(report.compacted))
            found = self._all_under_namespace()
            for start in range(0, len(found), PAGE_SIZE):
                chunk = found[start : start + PAGE_SIZE]
                self.store.batch([PutOp(namespace, key, None) for namespace, key in chunk])
        return Erasure(len(found), 0, threads, True)

    def _all_under_namespace(self) -> builtins.list[tuple[tuple[str, ...], str]]:
        found: builtins.list[tuple[tuple[str, ...], str]] = []
        while True:
            page = self.store.search(self.namespace, limit=PAGE_SIZE, offset=len(found))
            found += [(tuple(item.namespace), item.key) for item in page]
            if len(page) < PAGE_SIZE:
                return found
