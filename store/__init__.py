"""hippograph's storage layer: `FaissSqliteStore`, embeddings and the `Memory` type.

Core pieces:
    - `FaissSqliteStore`: a LangGraph `BaseStore` on SQLite (truth) + FAISS (index).
    - `LocalEmbeddings`: offline all-MiniLM-L6-v2 int8 ONNX embeddings.
    - `Memory`: the typed view of a memory item, with converters to and from store items.

This package imports nothing else of hippograph.
"""

from hippograph.store.embeddings import LocalEmbeddings, resolve_embeddings
from hippograph.store.errors import (
    EmbeddingDimensionError,
    EmbeddingError,
    InvalidNamespaceError,
    InvalidValueError,
    StoreClosedError,
    StoreConfigError,
)
from hippograph.store.faiss_sqlite import FaissSqliteStore
from hippograph.store.history import HistoryEntry, provenance
from hippograph.store.memory import (
    CATEGORIES,
    Memory,
    clamp_importance,
    memory_namespace,
    normalize_category,
)
from hippograph.store.ranking import HybridSearch
from hippograph.store.vector_index import IndexPolicy

__all__ = [
    "CATEGORIES",
    "EmbeddingDimensionError",
    "EmbeddingError",
    "FaissSqliteStore",
    "HistoryEntry",
    "HybridSearch",
    "IndexPolicy",
    "InvalidNamespaceError",
    "InvalidValueError",
    "LocalEmbeddings",
    "Memory",
    "StoreClosedError",
    "StoreConfigError",
    "clamp_importance",
    "memory_namespace",
    "normalize_category",
    "provenance",
    "resolve_embeddings",
]
