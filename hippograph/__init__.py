"""hippograph: long-term memory for LLM agents, built on LangGraph.

The public API — what most programs need, documented in the README:
    - `build_agent` / `open_agent` / `aopen_agent`: the memory agent
      (retrieve → respond → extract → reconcile), checkpointed per thread;
      `Context` (run context: `user_id`, …) and `State` (its state, for parent graphs).
    - `build_recall_graph` / `build_remember_graph`: memory as subgraphs of your own agent.
    - `answer_with_memory` / `process_message`: the two-call API.
    - `FaissSqliteStore`: a LangGraph `BaseStore` on SQLite (source of truth) + FAISS (index).
    - `Memory`: the typed view of a memory; `MemoryManager`: one user's memories (list,
      search, edit, history, export/import).
    - `Settings`: configuration from `HIPPOGRAPH_*` variables.
    - `erase_user`: right to erasure — every trace of one user, in every file.
    - `ScriptedChatModel`: a real chat model that answers from a script, for tests.

Everything else is imported from its module (`hippograph.store`, `hippograph.backends`,
`hippograph.recalls`, …). Names are imported on first use, so `import hippograph` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "build_agent": "hippograph.graph.agent",
    "open_agent": "hippograph.graph.agent",
    "aopen_agent": "hippograph.graph.agent",
    "Context": "hippograph.graph.context",
    "State": "hippograph.graph.state",
    "build_recall_graph": "hippograph.graph.subgraphs",
    "build_remember_graph": "hippograph.graph.subgraphs",
    "answer_with_memory": "hippograph.api",
    "process_message": "hippograph.api",
    "FaissSqliteStore": "hippograph.store",
    "Memory": "hippograph.store",
    "MemoryManager": "hippograph.memories",
    "Settings": "hippograph.config",
    "erase_user": "hippograph.erasure",
    "ScriptedChatModel": "hippograph.scripted",
}

_ELSEWHERE: dict[str, str] = {
    "build_agent_graph": "hippograph.graph.agent",
    "Answer": "hippograph.api",
    "LocalEmbeddings": "hippograph.store",
    "LinkExpansion": "hippograph.store",
    "link_expansion": "hippograph.store",
    "memory_namespace": "hippograph.store",
    "provenance": "hippograph.store",
    "RecallLog": "hippograph.recalls",
    "UserErasure": "hippograph.erasure",
    "resolve_chat_model": "hippograph.memory.chat_models",
    "ModelUnavailableError": "hippograph.memory.chat_models",
    "ModelCallError": "hippograph.memory.chat_models",
    "open_store": "hippograph.backends",
    "aopen_store": "hippograph.backends",
    "open_checkpointer": "hippograph.backends",
    "aopen_checkpointer": "hippograph.backends",
}
"""Names that are not top-level exports (any more): the error says where to import them."""

__all__ = [
    "Context",
    "FaissSqliteStore",
    "Memory",
    "MemoryManager",
    "ScriptedChatModel",
    "Settings",
    "State",
    "answer_with_memory",
    "aopen_agent",
    "build_agent",
    "build_recall_graph",
    "build_remember_graph",
    "erase_user",
    "open_agent",
    "process_message",
]

if TYPE_CHECKING:
    from hippograph.api import answer_with_memory, process_message
    from hippograph.config import Settings
    from hippograph.erasure import erase_user
    from hippograph.graph.agent import aopen_agent, build_agent, open_agent
    from hippograph.graph.context import Context
    from hippograph.graph.state import State
    from hippograph.graph.subgraphs import build_recall_graph, build_remember_graph
    from hippograph.memories import MemoryManager
    from hippograph.scripted import ScriptedChatModel
    from hippograph.store import FaissSqliteStore, Memory


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        where = _ELSEWHERE.get(name)
        hint = f"; import it from {where}" if where else ""
        raise AttributeError(f"module 'hippograph' has no attribute {name!r}{hint}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
