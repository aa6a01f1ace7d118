"""Bulk loading: many items into a store, fast, with the guarantees of a single put.

Core pieces:
    - `BulkItem`: one item to load — what a `PutOp` says, plus its embeddings when the
      caller already has them (an export, a migration, an evaluation cache), so nothing
      is embedded twice.
    - `BulkReport`: what a load wrote, and how long it took.
    - `bulk_put(store, items)`: loads into any `BaseStore` — through the store's own
      `bulk_put` when it has one (`FaissSqliteStore`), else through `batch` in chunks.
    - `run_chunks`: the pipeline a store's `bulk_put` runs: chunk *n + 1* is validated,
      encoded and embedded in the caller's thread while chunk *n* is written in another
      (SQLite releases the GIL while it writes), so preparing and writing overlap.

Guarantees (on `FaissSqliteStore`): every chunk is one transaction — its items, vectors,
history rows, keyword rows and vector-log entries commit together or not at all — and
is committed before the next one starts; `bulk_put` returns once everything is durable,
power cuts included (the chunks commit without an fsync each, and one fsync of the WAL at
the end covers them all: the same guarantee as `put` for less I/O). A crash or an error
leaves the chunks before it written and nothing of the chunk it hit; loading the same
items again finishes the job (puts are upserts). Between chunks other writers get their
turn, so an agent keeps working during a long import.
"""

from __future__ import annotations

import contextvars
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
from langgraph.store.base import BaseStore, PutOp

CHUNK_SIZE = 5_000
"""Items per transaction: large enough that commits cost little, small enough that other
writers never wait long and a chunk's working set stays in the writer's page cache."""

