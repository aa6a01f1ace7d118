"""A provider's embedder with a memory of the texts it embedded recently.

A memory turn asks for the same text's vector several times: retrieve searches with the
user's message, reconcile searches with the fact it extracted (often the message itself),
re-scores the memories it found against it, and stores it. `LocalEmbeddings` keeps an LRU
of its own, so the model runs once per text; a provider's embedder (`init_embeddings`,
a LangChain `Embeddings` class, a callable) has none, and each of those asks was a request
— paid for and waited on (issue 16: "embed each text once per turn").

`CachedEmbeddings` wraps such an embedder with an LRU of recent texts. Queries and documents
are kept apart (a provider may embed them differently), so are embedding scopes (tenants:
`hippograph.store.embedding_scope`), a text is sent at most once per call, and a vector
comes back exactly as the provider returned it (float64, no rounding).
`hippograph.store.embeddings.cached_embeddings` keeps one per embedder for the process.

Core pieces:
    - `CachedEmbeddings`: the wrapper; `inner` is the provider's embedder.
    - `unwrap_embeddings`: the embedder under the cache (names, model checks).
    - `model_of`: the model an embedder names.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from hippograph.store.embedding_scope import current_embedding_scope

Kind = Literal["query", "document"]

DEFAULT_CACHE_SIZE = 1024
"""Texts kept per embedder: ~12 MB of 1536-d float64 vectors, ~3 MB at 384-d."""


class CachedEmbeddings(Embeddings):
    """`inner` with an LRU of the last `cache_size` texts it embedded, queries and documents
    apart, each `embedding_scope` apart: a text already embedded the same way in the same
    scope is not sent again.

    Thread-safe. Two threads asking for the same new text at once may both send it (the
    cache never holds a request open); the vectors are the provider's either way.

    Args:
        inner: The provider's embedder.
        cache_size: Texts remembered (per kind together); 0 remembers none.

    Example:
        ```python
        from langchain.embeddings import init_embeddings

        embedder = CachedEmbeddings(init_embeddings("openai:text-embedding-3-small"))
        embedder.embed_query("Where do I live?")  # one request
        embedder.embed_query("Where do I live?")  # none
        ```
    """

    def __init__(self, inner: Embeddings, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.inner = inner
        self.cache_size = cache_size
        self.dims = getattr(inner, "dims", None)
        self.model_name = model_of(inner)
        self._vectors: OrderedDict[tuple[Hashable, Kind, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CachedEmbeddings({self.inner!r}, cache_size={self.cache_size})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents for storage; only texts not embedded as documents lately are sent."""
        found, missing = self._lookup("document", texts)
        if missing:
            self._remember("document", missing, self.inner.embed_documents(missing), found)
        return [found[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query; not sent if it was embedded as a query lately."""
        found, missing = self._lookup("query", [text])
        if missing:
            self._remember("query", missing, [self.inner.embed_query(text)], found)
        return found[text]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async twin of `embed_documents`."""
        return await self._aembed("document", texts, self.inner.aembed_documents)

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of `embed_query`."""

        async def one(texts: list[str]) -> list[list[float]]:
            return [await self.inner.aembed_query(texts[0])]

        return (await self._aembed("query", [text], one))[0]

    async def _aembed(
        self,
        kind: Kind,
        texts: list[str],
        embed: Callable[[list[str]], Awaitable[list[list[float]]]],
    ) -> list[list[float]]:
        found, missing = self._lookup(kind, texts)
        if missing:
            self._remember(kind, missing, await embed(missing), found)
        return [found[text] for text in texts]

    def _lookup(self, kind: Kind, texts: Sequence[str]) -> tuple[dict[str, list[float]], list[str]]:
        """The vectors of `texts` remembered, and the distinct texts to send (in order)."""
        found: dict[str, list[float]] = {}
        missing: list[str] = []
        scope = current_embedding_scope()
        with self._lock:
            for text in texts:
                if text in found or text in missing:
                    continue
                vector = self._vectors.get((scope, kind, text))
                if vector is None:
                    missing.append(text)
                else:
                    self._vectors.move_to_end((scope, kind, text))
                    found[text] = vector.tolist()
        return found, missing

    def _remember(
        self,
        kind: Kind,
        texts: list[str],
        vectors: Sequence[Sequence[float]],
        found: dict[str, list[float]],
    ) -> None:
        """Add what the provider returned for `texts` to `found` and to the cache."""
        if len(vectors) != len(texts):
            raise ValueError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        for text, vector in zip(texts, vectors, strict=True):
            found[text] = list(vector)
        if not self.cache_size:
            return
        scope = current_embedding_scope()
        with self._lock:
            for text in texts:
                self._vectors[(scope, kind, text)] = np.asarray(found[text], dtype=np.float64)
                self._vectors.move_to_end((scope, kind, text))
            while len(self._vectors) > self.cache_size:
                self._vectors.popitem(last=False)


def unwrap_embeddings(embeddings: Embeddings) -> Embeddings:
    """The provider's embedder under a `CachedEmbeddings` (any other embedder as is)."""
    return embeddings.inner if isinstance(embeddings, CachedEmbeddings) else embeddings


def model_of(embeddings: Embeddings) -> str | None:
    """The model an embedder names (`model_name`, else `model`), if it names one."""
    for attr in ("model_name", "model"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            return value
    return None
