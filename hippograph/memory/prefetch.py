"""The turn's message embedded while the run starts, instead of when retrieve needs it.

A turn's one model run (~7 ms for the local MiniLM, a network round trip for a remote
embedder) used to start only in retrieve, after the thread check, LangGraph's run setup,
the thread's checkpoint read and the input's checkpoint. The agent's compiled graph
(`hippograph.graph.thread_check.ThreadCheckedGraph`) knows the message when the run
starts, so it hands it to a long-lived worker thread (`prefetch_vector`) and puts the
`PrefetchedVector` into the run's config; retrieve takes the vector from it when it is
for the same text and embedder (`PrefetchedVector.take`), and embeds as before otherwise.
The vector is the embedder's own answer for that text, so the turn is unchanged; an
embedder failure is raised from retrieve as before.

A traced process (`hippograph.tracing`) embeds in retrieve as before, so the EMBEDDING
span stays under the retrieve node.

The worker is one small process-wide pool (`EmbeddingWorker`): created on first use,
reused by every run (no thread per turn), re-created in a forked child, and joined at
interpreter exit by `concurrent.futures`. A vector still queued behind other runs' when
retrieve wants it is cancelled and embedded in retrieve, so a busy worker never makes a
turn wait longer than embedding it there would.

Core pieces:
    - `prefetch_vector(store, text)`: start embedding `text` with the store's embedder.
    - `PrefetchedVector`: that pending vector; `take(embedder, text)` in retrieve.
    - `PREFETCHED_VECTOR_KEY`: the run config's `configurable` key it travels under;
      `run_prefetched()` reads it in a node.
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings
from langgraph.config import get_config
from langgraph.store.base import BaseStore

from hippograph.memory.similarity import store_embeddings
from hippograph.store.embeddings import embed_queries
from hippograph.store.query_vectors import takes_query_vectors
from hippograph.tracing.setup import active_tracing

PREFETCHED_VECTOR_KEY = "__hippograph_prefetched_vector"
"""The run config's `configurable` key of a `PrefetchedVector` (`__`: not checkpoint metadata)."""

THREAD_NAME = "hippograph-embed"
"""The name prefix of the embedding worker's threads."""

WORKERS = 2
"""Threads of the process-wide embedding worker: runs of two threads (or two async turns)
overlap their embeddings; more would only contend for the same cores."""


@dataclass(frozen=True, slots=True)
class PrefetchedVector:
    """The vector of `text` by `embedder`, being computed on the embedding worker.

    Only code can put one in a run's config: a client of the LangGraph server sends JSON,
    never this class.
    """

    embedder: Embeddings
    text: str
    future: Future[list[list[float]]]

    def take(self, embedder: Embeddings, text: str) -> list[float] | None:
        """The vector of `text` if this is it (same text, same embedder object), waiting
        for it if it is being computed; `None` — embed it yourself — when it is another
        text's, or still queued on a busy worker (then it is cancelled).

        Raises:
            Exception: whatever the embedder raised for it.
        """
        if self.embedder is not embedder or self.text != text:
            return None
        if self.future.cancel():
            return None
        return self.future.result()[0]

    def cancel(self) -> None:
        """Drop the vector if it has not started (a run that ends before retrieve)."""
        self.future.cancel()


class EmbeddingWorker:
    """A lazily created, reused thread pool for prefetched vectors (one per process)."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def submit(self, embedder: Embeddings, text: str) -> PrefetchedVector:
        """Start embedding `text` with `embedder`, in the caller's context (tracing spans
        and other context variables see the run that asked)."""
        context = contextvars.copy_context()
        future = self._executor().submit(context.run, embed_queries, embedder, [text])
        return PrefetchedVector(embedder, text, future)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():  # none yet, or forked
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=THREAD_NAME)
                self._pid = os.getpid()
            return self._pool


_WORKER = EmbeddingWorker()


def prefetch_vector(store: BaseStore | None, text: str) -> PrefetchedVector | None:
    """Start embedding a turn's message `text` with `store`'s embedder, for retrieve; `None`
    when retrieve would not use it (no store or embedder, a store that embeds its queries
    itself — see `takes_query_vectors` — or a blank text), and in a traced process
    (`hippograph.tracing`): there the embedding stays in retrieve, whose span it belongs
    under (before the run starts there is no span to put it under)."""
    if store is None or not text.strip() or not takes_query_vectors(store):
        return None
    if active_tracing() is not None:
        return None
    embedder = store_embeddings(store)
    if embedder is None:
        return None
    return _WORKER.submit(embedder, text)


def run_prefetched() -> PrefetchedVector | None:
    """The `PrefetchedVector` the current run started, if any (anything else under the key —
    a caller's JSON — is ignored; so is a call outside a run)."""
    try:
        configurable = get_config().get("configurable") or {}
    except RuntimeError:  # called outside a runnable context
        return None
    found = configurable.get(PREFETCHED_VECTOR_KEY)
    return found if isinstance(found, PrefetchedVector) else None
