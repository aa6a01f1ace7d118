"""Named errors raised by the store, so callers can tell bad input from broken infrastructure."""

from __future__ import annotations

from langgraph.store.base import InvalidNamespaceError

__all__ = [
    "EmbeddingDimensionError",
    "EmbeddingError",
    "InvalidFilterKeyError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "StoreClosedError",
    "StoreConfigError",
]


class InvalidValueError(ValueError):
    """A value, key, filter or option cannot be stored or evaluated as given."""


class InvalidFilterKeyError(InvalidValueError):
    """A search filter key that is not a dotted path of labels (`"Invalid filter key: ..."`,
    the `ValueError` LangGraph's `SqliteStore` raises for such keys)."""


class EmbeddingError(RuntimeError):
    """The embedder failed; nothing was written."""


class EmbeddingDimensionError(EmbeddingError, ValueError):
    """The embedder returned vectors of the wrong size (or non-finite numbers)."""


class StoreConfigError(ValueError):
    """The store was opened with a configuration that contradicts what is on disk."""


class StoreClosedError(RuntimeError):
    """The store was used after `close()`."""
