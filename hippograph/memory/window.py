"""The recent-turns window's query vector, pooled from per-message vectors instead of embedded.

Retrieve's second query joins the last few user messages with the latest one, so a
follow-up ("and her birthday?") still finds what the conversation is about. Embedding that
joined text costs a model run over all of it every turn (~48 tokens: 3-4x the latest
message alone), although each earlier message was already embedded as the latest message of
its own turn. So the window's vector is a weighted mean of the messages' own vectors
(`pooled`, the latest weighing half); the store still searches with the joined *text* for
everything but the vector (the keyword side of a hybrid search).
`benchmarks/window_recall.py` measures the recall of both on LoCoMo.

Where the per-message vectors come from: the thread's state keeps the last few
(`State.recent_vectors`, 768 bytes each: float16, base64), so a thread resumed in another process
still has them; any that are missing (the first turn after an upgrade, a subgraph without a
checkpointer, a switched embedder) are embedded together with the latest message in one
call.

Core pieces:
    - `window_vectors(store, queries, saved, keep)`: the query vectors to search with and the
      record to save for the next turn, or nothing on a store that cannot take given
      vectors (LangGraph's `InMemoryStore` embeds the joined text, as before).
    - `pooled`: the window's vector from the messages' (the latest weighing `LATEST_SHARE`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
from langgraph.store.base import BaseStore

from hippograph.memory.prefetch import PrefetchedVector
from hippograph.memory.search import Query
from hippograph.memory.similarity import store_embeddings
from hippograph.memory.state import MessageVectors
from hippograph.store.embeddings import embed_queries, embedder_name
from hippograph.store.errors import EmbeddingError
from hippograph.store.query_vectors import takes_query_vectors

LATEST_SHARE = 0.5
"""The latest message's share of the window's pooled vector; the earlier messages share
the rest equally. Measured on LoCoMo (`benchmarks/results/window_recall.md`): half beats
both a plain mean and the embedded joined text."""


def pooled(vectors: Sequence[np.ndarray], latest_share: float = LATEST_SHARE) -> np.ndarray:
    """The window's query vector: a weighted mean of unit `vectors` (the earlier messages,
    then the latest one), normalised. The last gets `latest_share` of the weight (all of it
    when it is alone), the others share the rest equally."""
    *earlier, latest = vectors
    if not earlier:
        return latest
    weights = [(1.0 - latest_share) / len(earlier)] * len(earlier) + [latest_share]
    mean = np.average(np.stack(vectors), axis=0, weights=weights)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def window_vectors(
    store: BaseStore,
    queries: Sequence[Query],
    saved: Mapping[str, object] | None,
    keep: int,
    prefetched: PrefetchedVector | None = None,
) -> tuple[dict[str, np.ndarray], MessageVectors | None]:
    """The vectors to search `queries` with, and the `MessageVectors` to save for the next turn.

    `queries` are retrieve's: the latest message, then (optionally) the window query whose
    `parts` are the messages it joins. Each message's vector comes from `saved` (the
    thread's record) when the same embedder made it, else from one embedder call for all
    that are missing. The window query searches with their pooled vector. The record keeps
    the last `keep` messages' vectors (the latest included), so the next turn's window
    finds them there. The latest message's vector is taken from `prefetched` when that is
    it (`hippograph.memory.prefetch`: started when the run did).

    Returns `({}, None)` — search as usual — when the store cannot take given vectors, has
    no embedder, or there is nothing to search.

    Raises:
        EmbeddingError: the embedder failed.
    """
    embedder = store_embeddings(store)
    if not queries or embedder is None or not takes_query_vectors(store):
        return {}, None
    latest, window = queries[0], (queries[1] if len(queries) > 1 else None)
    parts = window.parts if window is not None else ()
    texts = [text for text in (*parts, latest.text) if text.strip()]
    if not texts:
        return {}, None
    name = embedder_name(embedder)
    known = _decoded(saved, name)
    known.pop(_digest(latest.text), None)  # the latest is searched with its exact vector
    missing = list(dict.fromkeys(t for t in texts if _digest(t) not in known))
    if missing:
        try:
            early = prefetched.take(embedder, latest.text) if prefetched is not None else None
            if early is not None:
                known[_digest(latest.text)] = _unit(early)
                missing.remove(latest.text)
            fresh = embed_queries(embedder, missing) if missing else []
            for text, raw in zip(missing, fresh, strict=True):
                known[_digest(text)] = _unit(raw)
        except Exception as exc:
            raise EmbeddingError(f"embedding the turn failed: {exc!r}") from exc
    by_text = {text: known[_digest(text)] for text in texts}
    if len({len(vector) for vector in by_text.values()}) > 1:
        raise EmbeddingError("the embedder returned vectors of different sizes")
    vectors = {latest.text: by_text[latest.text]} if latest.text in by_text else {}
    if window is not None:
        vectors[window.text] = pooled([by_text[text] for text in texts])
    kept = list(dict.fromkeys(texts))[-keep:] if keep else []
    record = MessageVectors(embedder=name, vectors={_digest(t): _encoded(by_text[t]) for t in kept})
    return vectors, record


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _unit(raw: Sequence[float] | np.ndarray) -> np.ndarray:
    vector = np.asarray(raw, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _encoded(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f2").tobytes()).decode("ascii")


def _decoded(saved: Mapping[str, object] | None, embedder: str) -> dict[str, np.ndarray]:
    """The saved vectors by digest, if `embedder` made them; anything malformed is dropped
    (a vector that cannot be read is simply embedded again)."""
    if not isinstance(saved, Mapping) or saved.get("embedder") != embedder:
        return {}
    vectors = saved.get("vectors")
    found: dict[str, np.ndarray] = {}
    for digest, data in vectors.items() if isinstance(vectors, Mapping) else ():
        try:
            vector = np.frombuffer(base64.b64decode(str(data), validate=True), dtype="<f2")
        except ValueError:
            continue
        if len(vector) and np.isfinite(vector).all() and vector.any():
            found[str(digest)] = _unit(vector.astype(np.float32))
    return found
