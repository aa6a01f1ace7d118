"""Copy a `FaissSqliteStore` into PostgreSQL: items, their vectors (never re-embedded), links,
history.

The copy walks the source in id order, one chunk at a time. Items are written through
`PostgresMemoryStore` (idempotent upserts, streamed through `COPY`, vectors served by
`StoredVectors`), then their timestamps and the progress cursor commit together; links are
inserted idempotently once every item is in; history rows and their cursor commit together
too. An interrupted run therefore resumes after its last commit: items and links are never
duplicated (upserts) and history rows are copied exactly once (same transaction as the
cursor). A finished copy is verified (see `verify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import IndexConfig, PutOp

from hippograph.backends import MEMORY_FIELDS, is_postgres_url
from hippograph.migration.source import SqliteSource
from hippograph.migration.target import PostgresTarget, Progress
from hippograph.migration.vectors import MissingVectorError, StoredVectors
from hippograph.migration.verify import Verification, verify
from hippograph.store import EmbeddingError, resolve_embeddings
from hippograph.store.bulk import bulk_put
from hippograph.store.history import history_paused
from hippograph.store.postgres import PostgresMemoryStore

ProgressCallback = Callable[[str, int, int], None]
"""Called as `(phase, done, total)` after each committed chunk; phase is items, links or
history."""


class TargetNotEmptyError(RuntimeError):
    """The target already holds items that this migration did not write."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a migration did and whether the target matches the source."""

    source: str
    items: int
    """Live items in the source."""
    items_copied: int
    """Items written to the target, over all runs of this migration."""
    history_copied: int
    links_copied: int
    """Links inserted in this run (a resumed run re-checks every link; none is duplicated)."""
    vectors_reused: int
    """Vectors copied from the source in this run (no embedding)."""
    vectors_reembedded: int
    """Vectors embedded in this run because the source had none (`reembed_missing`)."""
    resumed: bool
    already_complete: bool
    seconds: float
    verification: Verification

    @property
    def ok(self) -> bool:
        """True when verification found the target matching the source."""
        return self.verification.ok


def migrate_store(
    source_path: str | Path,
    target_url: str,
    *,
    merge: bool = False,
    reembed_missing: bool = False,
    embeddings: Embeddings | str = "local",
    chunk_size: int = 1000,
    sample: int = 100,
    on_progress: ProgressCallback | None = None,
) -> MigrationReport:
    """Copy the SQLite store at `source_path` into the PostgreSQL database at `target_url`.

    Args:
        source_path: A `FaissSqliteStore` file or `sqlite:///path` (opened read-only).
        target_url: `postgresql://` URL; hippograph's schema is created if needed.
        merge: Allow a target that already holds other items (same keys are overwritten).
        reembed_missing: Embed texts the source has no vector for with `embeddings`,
            instead of failing with `MissingVectorError`.
        embeddings: The embedder for `reembed_missing` (must match the source's dims).
        chunk_size: Items per transaction.
        sample: Items compared value by value and vector by vector at the end.
        on_progress: Progress callback.

    Raises:
        TargetNotEmptyError: the target holds other items and `merge` is false.
        MissingVectorError: an indexed text has no stored vector (and no `reembed_missing`).
        SourceError: the source is not a hippograph SQLite store.
    """
    if not is_postgres_url(target_url):
        raise ValueError(f"the target must be a postgresql:// URL, got {target_url!r}")
    started = time.monotonic()
    source = SqliteSource(source_path)
    store: PostgresMemoryStore | None = None
    target: PostgresTarget | None = None
    try:
        vectors, index = _target_index(source, embeddings if reembed_missing else None)
        store = PostgresMemoryStore.open(
            target_url, index=index, embedder_label=source.meta().get("embedder")
        )
        target = PostgresTarget(target_url, source.identity)
        progress = target.progress()
        if not progress.exists:
            others = target.item_count()
            if others and not merge:
                raise TargetNotEmptyError(
                    f"the target already holds {others:,} items; pass --merge to add the "
                    "source's items to them (same namespace and key: the source wins)"
                )
            target.start()
        links = 0
        if not progress.finished:
            run = _Run(source, target, progress, chunk_size, on_progress)
            _copy_items(run, store, vectors, index)
            links = _copy_links(run)
            _copy_history(run)
            target.finish()
        final = target.progress()
        return MigrationReport(
            source=source.identity,
            items=source.count_items(),
            items_copied=final.items_copied,
            history_copied=final.history_copied,
            links_copied=links,
            vectors_reused=vectors.served if vectors else 0,
            vectors_reembedded=vectors.reembedded if vectors else 0,
            resumed=progress.exists and not progress.finished,
            already_complete=progress.finished,
            seconds=time.monotonic() - started,
            verification=verify(source, target, history_copied=final.history_copied, sample=sample),
        )
    finally:
        if target is not None:
            target.close()
        if store is not None:
            store.close()
        source.close()


