"""Memory tools for LangChain / LangGraph agents: search, remember, update, forget.

Core pieces:
    - `create_memory_tools(namespace=("memories", "{user_id}"), ...)`: the four tools, ready
      for `langchain.agents.create_agent` or LangGraph's prebuilt ReAct agent.
    - `NamespaceTemplate`: fills `{user_id}` (any `{name}`) from the run, never from the model.
    - `MemoryToolError`: what the model is told when a call cannot be done (bad handle,
      empty content …); the agent loop shows it to the model, which can try again.

The tools take the store the graph was compiled with (`ToolRuntime.store`) and the user from
the run context (`context={"user_id": ...}`) or, failing that, `config["configurable"]`.
No tool has a user or namespace argument, so a model cannot reach another user's memories
by naming them. Every write goes through `MemoryManager` (validated as a `Memory`, with
provenance naming the tool, thread and message, and a history row), so memories written by
tools are the same memories the agent, the CLI, the UI and the MCP server see.

Search results and new memories get short integer handles (`[1]`, `[2]` …) that stay valid
for the whole conversation: the model updates or forgets "memory 2" rather than copying a
UUID. A key, or a unique start of one, works too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.prebuilt import ToolRuntime
from langgraph.store.base import BaseStore

from hippograph.memories import AmbiguousKeyError, MemoryManager, MemoryNotFoundError
from hippograph.store.memory import CATEGORIES, Memory, encode_label

ToolName = Literal["search", "remember", "update", "forget"]
"""The memory tools `create_memory_tools` can make."""

TOOL_NAMES: tuple[ToolName, ...] = ("search", "remember", "update", "forget")

_TOOL_ORIGIN = "tool"
_HANDLE = re.compile(r"^\[?\s*(\d{1,6})\s*\]?$")


class MemoryToolError(ToolException):
    """A memory tool call the model got wrong (shown to the model, which may retry)."""


class MissingUserError(ValueError):
    """The run names no user for the namespace template: pass `context={"user_id": ...}`."""


@dataclass(frozen=True, slots=True)
class NamespaceTemplate:
    """A namespace whose `{name}` labels are filled from the run, e.g. `("memories",
    "{user_id}")`.

    Values come from the run context (an attribute or key of `runtime.context`), else from
    `config["configurable"]`; they are encoded like `memory_namespace` encodes user ids, so
    `("memories", "{user_id}")` is exactly the namespace the agent, CLI and UI use.
    """

    template: tuple[str, ...]

    def __call__(self, context: object, config: Mapping[str, Any] | None) -> tuple[str, ...]:
        """The namespace for this run.

        Raises:
            MissingUserError: a `{name}` has no value in the context or the config.
        """
        configurable = (config or {}).get("configurable") or {}
        labels = []
        for label in self.template:
            name = _variable(label)
            if name is None:
                labels.append(label)
                continue
            value = _lookup(context, name)
            if value is None:
                value = configurable.get(name)
            if not isinstance(value, str) or not value.strip():
                raise MissingUserError(
                    f"the memory tools need {name!r} from the run: invoke the agent with "
                    f"context={{{name!r}: ...}} (or config['configurable'][{name!r}])"
                )
            labels.append(encode_label(value))
        return tuple(labels)

    def user(self, namespace: tuple[str, ...]) -> str:
        """The user id shown in provenance: the first filled label (or the last label)."""
        filled = [i for i, label in enumerate(self.template) if _variable(label) is not None]
        return namespace[filled[0] if filled else -1]


def _variable(label: str) -> str | None:
    match = re.fullmatch(r"\{(\w+)\}", label)
    return match.group(1) if match else None


def _lookup(context: object, name: str) -> object:
    if isinstance(context, Mapping):
        return context.get(name)
    return getattr(context, name, None)


# --------------------------------------------------------------------------- handles


def _shown(messages: Iterable[BaseMessage]) -> dict[int, str]:
    """Handle → key for every memory our tools showed earlier in the conversation."""
    handles: dict[int, str] = {}
    for message in messages:
        if isinstance(message, ToolMessage) and isinstance(message.artifact, Mapping):
            shown = message.artifact.get("hippograph_handles")
            if isinstance(shown, Mapping):
                handles.update({int(h): str(k) for h, k in shown.items()})
    return handles


class _Handles:
    """The conversation's handles: those shown before, and new ones for this call."""

    def __init__(self, messages: Sequence[BaseMessage]) -> None:
        self.known = _shown(messages)
        self.by_key = {key: handle for handle, key in self.known.items()}
        self.new: dict[int, str] = {}

    def of(self, key: str) -> int:
        """The handle of `key` (the one it had before, else the next free number)."""
        if key not in self.by_key:
            handle = max([0, *self.known, *self.new]) + 1
            self.new[handle] = key
            self.by_key[key] = handle
        return self.by_key[key]

    def artifact(self, **extra: Any) -> dict[str, Any]:
        """The artifact of the tool message: the handles it gives out, plus `extra`."""
        return {"hippograph_handles": {str(h): k for h, k in self.new.items()}, **extra}


