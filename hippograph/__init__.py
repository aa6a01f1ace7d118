"""hippograph: long-term memory for LLM agents, built on LangGraph.

Core pieces:
    - `build_agent` / `open_agent` / `aopen_agent`: the memory agent
      (retrieve → respond → extract → reconcile), checkpointed per thread.
    - `build_recall_graph` / `build_remember_graph`: memory as subgraphs of your own agent.
    - `FaissSqliteStore`: a LangGraph `BaseStore` on SQLite (source of truth) + FAISS (index).
    - `LocalEmbeddings`: the offline all-MiniLM-L6-v2 int8 ONNX embedder.
    - `Memory`: the typed view of a memory item; `MemoryManager`: one user's memories.
    - `LinkExpansion` / `link_expansion`: searches that follow links between memories.
    - `RecallLog`: how often each memory was recalled (the UI's "most recalled").
    - `erase_user`: right to erasure — every trace of one user, in every file.
    - `ScriptedChatModel`: a real chat model that answers from a script, for tests.
    - `answer_with_memory` / `process_message`: the two-call API.

Names are imported on first use, so `import hippograph` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "build_agent": "hippograph.graph.agent",
    "build_agent_graph": "hippograph.graph.agent",
    "open_agent": "hippograph.graph.agent",
    "aopen_agent": "hippograph.graph.agent",
    "build_recall_graph": "hippograph.graph.subgraphs",
    "build_remember_graph": "hippograph.graph.subgraphs",
    "Context": "hippograph.graph.context",
    "State": "hippograph.graph.state",
    "FaissSqliteStore": "hippograph.store",
    "LocalEmbeddings": "hippograph.store",
    "Memory": "hippograph.store",
    "memory_namespace": "hippograph.store",
    "provenance": "hippograph.store",
    "LinkExpansion": "hippograph.store",
    "link_expansion": "hippograph.store",
    "MemoryManager": "hippograph.memories",
    "RecallLog": "hippograph.recalls",
    "erase_user": "hippograph.erasure",
    "UserErasure": "hippograph.erasure",
    "ScriptedChatModel": "hippograph.scripted",
    "Settings": "hippograph.config",
    "answer_with_memory": "hippograph.api",
    "process_message": "hippograph.api",
    "Answer": "hippograph.api",
    "resolve_chat_model": "hippograph.nodes.models",
    "ModelUnavailableError": "hippograph.nodes.models",
    "ModelCallError": "hippograph.nodes.models",
    "open_store": "hippograph.backends",
    "aopen_store": "hippograph.backends",
    "open_checkpointer": "hippograph.backends",
    "aopen_checkpointer": "hippograph.backends",
}

__all__ = [
    "Answer",
    "Context",
    "FaissSqliteStore",
    "LinkExpansion",
    "LocalEmbeddings",
    "Memory",
    "MemoryManager",
    "ModelCallError",
    "ModelUnavailableError",
    "RecallLog",
    "ScriptedChatModel",
    "Settings",
    "State",
    "UserErasure",
    "answer_with_memory",
    "aopen_agent",
    "aopen_checkpointer",
    "aopen_store",
    "build_agent",
    "build_agent_graph",
    "build_recall_graph",
    "build_remember_graph",
    "erase_user",
    "link_expansion",
    "memory_namespace",
    "open_agent",
    "open_checkpointer",
    "open_store",
    "process_message",
    "provenance",
    "resolve_chat_model",
]

if TYPE_CHECKING:
    from hippograph.api import Answer, answer_with_memory, process_message
    from hippograph.backends import aopen_checkpointer, aopen_store, open_checkpointer, open_store
    from hippograph.config import Settings
    from hippograph.erasure import UserErasure, erase_user
    from hippograph.graph.agent import aopen_agent, build_agent, build_agent_graph, open_agent
    from hippograph.graph.context import Context
    from hippograph.graph.state import State
    from hippograph.graph.subgraphs import build_recall_graph, build_remember_graph
    from hippograph.memories import MemoryManager
    from hippograph.nodes.models import ModelCallError, ModelUnavailableError, resolve_chat_model
    from hippograph.recalls import RecallLog
    from hippograph.scripted import ScriptedChatModel
    from hippograph.store import (
        FaissSqliteStore,
        LinkExpansion,
        LocalEmbeddings,
        Memory,
        link_expansion,
        memory_namespace,
        provenance,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hippograph' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