def _target_index(
    source: SqliteSource, fallback: Embeddings | str | None
) -> tuple[StoredVectors | None, IndexConfig | None]:
    """The target's `IndexConfig`: the source's dims, embedded by its stored vectors.

    The default fields are every path the source embedded (`MEMORY_FIELDS` if none); an
    item embedded on other paths is put with `index=` those paths, so the target indexes
    exactly what the source did. (`"$"`, the whole value, only works as the default.)
    """
    meta = source.meta()
    if "dims" not in meta:
        return None, None  # the source has no vector index
    dims = int(meta["dims"])
    embedder = resolve_embeddings(fallback) if fallback is not None else None
    if embedder is not None:
        probe = len(embedder.embed_query("dimension probe"))
        if probe != dims:
            raise ValueError(
                f"--reembed-missing would embed with {probe}-d vectors; the source holds {dims}-d"
            )
    vectors = StoredVectors(source.vector_by_hash, dims, fallback=embedder)
    fields = list(source.indexed_paths() or MEMORY_FIELDS)
    config: dict[str, Any] = {"dims": dims, "embed": vectors, "fields": fields}
    return vectors, config  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class _Run:
    """One run of the copy: both ends, where it resumes, and whom to tell."""

    source: SqliteSource
    target: PostgresTarget
    progress: Progress
    chunk_size: int
    on_progress: ProgressCallback | None

    def report(self, phase: str, done: int, total: int) -> None:
        if self.on_progress:
            self.on_progress(phase, done, total)


def _copy_items(
    run: _Run,
    store: PostgresMemoryStore,
    vectors: StoredVectors | None,
    index: IndexConfig | None,
) -> None:
    source = run.source
    default = tuple(sorted((index or {}).get("fields") or ()))
    total, done, after = source.count_items(), run.progress.items_copied, run.progress.items_after
    while True:
        items, last = source.items_after(after, run.chunk_size)
        if last == after:
            return
        if items:
            if vectors is not None:
                vectors.prime(source.vectors_of([item.id for item in items if item.indexed]))
            ops = [
                PutOp(
                    item.namespace,
                    item.key,
                    item.value,
                    index=None
                    if item.fields == default
                    else (list(item.fields) if item.fields else False),
                    ttl=item.ttl_minutes,
                )
                for item in items
            ]
            with history_paused():  # the source's own history is copied instead
                _write(store, ops)
        run.target.finish_items(items, last)
        after, done = last, done + len(items)
        run.report("items", done, total)


def _copy_links(run: _Run) -> int:
    total, done, inserted = run.source.count_links(), 0, 0
    for links in run.source.links(run.chunk_size * 4):
        inserted += run.target.copy_links(links)
        done += len(links)
        run.report("links", done, total)
    return inserted


def _copy_history(run: _Run) -> None:
    total, done = run.source.count_history(), run.progress.history_copied
    after = run.progress.history_after
    while rows := run.source.history_after(after, run.chunk_size * 4):
        run.target.copy_history(rows)
        after, done = rows[-1].id, done + len(rows)
        run.report("history", done, total)


def _write(store: PostgresMemoryStore, ops: list[PutOp]) -> None:
    """Write one chunk of items through the bulk path, surfacing a text without a stored
    vector as `MissingVectorError` (the store reports any embedder failure as
    `EmbeddingError`)."""
    try:
        bulk_put(store, ops, chunk_size=len(ops))
    except EmbeddingError as exc:
        if isinstance(exc.__cause__, MissingVectorError):
            raise exc.__cause__ from None
        raise