def _messages(runtime: ToolRuntime[Any, Any] | None) -> list[BaseMessage]:
    state = getattr(runtime, "state", None)
    found = state.get("messages") if isinstance(state, Mapping) else None
    return [m for m in found or [] if isinstance(m, BaseMessage)]


# --------------------------------------------------------------------------- the tools


@dataclass(frozen=True, slots=True)
class _Call:
    """One tool call: the user's manager and the conversation's handles."""

    manager: MemoryManager
    handles: _Handles

    def key(self, memory: str) -> str:
        """The key `memory` names: a handle shown in this conversation, a key, or a unique
        start of one — always inside this user's namespace."""
        text = str(memory).strip()
        not_found = MemoryToolError(
            f"no memory {memory!r} in this conversation: search first, then use a handle "
            "from the results"
        )
        match = _HANDLE.match(text)
        if match and int(match.group(1)) in self.handles.known:
            text = self.handles.known[int(match.group(1))]
        elif match:
            # A handle this conversation never showed names only a memory with exactly that
            # key, never one whose key happens to start with those digits.
            if self.manager.store.get(self.manager.namespace, text) is None:
                raise not_found
            return text
        try:
            return self.manager.resolve_key(text)
        except MemoryNotFoundError:
            raise not_found from None
        except AmbiguousKeyError as exc:
            raise MemoryToolError(f"{memory!r} {exc.problem}: give the handle") from None

    def line(self, memory: Memory, score: float | None = None) -> str:
        """One memory as the model sees it."""
        scored = f", score {score:.2f}" if score is not None else ""
        return (
            f"[{self.handles.of(memory.id)}] {memory.content} "
            f"({memory.category}, importance {memory.importance:.1f}{scored})"
        )


def _record(memory: Memory, score: float | None = None) -> dict[str, Any]:
    out = {
        "key": memory.id,
        "content": memory.content,
        "category": memory.category,
        "importance": memory.importance,
        "timestamp": memory.timestamp.isoformat(),
    }
    if score is not None:
        out["score"] = score
    return out


def _invalid(exc: ValueError) -> MemoryToolError:
    return MemoryToolError(f"not saved: {exc}")


