"""hippograph's storage layer: `FaissSqliteStore`, embeddings and the `Memory` type.

Core pieces:
    - `FaissSqliteStore`: a LangGraph `BaseStore` on SQLite (truth) + FAISS (index).
    - `LocalEmbeddings`: offline all-MiniLM-L6-v2 int8 ONNX embeddings.
    - `Memory`: the typed view of a memory item, with converters to and from store items.
    - `Link`, `LinkOp` / `UnlinkOp` / `ListLinksOp`, `LinkExpansion`: links between items
      of a namespace and how search follows them (`links.py`).
    - `ExpectOp` / `WriteConflictError`: conditional batches, committed only if the items
      they read are unchanged (compare-and-set on `updated_at`, `conditions.py`).

This package imports nothing else of hippograph.
"""

from hippograph.store.conditions import ExpectOp, WriteConflictError, supports_expectations
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
from hippograph.store.ranking import HybridSearch
from hippograph.store.vector_index import IndexPolicy

__all__ = [
    "CATEGORIES",
    "EmbeddingDimensionError",
    "EmbeddingError",
    "ExpectOp",
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
    "StoreClosedError",
    "StoreConfigError",
    "UnlinkOp",
    "WriteConflictError",
    "clamp_importance",
    "link_expansion",
    "memory_namespace",
    "normalize_category",
    "provenance",
    "resolve_embeddings",
    "supports_expectations",
]