Vector = Sequence[float] | np.ndarray
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One item of a bulk load.

    Attributes:
        namespace: Where the item goes (as in `PutOp`).
        key: Its key.
        value: Its value (a dict).
        vectors: Embeddings the caller already has, by field as the store names them
            (`"content"`; `"$"` for the whole value; `"notes.1"` for the second text of a
            path that yields several). Vectors are normalised to unit length; texts
            without a vector here are embedded by the store (or found by content hash).
            A vector is trusted to be the embedding of its text by the store's model.
        index: As in `PutOp`: `None` (the store's fields), `False` (not indexed) or a list
            of paths.
        ttl: Minutes to live (`None`: the store's default, i.e. never).
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    vectors: Mapping[str, Vector] | None = None
    index: Literal[False] | list[str] | None = None
    ttl: float | None = None

    @classmethod
    def of(cls, op: PutOp | BulkItem) -> BulkItem:
        """A `BulkItem` from a `PutOp` (or the item itself)."""
        if isinstance(op, BulkItem):
            return op
        if op.value is None:
            raise TypeError(
                f"bulk_put writes items; {op.key!r} has value None (delete with batch/delete)"
            )
        ttl = op.ttl if isinstance(op.ttl, (int, float)) and not isinstance(op.ttl, bool) else None
        return cls(tuple(op.namespace), op.key, dict(op.value), None, op.index, ttl)

    def as_put_op(self) -> PutOp:
        """The equivalent `PutOp` (embeddings left out)."""
        return PutOp(self.namespace, self.key, self.value, index=self.index, ttl=self.ttl)


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What a bulk load did.

    Attributes:
        items: Items written (a key repeated within a chunk counts once).
        chunks: Transactions committed.
        embedded: Texts the store had to embed (no vector given, none stored for that text).
        seconds: Wall time of the load.
        prepare_cpu_s: CPU time spent validating, encoding and embedding chunks.
        write_cpu_s: CPU time spent writing them. The two stages overlap, so on a machine
            with a core for each, a load takes about `max(prepare_cpu_s, write_cpu_s)`.
    """

    items: int
    chunks: int
    embedded: int
    seconds: float
    prepare_cpu_s: float = 0.0
    write_cpu_s: float = 0.0

    @property
    def per_second(self) -> float:
        """Items written per second."""
        return self.items / self.seconds if self.seconds > 0 else float("inf")


@runtime_checkable
class SupportsBulkPut(Protocol):
    """A store with a bulk path of its own (`FaissSqliteStore`)."""

    def bulk_put(
        self,
        items: Iterable[BulkItem | PutOp],
        *,
        chunk_size: int = CHUNK_SIZE,
        on_progress: Callable[[int], None] | None = None,
    ) -> BulkReport:
        """Load `items`; see `FaissSqliteStore.bulk_put`."""
        ...


def given_vectors(
    item: BulkItem, texts: Sequence[tuple[str, str, str]]
) -> list[tuple[str, Vector]]:
    """`(text hash, vector)` for each of `item`'s indexed texts (`(field, text, hash)`, as
    the store prepared them) that the item brings a vector for.

    Raises:
        ValueError: a vector names a field that is not an indexed text of the item.
    """
    if not item.vectors:
        return []
    if len(texts) == 1 and len(item.vectors) == 1:  # the common case: one field, its vector
        field, _, digest = texts[0]
        vector = item.vectors.get(field)
        if vector is not None:
            return [(digest, vector)]
    by_field = {field: digest for field, _, digest in texts}
    unknown = sorted(set(item.vectors) - set(by_field))
    if unknown:
        indexed = ", ".join(sorted(by_field)) or "none"
        raise ValueError(
            f"vectors given for {', '.join(map(repr, unknown))}, which the store does not "
            f"index for this item (its indexed texts: {indexed})"
        )
    return [(by_field[field], vector) for field, vector in item.vectors.items()]


def unit_rows(vectors: Sequence[Vector], dims: int) -> np.ndarray:
    """Given vectors as float32 rows of unit length, normalised exactly as the store
    normalises what its embedder returns (so a bulk load stores what `batch` would).

    Raises:
        ValueError: a vector of another dimension, or with NaN, infinity or zero length;
            the message says which one (by position).
    """
    try:
        rows = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        rows = None
    if rows is None or rows.ndim != 2 or rows.shape[1] != dims:
        for n, vector in enumerate(vectors):
            size = np.asarray(vector, dtype=np.float32).reshape(-1).size
            if size != dims:
                raise ValueError(f"vector {n} has {size} dimensions; the store's index has {dims}")
        raise ValueError("vectors must be sequences of numbers")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] == 0)
    if bad.any():
        raise ValueError(f"vector {int(np.argmax(bad))} has NaN, infinite or only zero values")
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def chunks_of(items: Iterable[P], size: int) -> Iterator[list[P]]:
    """`items` in lists of `size` (the last may be shorter), consumed lazily."""
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {size}")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def run_chunks(
    items: Iterable[P],
    prepare: Callable[[list[P], int], Any],
    write: Callable[[Any], tuple[int, int]],
    *,
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
    pipelined: bool = True,
) -> BulkReport:
    """Prepare each chunk of `items` in this thread while the previous one is written in
    another (`pipelined`; else each chunk is written here); return once every chunk is
    written.

    Args:
        items: What to load (consumed lazily, one chunk at a time).
        prepare: `prepare(chunk, first)` validates and encodes a chunk whose first item is
            the `first`-th of the load (for error messages).
        write: Writes a prepared chunk; returns `(items written, texts embedded)`. It runs
            in the caller's context (context variables such as `provenance` hold).
        chunk_size: Items per chunk (one transaction each).
        on_progress: Called with the running total of items written after each chunk.
        pipelined: Write in a thread of its own, overlapping the next chunk's preparation
            (`write` must then be safe to call from another thread).
    """
    started = time.perf_counter()
    totals = [0, 0, 0]  # items, texts embedded, chunks
    cpu = [0.0, 0.0]  # prepare, write

    def done(result: tuple[int, int, float]) -> None:
        totals[0] += result[0]
        totals[1] += result[1]
        totals[2] += 1
        cpu[1] += result[2]
        if on_progress is not None:
            on_progress(totals[0])

    def timed_write(prepared: Any) -> tuple[int, int, float]:
        begun = time.thread_time()
        items, embedded = write(prepared)
        return items, embedded, time.thread_time() - begun

    with ThreadPoolExecutor(1, thread_name_prefix="hippograph-bulk") as writer:
        in_flight: Future[tuple[int, int, float]] | None = None
        first = 0
        for chunk in chunks_of(items, chunk_size):
            begun = time.thread_time()
            try:
                prepared = prepare(chunk, first)
            except Exception as exc:
                if in_flight is not None:  # say exactly what is in the store
                    done(in_flight.result())
                exc.add_note(
                    f"bulk_put: the {totals[0]:,} items before this one's chunk were written "
                    f"({totals[2]} chunks); nothing of its chunk was"
                )
                raise
            cpu[0] += time.thread_time() - begun
            first += len(chunk)
            if in_flight is not None:
                done(in_flight.result())
                in_flight = None
            if pipelined:
                in_flight = writer.submit(contextvars.copy_context().run, timed_write, prepared)
            else:
                done(timed_write(prepared))
        if in_flight is not None:
            done(in_flight.result())
    seconds = time.perf_counter() - started
    return BulkReport(totals[0], totals[2], totals[1], seconds, cpu[0], cpu[1])


def bulk_put(
    store: BaseStore,
    items: Iterable[BulkItem | PutOp],
    *,
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> BulkReport:
    """Load `items` into `store`: through its own bulk path when it has one, else through
    `store.batch` in chunks of `chunk_size` (where given vectors are not used: such a store
    embeds with its own embedder).

    Example:
        ```python
        from hippograph.store.bulk import BulkItem, bulk_put

        report = bulk_put(store, (BulkItem(ns, f"m{i}", {"content": t}, {"content": v})
                                  for i, (t, v) in enumerate(zip(texts, vectors))))
        ```
    """
    if isinstance(store, SupportsBulkPut):
        return store.bulk_put(items, chunk_size=chunk_size, on_progress=on_progress)

    def write(ops: list[PutOp]) -> tuple[int, int]:
        store.batch(ops)
        return len(ops), 0

    def prepare(chunk: list[BulkItem | PutOp], first: int) -> list[PutOp]:
        return [BulkItem.of(item).as_put_op() for item in chunk]

    return run_chunks(
        items, prepare, write, chunk_size=chunk_size, on_progress=on_progress, pipelined=False
    )