class _MemoryTools:
    """The bodies of the four tools, bound to a namespace template and an optional store."""

    def __init__(self, template: NamespaceTemplate, store: BaseStore | None, limit: int) -> None:
        self.template = template
        self.store = store
        self.limit = limit

    def call(self, runtime: ToolRuntime[Any, Any], tool: str) -> _Call:
        """The manager for this run's user and the conversation's handles."""
        store = self.store or getattr(runtime, "store", None)
        if store is None:
            raise RuntimeError(
                "the memory tools need a store: compile the agent with store=... "
                "(or pass create_memory_tools(store=...))"
            )
        config = getattr(runtime, "config", None) or {}
        namespace = self.template(getattr(runtime, "context", None), config)
        messages = _messages(runtime)
        tool_call_id = getattr(runtime, "tool_call_id", None)
        source = {
            "tool": tool,
            "thread_id": (config.get("configurable") or {}).get("thread_id"),
            "message_ids": _turn_messages(messages, tool_call_id),
            "tool_call_id": tool_call_id,
            "turn_at": datetime.now(UTC).isoformat(),
        }
        manager = MemoryManager(
            store,
            self.template.user(namespace),
            origin=_TOOL_ORIGIN,
            namespace=namespace,
            source=source,
        )
        return _Call(manager, _Handles(messages))

    def search(
        self, query: str, limit: int | None, category: str | None, runtime: ToolRuntime[Any, Any]
    ) -> tuple[str, dict[str, Any]]:
        call = self.call(runtime, "search")
        wanted = max(1, min(int(limit or self.limit), 50))
        hits = call.manager.search(query, limit=wanted, category=_category(category))
        if not hits:
            return "No memories found.", call.handles.artifact(memories=[])
        lines = [call.line(hit.memory, hit.score) for hit in hits]
        records = [_record(hit.memory, hit.score) for hit in hits]
        return "\n".join(lines), call.handles.artifact(memories=records)

    def remember(
        self, content: str, category: str, importance: float, runtime: ToolRuntime[Any, Any]
    ) -> tuple[str, dict[str, Any]]:
        call = self.call(runtime, "remember")
        try:
            memory = call.manager.add(
                content, category=_category(category) or "other", importance=importance
            )
        except ValueError as exc:
            raise _invalid(exc) from None
        return f"Remembered {call.line(memory)}", call.handles.artifact(memory=_record(memory))

    def update(
        self,
        memory: str,
        content: str | None,
        category: str | None,
        importance: float | None,
        runtime: ToolRuntime[Any, Any],
    ) -> tuple[str, dict[str, Any]]:
        call = self.call(runtime, "update")
        key = call.key(memory)
        if content is None and category is None and importance is None:
            raise MemoryToolError("nothing to update: give content, category or importance")
        try:
            updated = call.manager.edit(
                key, content=content, category=_category(category), importance=importance
            )
        except ValueError as exc:
            raise _invalid(exc) from None
        return f"Updated {call.line(updated)}", call.handles.artifact(memory=_record(updated))

    def forget(self, memory: str, runtime: ToolRuntime[Any, Any]) -> tuple[str, dict[str, Any]]:
        call = self.call(runtime, "forget")
        key = call.key(memory)
        gone = call.manager.get(key)
        call.manager.delete(key)
        return f"Forgot {call.line(gone)}", call.handles.artifact(memory=_record(gone))


def _turn_messages(messages: Sequence[BaseMessage], tool_call_id: str | None) -> list[str]:
    """The id of the user message whose turn made this tool call (the memory's provenance,
    as the agent records it), found before the AI message that made the call."""
    calling = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if isinstance(messages[i], AIMessage)
            and any(call.get("id") == tool_call_id for call in messages[i].tool_calls)  # type: ignore[attr-defined]
        ),
        len(messages),
    )
    for message in reversed(messages[:calling]):
        if isinstance(message, HumanMessage):
            return [message.id] if message.id else []
    return []


def _category(value: str | None) -> str | None:
    """A category as given (synonyms map onto `CATEGORIES`; unknown text is `other`)."""
    if value is None or not str(value).strip():
        return None
    from hippograph.store.memory import normalize_category

    return normalize_category(value)


_CATEGORY_HELP = f"one of {', '.join(CATEGORIES)}"

_DESCRIPTIONS: dict[ToolName, str] = {
    "search": (
        "Search your long-term memories of this user by meaning. Returns the closest "
        "memories, best first, each with a handle like [2] and a similarity score (0-1). "
        "Search before answering questions about the user, and before updating or forgetting."
    ),
    "remember": (
        "Save one durable fact about the user (a preference, a detail of their life or work, "
        "a goal), written as a short standalone sentence. Search first: if a memory already "
        "says it, update that one instead."
    ),
    "update": (
        "Change a memory you found with search (by its handle, e.g. 2), when the user "
        "corrects it or it changed. Give the new content and/or category / importance."
    ),
    "forget": (
        "Delete a memory you found with search (by its handle, e.g. 2), when the user asks "
        "you to forget it or it is wrong."
    ),
}


