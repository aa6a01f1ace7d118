"""What the property tests compare: a deterministic embedder, the oracle, and item snapshots.

`WordEmbeddings` turns a text into the normalised sum of fixed random vectors of its words,
so a score is a plain cosine any store computes the same way (up to float rounding), and
no model is loaded. `Oracle` is LangGraph's `InMemoryStore` with two quirks removed that
are not part of the contract: it keeps listing namespaces whose items were all deleted, and
a `get` creates an empty namespace. PostgresStore and ours list only namespaces that hold
items.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, Op, PutOp, Result
from langgraph.store.memory import InMemoryStore

DIMS = 16


class WordEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors (never zero: every text gets a constant part)."""

    dims = DIMS
    model_name = "word-bag-16"

    def _vector(self, text: str) -> list[float]:
        total = np.zeros(DIMS)
        total[0] = 0.25
        for word in text.lower().split():
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            total += np.random.default_rng(seed).standard_normal(DIMS)
        return (total / np.linalg.norm(total)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """The vector of `text`."""
        return self._vector(text)


class Oracle(InMemoryStore):
    """`InMemoryStore` listing only namespaces that hold items (see the module docstring)."""

    def batch(self, ops: Any) -> list[Result]:
        """As `InMemoryStore.batch` (reads first, then writes), then drop namespaces left
        without items."""
        ops = list(ops)
        reads = iter(super().batch([op for op in ops if not isinstance(op, PutOp)]))
        results = [None if isinstance(op, PutOp) else next(reads) for op in ops]
        for op in ops:
            if isinstance(op, PutOp):
                self._vectors[op.namespace].pop(op.key, None)
                super().batch([op])
        for namespace in [ns for ns, items in self._data.items() if not items]:
            del self._data[namespace]
        return results

    async def abatch(self, ops: Any) -> list[Result]:
        """Async twin of `batch`."""
        return self.batch(ops)


def snapshot(store: BaseStore, roots: list[tuple[str, ...]]) -> dict[tuple, dict[str, Any]]:
    """`{(namespace, key): value}` of every item under `roots` (read with `search`)."""
    found: dict[tuple, dict[str, Any]] = {}
    for root in roots:
        for item in store.search(root, limit=100_000):
            found[(tuple(item.namespace), item.key)] = item.value
    return found


def scored(results: Any) -> dict[tuple, float | None]:
    """`{(namespace, key): score}` of search results."""
    return {(tuple(r.namespace), r.key): r.score for r in results}


def run(store: BaseStore, ops: list[Op]) -> list[Result]:
    """`store.batch(ops)`, or the exception it raised (so two stores can be compared)."""
    try:
        return store.batch(ops)
    except Exception as exc:
        return [exc]
