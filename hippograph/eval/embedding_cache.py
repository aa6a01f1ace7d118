"""`DiskCachedEmbeddings`: an embedder whose vectors survive the process, keyed by model and text.

The retrieval study scores the same 4,124 LoCoMo turns and 1,986 questions in every
cross-validation fold and every run, and the search benchmarks embed them again: with the
cache each text is embedded once per machine. Vectors are stored as float32 in a small
SQLite file (one row per model and text hash), so a cache can be shared and deleted freely.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings
from platformdirs import user_cache_dir

DEFAULT_CACHE = Path(user_cache_dir("hippograph")) / "embeddings.sqlite"
"""Where the cache lives unless told otherwise."""


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class DiskCachedEmbeddings(Embeddings):
    """Wraps an embedder; texts it has embedded before are read back from `path`.

    Args:
        inner: The real embedder (its `model_name`, or class name, keys the cache).
        path: The cache file (created on first use).
        batch_size: Texts sent to `inner` per call when many are missing.
    """

    def __init__(
        self, inner: Embeddings, path: str | Path = DEFAULT_CACHE, *, batch_size: int = 256
    ) -> None:
        self.inner = inner
        self.dims = getattr(inner, "dims", None)
        self.model_name = str(getattr(inner, "model_name", type(inner).__name__))
        self.batch_size = batch_size
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, digest TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model, digest)) WITHOUT ROWID"
        )
        self._conn.commit()

    def _lookup(self, digests: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            rows = self._conn.execute(
                f"SELECT digest, vector FROM vectors WHERE model = ? AND digest IN "
                f"({','.join('?' * len(chunk))})",
                (self.model_name, *chunk),
            )
            found.update((d, np.frombuffer(v, dtype=np.float32)) for d, v in rows)
        return found

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of `texts`; only texts never seen before reach the real embedder."""
        return self._embed(texts, query=False)

    def embed_query(self, text: str) -> list[float]:
        """Vector of one query (cached apart from documents: some models embed them
        differently)."""
        return self._embed([text], query=True)[0]

    def _embed(self, texts: list[str], *, query: bool) -> list[list[float]]:
        digests = [_digest(("\x00query\x00" if query else "") + t) for t in texts]
        with self._lock:
            found = self._lookup(sorted(set(digests)))
        missing = {d: t for d, t in zip(digests, texts, strict=True) if d not in found}
        todo = list(missing.items())
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            batch = [t for _, t in chunk]
            vectors = (
                [self.inner.embed_query(t) for t in batch]
                if query
                else self.inner.embed_documents(batch)
            )
            rows = [
                (d, np.asarray(v, dtype=np.float32))
                for (d, _), v in zip(chunk, vectors, strict=True)
            ]
            with self._lock:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO vectors (model, digest, vector) VALUES (?, ?, ?)",
                    [(self.model_name, d, v.tobytes()) for d, v in rows],
                )
                self._conn.commit()
            found.update(rows)
        return [found[d].tolist() for d in digests]

    def close(self) -> None:
        """Close the cache file."""
        with self._lock:
            self._conn.close()