def create_memory_tools(
    namespace: tuple[str, ...] | str = ("memories", "{user_id}"),
    *,
    store: BaseStore | None = None,
    tools: Sequence[ToolName] = TOOL_NAMES,
    limit: int = 5,
    prefix: str = "",
) -> list[BaseTool]:
    """LangChain tools over one user's memories: search (with scores), remember, update
    and forget.

    Args:
        namespace: Where the memories live; `{name}` labels are filled from the run context
            (`context={"user_id": ...}`) or `config["configurable"]`, never from the model.
            The default is the namespace the hippograph agent, CLI, UI and MCP server use.
        store: The store to use (default: the one the graph was compiled with).
        tools: Which tools to make (e.g. `("search",)` for a read-only agent).
        limit: How many results a search returns unless the model asks for another number.
        prefix: Put before each tool name (`"memory_"` gives `memory_search` …).

    Returns:
        `StructuredTool`s named `search_memory`, `remember`, `update_memory` and
        `forget_memory` (plus `prefix`), each with sync and async versions. Each returns
        text for the model and, as its artifact, the memories as dicts.

    Example:
        ```python
        from langchain.agents import create_agent
        from hippograph.tools import create_memory_tools

        agent = create_agent(model, tools=create_memory_tools(), store=store)
        agent.invoke(
            {"messages": [{"role": "user", "content": "I moved to Berlin."}]},
            context={"user_id": "alice"},
        )
        ```
    """
    template = NamespaceTemplate((namespace,) if isinstance(namespace, str) else tuple(namespace))
    unknown = set(tools) - set(TOOL_NAMES)
    if unknown or not tools:
        raise ValueError(f"tools must be some of {', '.join(TOOL_NAMES)}, got {list(tools)}")
    body = _MemoryTools(template, store, limit)

    def search_memory(
        query: str,
        runtime: ToolRuntime[Any, Any],
        limit: int | None = None,
        category: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Search memories.

        Args:
            query: What to look for, in plain words.
            limit: How many memories to return (default: a few).
            category: Only memories of this category.
        """
        return body.search(query, limit, category, runtime)

    def remember(
        content: str,
        runtime: ToolRuntime[Any, Any],
        category: str = "other",
        importance: float = 0.5,
    ) -> tuple[str, dict[str, Any]]:
        """Remember a fact.

        Args:
            content: The fact, one short sentence about the user.
            category: The kind of fact.
            importance: How much it matters later, from 0 to 1.
        """
        return body.remember(content, category, importance, runtime)

    def update_memory(
        memory: str,
        runtime: ToolRuntime[Any, Any],
        content: str | None = None,
        category: str | None = None,
        importance: float | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Update a memory.

        Args:
            memory: The handle search gave it (e.g. "2"), or its key.
            content: The corrected fact.
            category: A new category.
            importance: A new importance, from 0 to 1.
        """
        return body.update(memory, content, category, importance, runtime)

    def forget_memory(memory: str, runtime: ToolRuntime[Any, Any]) -> tuple[str, dict[str, Any]]:
        """Forget a memory.

        Args:
            memory: The handle search gave it (e.g. "2"), or its key.
        """
        return body.forget(memory, runtime)

    functions: dict[ToolName, Callable[..., tuple[str, dict[str, Any]]]] = {
        "search": search_memory,
        "remember": remember,
        "update": update_memory,
        "forget": forget_memory,
    }
    made: list[BaseTool] = []
    for name in tools:
        description = _DESCRIPTIONS[name]
        if name in ("remember", "search", "update"):
            description += f" Categories: {_CATEGORY_HELP}."
        made.append(_tool(functions[name], prefix, description))
    return made


def _tool(
    function: Callable[..., tuple[str, dict[str, Any]]], prefix: str, description: str
) -> BaseTool:
    """`function` as a tool with a thin async twin (the store's async path is its thread)."""
    import asyncio
    import functools

    @functools.wraps(function)
    async def coroutine(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        return await asyncio.to_thread(function, *args, **kwargs)

    return StructuredTool.from_function(
        func=function,
        coroutine=coroutine,
        name=prefix + function.__name__,
        description=description,
        response_format="content_and_artifact",
        parse_docstring=True,
        handle_tool_error=True,
    )
