"""Query vectors the caller already has: searches that use them instead of embedding the text.

A caller that already holds the vector of a search's query (retrieve pools its recent-turns
window from vectors it computed in earlier turns) hands it over with `query_vectors`; the
search then ranks by that vector and still uses the query *text* for everything else (the
keyword side of a hybrid search, date hints). Nothing is cached under the text: a given
vector need not be the text's own embedding.

Core pieces:
    - `query_vectors({text: vector})`: searches made inside whose `query` is a key use the
      vector (works across threads and `asyncio.to_thread`, like `search_explain`).
    - `given_query_vector(text, dims)`: what a store's batch planner asks.
    - `takes_query_vectors(store)`: whether a store honours them (both of hippograph's
      stores do; LangGraph's `InMemoryStore` ignores them and embeds the text, so a caller
      can skip computing vectors it would not use).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from hippograph.store.errors import InvalidValueError

_GIVEN: ContextVar[Mapping[str, np.ndarray] | None] = ContextVar(
    "hippograph_query_vectors", default=None
)


@contextmanager
def query_vectors(vectors: Mapping[str, Sequence[float] | np.ndarray]) -> Iterator[None]:
    """Searches made inside whose query text is a key of `vectors` rank by that vector.

    Each vector is normalised to unit length (the stores' indexes hold unit vectors).

    Example:
        ```python
        with query_vectors({"and her birthday?": pooled}):
            hits = store.search(("memories", "alice"), query="and her birthday?")
        ```

    Raises:
        InvalidValueError: a vector is not a finite, non-zero 1-d sequence of numbers.
    """
    checked = {text: _unit(text, vector) for text, vector in vectors.items()}
    token = _GIVEN.set({**(_GIVEN.get() or {}), **checked})
    try:
        yield
    finally:
        _GIVEN.reset(token)


def given_query_vector(text: str, dims: int) -> np.ndarray | None:
    """The vector given for query `text` in this context (`None`: embed the text).

    Raises:
        InvalidValueError: the given vector has another dimension than the store's index.
    """
    given = _GIVEN.get()
    vector = given.get(text) if given else None
    if vector is not None and len(vector) != dims:
        raise InvalidValueError(
            f"the query vector given for {text[:40]!r} has {len(vector)} dimensions; this "
            f"store's index has {dims}"
        )
    return vector


def takes_query_vectors(store: object) -> bool:
    """Whether `store` searches with vectors given by `query_vectors` (a class flag)."""
    return bool(getattr(type(store), "takes_query_vectors", False))


def _unit(text: str, vector: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"the query vector for {text[:40]!r} is not numbers: {exc}"
        ) from None
    norm = float(np.linalg.norm(array)) if array.ndim == 1 else 0.0
    if array.ndim != 1 or not np.isfinite(array).all() or norm == 0.0:
        raise InvalidValueError(
            f"the query vector for {text[:40]!r} must be a finite, non-zero 1-d vector"
        )
    return array / norm
