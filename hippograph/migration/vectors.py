"""`StoredVectors`: an `Embeddings` that serves a source store's vectors instead of embedding.

The target store embeds what it is given through its `IndexConfig`; during a migration that
embedder is `StoredVectors`, which looks each text up by its content hash among the
source's stored vectors. A text the source never embedded is an error, named with the text,
unless a fallback embedder was given (`--reembed-missing`), which then embeds it and is
counted in the report.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from hippograph.store.codec import text_hash


class MissingVectorError(LookupError):
    """The source holds no vector for a text the target wants indexed."""


class StoredVectors(Embeddings):
    """Serves stored vectors by text hash; never embeds unless given a `fallback`.

    Args:
        lookup: Finds a stored vector by text hash (`None` if there is none).
        dims: Dimension of the stored vectors.
        fallback: Embeds texts with no stored vector; `None` makes them an error.
    """

    def __init__(
        self,
        lookup: Callable[[str], np.ndarray | None],
        dims: int,
        *,
        fallback: Embeddings | None = None,
    ) -> None:
        self.dims = dims
        self._lookup = lookup
        self._fallback = fallback
        self._known: dict[str, np.ndarray] = {}
        self.served = 0
        self.reembedded = 0

    def prime(self, vectors: dict[str, np.ndarray]) -> None:
        """Make `{text hash: vector}` available (the current chunk's vectors)."""
        self._known = vectors

    def _find(self, text: str) -> np.ndarray | None:
        digest = text_hash(text)
        vector = self._known.get(digest)
        return vector if vector is not None else self._lookup(digest)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The stored vector of each text.

        Raises:
            MissingVectorError: a text has no stored vector and there is no fallback.
        """
        found = [self._find(text) for text in texts]
        missing = [i for i, vector in enumerate(found) if vector is None]
        if missing and self._fallback is None:
            text = texts[missing[0]]
            raise MissingVectorError(
                f"{len(missing)} text(s) to index have no stored vector in the source, e.g. "
                f"{text[:80]!r}. Nothing is re-embedded silently: pass --reembed-missing to "
                "embed such texts now with the configured embedder."
            )
        if missing and self._fallback is not None:
            fresh = self._fallback.embed_documents([texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                found[i] = np.asarray(vector, dtype=np.float32)
            self.reembedded += len(missing)
        self.served += len(texts) - len(missing)
        return [np.asarray(vector).tolist() for vector in found]

    def embed_query(self, text: str) -> list[float]:
        """Queries are never stored: only a fallback can embed them."""
        if self._fallback is None:
            raise MissingVectorError(
                "StoredVectors only replays stored document vectors; it cannot embed a query"
            )
        return self._fallback.embed_query(text)
