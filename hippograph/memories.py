"""`MemoryManager`: one user's memories, as the CLI and the UI show and change them.

Core pieces:
    - `MemoryManager`: list (filters), search (scores), add, edit, delete, history,
      export / import JSONL, stats — over any LangGraph `BaseStore`, always inside
      `memory_namespace(user_id)` and nowhere else; links between memories come from
      `hippograph.memory_links.MemoryLinks` (links, link, unlink, graph).
    - `ScoredMemory`, `MemoryStats`, `ImportReport`, `LineError`: what it returns.
    - `MemoryNotFoundError`, `AmbiguousKeyError`, `DuplicateMemoryError`,
      `HistoryUnavailableError`, `ImportValidationError`, `NotJsonlError`: how it fails.
    - `ConflictPolicy`: what an import does with a key the store already holds.

Every write is validated through `Memory` and made under `provenance(...)` naming where it
came from (`origin`, e.g. `"cli"` or `"ui"`), so the history says who changed what.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from hippograph.backends import FeatureUnavailableError, require
from hippograph.background.pending import forget_pending
from hippograph.memory.context import Context
from hippograph.memory.similarity import exact_cosine
from hippograph.memory_links import MemoryLinks, export_links, parse_links
from hippograph.profile import (
    PROFILE_LABEL,
    parse_profile_line,
    profile_line,
    read_profile,
    restore_profile,
)
from hippograph.store import HistoryEntry, Memory, memory_namespace, provenance
from hippograph.store.bulk import bulk_put
from hippograph.store.extras import ExtendedStore
from hippograph.store.links import Link, LinkOp, links_of
from hippograph.store.ranking.explain import search_explain
from hippograph.store.threads import owned_threads

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
"""Items read from the store per page when iterating a user's memories."""

HISTOGRAM_BINS = 10
"""Importance histogram: ten bins of width 0.1 over [0, 1]."""

_STORE_FIELDS = ("key", "created_at", "updated_at", "score")


ConflictPolicy = Literal["newer", "overwrite", "skip"]
"""An imported line whose key the store already holds: keep whichever was updated last
(`"newer"`, by `updated_at`; a line without one loses), let the line replace the memory
(`"overwrite"`), or keep the store's memory (`"skip"`)."""

CONFLICT_POLICIES: tuple[ConflictPolicy, ...] = ("newer", "overwrite", "skip")


class MemoryNotFoundError(KeyError):
    """No memory with this key in the user's namespace."""


class AmbiguousKeyError(KeyError):
    """A key prefix matches more than one of the user's memories."""


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
class LineError:
    """A JSONL line that cannot be imported, and why."""

    line: int
    error: str


class NotJsonlError(ValueError):
    """The import input is not JSONL text at all (binary data): one error, not one per line."""


