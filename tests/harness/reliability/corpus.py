"""Memory-like sentences and their real embeddings, computed once and served by lookup.

The crash and concurrency harnesses test the store, not the embedder: they write thousands
of items from processes that are started and killed hundreds of times. Loading the ONNX
model in every writer (and spending ~10 ms per text) would leave little time for writes
between kills, and a checker could not know what vector an acknowledged write must have.
So the local all-MiniLM-L6-v2 embeds a fixed corpus once; writers serve those exact vectors
from a file (`PrecomputedEmbeddings`), and checkers compare stored vectors bit for bit.

Core pieces:
    - `sentences(count)`: a deterministic list of distinct memory-like sentences.
    - `precompute(texts, embeddings, path)`: embed with a real embedder and save (`.npz`).
    - `PrecomputedEmbeddings`: a LangChain `Embeddings` serving the saved vectors.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

_NAMES = ("Maya", "Jonas", "Aiko", "Priya", "Tomás", "Lena", "Omar", "Chen", "Sofia", "Kwame")
_ACTS = (
    "codes mostly in",
    "is learning",
    "prefers",
    "keeps forgetting about",
    "wants to try",
    "stopped using",
    "recommends",
    "writes notes about",
)
_THINGS = (
    "Python",
    "Rust",
    "NeoVim",
    "sourdough baking",
    "trail running",
    "the cello",
    "watercolour painting",
    "Kubernetes",
    "chess openings",
    "Portuguese",
    "birdwatching",
    "jazz piano",
    "bouldering",
    "fermented hot sauce",
)
_WHEN = (
    "on weekday mornings",
    "since moving to Lisbon",
    "at the office in Berlin",
    "with an old friend",
    "after the spring trip",
    "for the team project",
    "every Sunday",
    "during long flights",
)


class UnknownTextError(KeyError):
    """`PrecomputedEmbeddings` was asked for a text it has no vector for."""


def sentences(count: int, seed: int = 0) -> list[str]:
    """`count` distinct sentences such as "Maya prefers NeoVim every Sunday", in a fixed
    shuffled order for `seed`."""
    pool = [
        f"{name} {act} {thing} {when}"
        for name, act, thing, when in itertools.product(_NAMES, _ACTS, _THINGS, _WHEN)
    ]
    if count > len(pool):
        raise ValueError(f"at most {len(pool)} distinct sentences, asked for {count}")
    random.Random(seed).shuffle(pool)
    return pool[:count]


def corpus_digest(texts: Sequence[str]) -> str:
    """A short content hash of `texts` (names a cache file)."""
    digest = hashlib.blake2b(digest_size=8)
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def precompute(texts: Sequence[str], embeddings: Embeddings, path: str | Path) -> Path:
    """Embed `texts` with `embeddings` (a real model) and save texts and vectors to `path`
    (`.npz`); an existing file for the same texts is reused."""
    path = Path(path)
    if path.is_file():
        with np.load(path) as saved:
            if list(saved["texts"]) == list(texts):
                return path
    vectors = np.asarray(embeddings.embed_documents(list(texts)), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp.npz")
    np.savez(temp, texts=np.asarray(list(texts)), vectors=vectors)
    temp.replace(path)
    return path


class PrecomputedEmbeddings(Embeddings):
    """Serves vectors a real embedder computed earlier (see `precompute`), by exact text.

    Args:
        path: The `.npz` file `precompute` wrote.

    Raises (on use):
        UnknownTextError: a text that was not precomputed.
    """

    model_name = "precomputed-all-MiniLM-L6-v2-int8"

    def __init__(self, path: str | Path) -> None:
        with np.load(path) as saved:
            texts = [str(t) for t in saved["texts"]]
            vectors = np.asarray(saved["vectors"], dtype=np.float32)
        self.texts = texts
        self.dims = int(vectors.shape[1])
        self._vectors = dict(zip(texts, vectors, strict=True))

    def vector(self, text: str) -> np.ndarray:
        """The vector of `text`, as computed by the real embedder."""
        try:
            return self._vectors[text]
        except KeyError:
            raise UnknownTextError(text) from None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of `texts`, in order."""
        return [self.vector(text).tolist() for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """Vector of one text."""
        return self.vector(text).tolist()
