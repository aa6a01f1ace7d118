"""hippograph: long-term memory for LLM agents, built on LangGraph.

Core pieces:
    - `FaissSqliteStore`: a LangGraph `BaseStore` on SQLite (source of truth) + FAISS (index).
    - `LocalEmbeddings`: the offline all-MiniLM-L6-v2 int8 ONNX embedder.
    - `Memory`: the typed view of a memory item.
"""

from __future__ import annotations

from pathlib import Path

from hippograph._source_layout import source_root as _source_root

_root = _source_root(Path(__file__).resolve().parent)
if _root is not None and str(_root) not in __path__:
    __path__.append(str(_root))
del _root
