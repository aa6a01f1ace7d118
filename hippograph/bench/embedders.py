"""Embedders for the benchmarks: pre-computed vectors, and a timing wrapper for real models.

Both time themselves, so a benchmark can report a store's own cost with the embedder's
time taken out — or in, for the end-to-end figures of the real-model run.
"""

from __future__ import annotations

import time

import numpy as np
from langchain_core.embeddings import Embeddings


class PrecomputedEmbeddings(Embeddings):
    """Serves fixed vectors for texts `"doc <i>"` and `"query <j>"` (no model involved).

    The text says which vector it gets, whichever method embeds it: some stores (LangGraph's
    `PostgresStore`) embed search queries with `embed_documents`. Vectors come back as
    `list[list[float]]`, as from any LangChain embedder, so every store receives what it
    would receive in real use.
    """

    def __init__(self, documents: np.ndarray, queries: np.ndarray) -> None:
        self.documents = documents
        self.queries = queries
        self.dims = int(documents.shape[1])
        self.seconds = 0.0
        """Time spent inside this embedder so far."""
        self.cpu_seconds = 0.0
        """CPU time spent inside this embedder so far (by any thread)."""

    def _vector(self, text: str) -> list[float]:
        kind, number = text.rsplit(" ", 1)
        rows = {"doc": self.documents, "query": self.queries}.get(kind)
        if rows is None:
            raise ValueError(f"not a benchmark text: {text!r} (expected 'doc <i>' or 'query <j>')")
        vector: list[float] = rows[int(number)].tolist()
        return vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of `"doc <i>"` / `"query <j>"` texts."""
        start, cpu = time.perf_counter(), time.thread_time()
        rows = [self._vector(text) for text in texts]
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.thread_time() - cpu
        return rows

    def embed_query(self, text: str) -> list[float]:
        """Vector of a `"doc <i>"` / `"query <j>"` text."""
        start, cpu = time.perf_counter(), time.thread_time()
        row = self._vector(text)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.thread_time() - cpu
        return row


class TimedEmbeddings(Embeddings):
    """Wraps a real embedder: adds up the time spent in it and keeps every vector it returned
    (so recall can be checked against exact search over the same vectors)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.dims = getattr(inner, "dims", None)
        self.seconds = 0.0
        self.documents: dict[str, list[float]] = {}
        self.queries: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed `texts` with the wrapped model, timed and remembered."""
        start = time.perf_counter()
        vectors = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - start
        self.documents.update(zip(texts, vectors, strict=True))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed a query with the wrapped model, timed."""
        start = time.perf_counter()
        vector = self.inner.embed_query(text)
        self.seconds += time.perf_counter() - start
        self.queries[text] = vector
        return vector