class ImportValidationError(ValueError):
    """A JSONL file has invalid lines; nothing was imported."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {e.line}: {e.error}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} invalid line(s), nothing imported: {shown}{more}")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: how many memories were written, which lines were skipped."""

    imported: int
    skipped: list[LineError] = field(default_factory=list)
    links: int = 0
    """Links restored from the lines' `links` (those to missing memories are in `skipped`)."""
    kept: list[LineError] = field(default_factory=list)
    """Lines not imported because the store's memory won under the `ConflictPolicy`."""


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


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def validated_value(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` as a stored memory value, checked and normalised through `Memory`.

    Unknown fields (e.g. `context`) are kept; store fields (`key`, `created_at`, …) dropped.

    Raises:
        ValueError: content, importance or another field is invalid.
    """
    memory = Memory.from_value(key, raw)
    value = {k: v for k, v in raw.items() if k not in _STORE_FIELDS}
    value.update(
        content=memory.content,
        category=memory.category,
        importance=memory.importance,
        timestamp=memory.timestamp.isoformat(),
    )
    return value


class MemoryManager(MemoryLinks):
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
            AmbiguousKeyError: several memories' keys start with it.
        """
        if self.store.get(self.namespace, key) is not None:
            return key
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
            if (since is None or memory.timestamp >= _as_utc(since))
            and (until is None or memory.timestamp <= _as_utc(until))
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
        cutoff = _as_utc(now or datetime.now(UTC)) - older_than
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

    # ------------------------------------------------------------------ JSONL

    def export_jsonl(self, target: str | Path | IO[str], *, overwrite: bool = False) -> int:
        """Write every memory as one JSON object per line (streamed); returns the count.

        Each line is the stored value plus `key`, `created_at` and `updated_at` (and the
        memory's outgoing `links`, on stores that keep them), so `import_jsonl` restores it.
        The user's profile, if any, is the last line (`{"kind": "profile", ...}`).
        A file is written beside its destination and moved over it once complete, so an
        existing file is never truncated or left half-written.

        Raises:
            FileExistsError: `target` is an existing file and `overwrite` is false.
        """
        if isinstance(target, str | Path) and Path(target).exists() and not overwrite:
            raise FileExistsError(f"{target} exists")
        links = export_links(self.store, self.namespace)
        with _open_text(target, "w") as out:
            count = 0
            for item in self._items():
                line = {
                    "key": item.key,
                    **item.value,
                    "created_at": item.created_at.isoformat(),
                    "updated_at": item.updated_at.isoformat(),
                }
                if item.key in links:
                    line["links"] = links[item.key]
                out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
                count += 1
            profile = profile_line(self.store, self.user_id)
            if profile is not None:
                out.write(json.dumps(profile, ensure_ascii=False, default=str) + "\n")
        return count

    def import_jsonl(
        self,
        source: str | Path | IO[str],
        *,
        skip_invalid: bool = False,
        on_conflict: ConflictPolicy = "newer",
    ) -> ImportReport:
        """Import memories from JSONL (as written by `export_jsonl`, or just `{"content": …}`).

        The file is validated completely before anything is written: with invalid lines,
        nothing is imported and `ImportValidationError` lists them with line numbers —
        unless `skip_invalid`, which imports the valid lines and reports the rest. Binary
        input raises `NotJsonlError` at once. Lines without a `key` get a new one; a line
        whose key the store already holds follows `on_conflict` (default `"newer"`: an
        older export never reverts newer edits), and the lines it did not import are
        reported in `kept`. A line's `links` are restored once every line is in (a link to
        a memory that does not exist, or any link on a store without links, is reported
        in `skipped`).
        """
        if on_conflict not in CONFLICT_POLICIES:
            raise ValueError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}")
        errors: builtins.list[LineError] = []
        kept: builtins.list[LineError] = []
        with (
            _open_text(source, "r") as lines,
            tempfile.TemporaryFile("w+", encoding="utf-8") as spool,
        ):
            last_line: dict[str, int] = {}
            profile: tuple[int, dict[str, Any]] | None = None
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                _refuse_binary(line, first=not errors and spool.tell() == 0)
                try:
                    found = parse_profile_line(line)
                except ValueError as exc:
                    errors.append(LineError(number, str(exc)))
                    continue
                if found is not None:
                    profile = (number, found)
                    continue
                try:
                    key, value, links, updated_at = _parse_line(line)
                except ValueError as exc:
                    errors.append(LineError(number, str(exc)))
                    continue
                entry = [number, key, value, links, updated_at]
                spool.write(json.dumps(entry, ensure_ascii=False) + "\n")
                last_line[key] = number
            if errors and not skip_invalid:
                raise ImportValidationError(errors)
            spool.seek(0)
            wanted: builtins.list[tuple[int, LinkOp]] = []

            def puts() -> Iterator[PutOp]:
                for chunk in _chunks(spool, PAGE_SIZE // 2):
                    latest = _last_lines_only(chunk, last_line, kept)
                    for number, key, value, links, _ in self._resolve_conflicts(
                        latest, on_conflict, kept
                    ):
                        wanted.extend((number, LinkOp(self.namespace, key, *li)) for li in links)
                        yield PutOp(self.namespace, key, value)

            # Two chunks are in memory at once (one written while the next is prepared):
            # half pages keep a large import's heap as small as a page-by-page one.
            with self._provenance():
                imported = bulk_put(self.store, puts(), chunk_size=PAGE_SIZE // 2).items
                linked = self._restore_links(wanted, errors)
                if profile is not None:
                    restore_profile(
                        self.store, self.user_id, *profile, on_conflict=on_conflict, kept=kept
                    )
        return ImportReport(imported, errors, linked, kept)

    def _resolve_conflicts(
        self,
        entries: builtins.list[builtins.list[Any]],
        policy: ConflictPolicy,
        kept: builtins.list[LineError],
    ) -> builtins.list[builtins.list[Any]]:
        """The entries to write under `policy`; the others are reported in `kept`."""
        if policy == "overwrite":
            return entries
        results = self.store.batch([GetOp(self.namespace, entry[1]) for entry in entries])
        chosen = []
        for entry, item in zip(entries, results, strict=True):
            number, key, _, _, updated_at = entry
            if not isinstance(item, Item):
                chosen.append(entry)
            elif policy == "skip":
                kept.append(LineError(number, f"{key} is already stored (--on-conflict skip)"))
            elif updated_at is None:
                kept.append(
                    LineError(number, f"{key} is already stored and the line has no updated_at")
                )
            elif (line_at := datetime.fromisoformat(updated_at)) > _as_utc(item.updated_at):
                chosen.append(entry)
            elif line_at == _as_utc(item.updated_at):
                kept.append(LineError(number, f"{key} is already stored (same updated_at)"))
            else:
                kept.append(
                    LineError(
                        number,
                        f"{key}: the stored memory is newer "
                        f"({_as_utc(item.updated_at).isoformat(timespec='seconds')})",
                    )
                )
        return chosen

    def _restore_links(
        self, wanted: builtins.list[tuple[int, LinkOp]], errors: builtins.list[LineError]
    ) -> int:
        """Write imported links; report the ones that cannot be (in `errors`)."""
        if not wanted:
            return 0
        linked = links_of(self.store)
        if linked is None:
            for number, op in wanted:
                errors.append(LineError(number, f"link to {op.dst} not imported: no links here"))
            return 0
        done = linked.batch([op for _, op in wanted])
        for (number, op), result in zip(wanted, done, strict=True):
            if not isinstance(result, Link):
                errors.append(LineError(number, f"link to {op.dst} skipped: no such memory"))
        return sum(isinstance(result, Link) for result in done)


def _last_lines_only(
    chunk: list[list[Any]], last_line: Mapping[str, int], kept: list[LineError]
) -> list[list[Any]]:
    """The entries of `chunk` that are the last line of their key; the others are reported
    in `kept`. An import writes a repeated key once, from its last line, so what its conflict
    check reads never depends on which chunks the bulk load has written yet."""
    latest = []
    for entry in chunk:
        number, key = entry[0], entry[1]
        if last_line[key] == number:
            latest.append(entry)
        else:
            kept.append(LineError(number, f"{key} is repeated on line {last_line[key]}"))
    return latest


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[list[Any]]]:
    """The spooled entries, decoded, `size` at a time."""
    chunk: list[list[Any]] = []
    for line in lines:
        chunk.append(json.loads(line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _refuse_binary(line: str, *, first: bool) -> None:
    """Raise `NotJsonlError` when the first line holds NUL bytes or undecodable bytes."""
    if not first:
        return
    if "\x00" in line:
        raise NotJsonlError("the input is binary data, not JSONL text (it holds NUL bytes)")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        if not line.lstrip().startswith("{"):
            raise NotJsonlError("the input is not UTF-8 JSONL text (binary data?)") from None


def _updated_at(raw: Mapping[str, Any]) -> str | None:
    """The line's `updated_at` as an aware ISO timestamp, or `None` when absent."""
    value = raw.get("updated_at")
    if value is None:
        return None
    try:
        return _as_utc(datetime.fromisoformat(str(value))).isoformat()
    except ValueError as exc:
        raise ValueError(f"updated_at must be an ISO timestamp, got {value!r}") from exc


def _parse_line(
    line: str,
) -> tuple[str, dict[str, Any], list[tuple[str, str, float]], str | None]:
    """The key, validated value, links and `updated_at` of one JSONL line; `ValueError`
    says what is wrong."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:  # undecodable bytes, kept as surrogate escapes
        raise ValueError(f"not valid UTF-8 (at character {exc.start})") from exc
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    key = raw.get("key", str(uuid.uuid4()))
    if not isinstance(key, str) or not key or "\x00" in key:
        raise ValueError(f"key must be a non-empty string, got {key!r}")
    links = parse_links(raw.pop("links", None))
    if any(dst == key for dst, _, _ in links):
        raise ValueError("a memory cannot be linked to itself")
    return key, imported(validated_value(key, raw)), links, _updated_at(raw)


def imported(value: dict[str, Any]) -> dict[str, Any]:
    """`value` with its `source` kept as provenance text but marked `"imported": true`.

    An imported line's provenance is whatever the file says: it may name any thread id.
    It is kept for the reader, and nothing uses it to find threads (a user's threads are
    the ones the agent recorded for them, `hippograph.store.threads`).
    """
    source = value.get("source")
    if source is None:
        return value
    marked = dict(source) if isinstance(source, Mapping) else {"text": source}
    return {**value, "source": {**marked, "imported": True}}


@contextmanager
def _open_text(target: str | Path | IO[str], mode: str) -> Iterator[IO[str]]:
    if not isinstance(target, str | Path):
        yield target
    elif mode == "r":
        # Undecodable bytes become surrogate escapes so `_parse_line` can name the line.
        with open(target, encoding="utf-8", errors="surrogateescape") as handle:
            yield handle
    else:
        # Write beside the destination, then move it over: never truncate what is there.
        destination = Path(target)
        fd, temporary = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            if destination.exists():  # keep an overwritten file's permissions (new: 0600)
                os.chmod(temporary, destination.stat().st_mode & 0o7777)
            os.replace(temporary, destination)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
