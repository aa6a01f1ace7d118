"""hippograph's storage layer: `FaissSqliteStore`, embeddings and the `Memory` type.

Core pieces:
    - `FaissSqliteStore`: a LangGraph `BaseStore` on SQLite (truth) + FAISS (index).
    - `ExtendedStore`: what both of hippograph's stores add to `BaseStore` (history, counts,
      erasure, links, verify); `PostgresMemoryStore` (`store.postgres`) is the other one.
    - `ExpectOp` / `StaleWriteError`: conditional writes (`expect.py`).
    - `LocalEmbeddings`: offline all-MiniLM-L6-v2 int8 ONNX embeddings.
    - `Memory`: the typed view of a memory item, with converters to and from store items.
    - `Link`, `LinkOp` / `UnlinkOp` / `ListLinksOp`, `LinkExpansion`: links between items
      of a namespace and how search follows them (`links.py`).
    - `query_vectors`: searches that rank by a vector the caller already has.

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
from hippograph.store.expect import ExpectOp, StaleWriteError
from hippograph.store.extras import ExtendedStore
from hippograph.store.faiss_sqlite import FaissSqliteStore
from hippograph.store.history import HistoryEntry, provenance
from hippograph.store.index_policy import IndexPolicy
from hippograph.store.links import (
    Link,
    LinkedSearchItem,
    LinkEndpointError,
    LinkExpansion,
    LinkOp,
    ListLinksOp,
    UnlinkOp,
    link_expansion,
)
from hippograph.store.memory import (
    CATEGORIES,
    Memory,
    clamp_importance,
    memory_namespace,
    normalize_category,
)
from hippograph.store.query_vectors import query_vectors
from hippograph.store.ranking import HybridSearch

__all__ = [
    "CATEGORIES",
    "EmbeddingDimensionError",
    "EmbeddingError",
    "ExpectOp",
    "ExtendedStore",
    "FaissSqliteStore",
    "HistoryEntry",
    "HybridSearch",
    "IndexPolicy",
    "InvalidNamespaceError",
    "InvalidValueError",
    "Link",
    "LinkEndpointError",
    "LinkExpansion",
    "LinkOp",
    "LinkedSearchItem",
    "ListLinksOp",
    "LocalEmbeddings",
    "Memory",
    "StaleWriteError",
    "StoreClosedError",
    "StoreConfigError",
    "UnlinkOp",
    "clamp_importance",
    "link_expansion",
    "memory_namespace",
    "normalize_category",
    "provenance",
    "query_vectors",
    "resolve_embeddings",
]
