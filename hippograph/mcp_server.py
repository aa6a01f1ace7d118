"""An MCP server over one user's memories: any MCP client (Claude Desktop, an IDE, another
agent) searches, lists, adds, updates and deletes them.

Core pieces:
    - `build_mcp_server(store, user_id)`: an `mcp.server.mcpserver.MCPServer` with six tools
      (`search_memories`, `list_memories`, `add_memory`, `update_memory`, `delete_memory`,
      `get_profile`) bound to that user.
    - `MemoryRecord`: what the tools return (structured output with a JSON schema).
    - `LOOPBACK_HOSTS`: where the streamable HTTP transport may listen (it has no
      authentication, so only this machine may reach it).

`hippograph mcp` (in `hippograph.cli.mcp_command`) opens the configured store and serves it
over stdio or streamable HTTP. The server is bound to one user when it starts: no tool takes
a user, so a client can never reach anyone else's memories. Every change goes through
`MemoryManager` — validated as a `Memory`, recorded in the history with `origin: "mcp"` —
the same rules the CLI, the UI, the agent and the memory tools follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import anyio
from langgraph.store.base import BaseStore
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from hippograph.memories import (
    AmbiguousKeyError,
    MemoryManager,
    MemoryNotFoundError,
    ScoredMemory,
)
from hippograph.store.memory import CATEGORIES, MAX_CONTENT_CHARS, Memory, normalize_category

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts the HTTP transport may bind: it has no authentication, so it serves this machine."""

SERVER_NAME = "hippograph"
MAX_RESULTS = 100
"""The most memories one search or list call returns."""

_T = TypeVar("_T")


class MemoryRecord(BaseModel):
    """One memory as MCP clients see it."""

    key: Annotated[str, Field(description="The memory's key (any unique start of it works too)")]
    content: str
    category: str
    importance: float
    stated_at: Annotated[datetime, Field(description="When the fact was stated")]
    score: Annotated[float | None, Field(description="Similarity to the query (search only)")] = (
        None
    )

    @classmethod
    def of(cls, memory: Memory, score: float | None = None) -> MemoryRecord:
        """The record of `memory` (with its search `score`)."""
        return cls(
            key=memory.id,
            content=memory.content,
            category=memory.category,
            importance=memory.importance,
            stated_at=memory.timestamp,
            score=score,
        )


_CATEGORY_HELP = f"One of {', '.join(CATEGORIES)} (common synonyms are accepted)"


def _category(value: str | None) -> str | None:
    """`value` as a known category, or a `ToolError` listing them."""
    if value is None or not value.strip():
        return None
    category = normalize_category(value)
    if category == "other" and value.strip().lower() != "other":
        raise ToolError(f"unknown category {value!r}: use one of {', '.join(CATEGORIES)}")
    return category


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hippograph")
    except PackageNotFoundError:  # a source checkout that is not installed
        return "0+unknown"


class _UserMemories:
    """The tool bodies: one user's `MemoryManager`, run off the event loop."""

    def __init__(self, manager: MemoryManager) -> None:
        self.manager = manager

    async def run(self, work: Callable[[], _T]) -> _T:
        """`work` in a worker thread; a refused value or an unknown key is a `ToolError`."""
        try:
            return await anyio.to_thread.run_sync(work)
        except MemoryNotFoundError as exc:
            raise ToolError(
                f"no memory {exc.args[0]!r}: find its key with search_memories or list_memories"
            ) from None
        except AmbiguousKeyError as exc:
            raise ToolError(f"{exc.args[0]!r} {exc.problem}: give more") from None
        except ValueError as exc:
            raise ToolError(f"nothing changed: {exc}") from None

    def scored(self, hits: list[ScoredMemory]) -> list[MemoryRecord]:
        return [MemoryRecord.of(hit.memory, hit.score) for hit in hits]


def build_mcp_server(store: BaseStore, user_id: str, *, name: str = SERVER_NAME) -> MCPServer:
    """An MCP server over `user_id`'s memories in `store`.

    Args:
        store: The memory store (any LangGraph `BaseStore`; history needs ours or
            `PostgresMemoryStore`).
        user_id: The one user this server reads and writes for.
        name: The server name clients show.

    Returns:
        An `MCPServer`: `server.run("stdio")`, or `server.streamable_http_app()` to mount.

    Example:
        ```python
        with open_store() as store:
            build_mcp_server(store, "alice").run("stdio")
        ```
    """
    memories = _UserMemories(MemoryManager(store, user_id, origin="mcp"))
    manager = memories.manager
    server: MCPServer = MCPServer(
        name,
        instructions=(
            f"Long-term memories of user {user_id!r}: durable facts about them (preferences, "
            "people, work, goals). Search before answering questions about the user; add a "
            "memory when they state a lasting fact; update or delete when they correct or "
            "retract one."
        ),
        version=_version(),
        log_level="WARNING",
    )

    @server.tool(title="Search memories")
    async def search_memories(
        query: str,
        limit: Annotated[
            int, Field(ge=1, le=MAX_RESULTS, description="How many memories at most")
        ] = 5,
        category: Annotated[str | None, Field(description=_CATEGORY_HELP)] = None,
    ) -> list[MemoryRecord]:
        """Find the user's memories closest in meaning to `query`, best first, each with a
        similarity score."""
        wanted = _category(category)
        return memories.scored(
            await memories.run(lambda: manager.search(query, limit=limit, category=wanted))
        )

    @server.tool(title="List memories")
    async def list_memories(
        category: Annotated[str | None, Field(description=_CATEGORY_HELP)] = None,
        text: Annotated[str | None, Field(description="Only memories containing this text")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_RESULTS)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> list[MemoryRecord]:
        """The user's memories, most recently stated first, optionally filtered."""
        wanted = _category(category)
        found = await memories.run(
            lambda: manager.list(category=wanted, text=text, limit=limit, offset=offset)
        )
        return [MemoryRecord.of(memory) for memory in found]

    @server.tool(title="Add a memory")
    async def add_memory(
        content: Annotated[
            str, Field(description=f"One fact, at most {MAX_CONTENT_CHARS:,} characters")
        ],
        category: Annotated[str, Field(description=_CATEGORY_HELP)] = "other",
        importance: Annotated[
            float, Field(ge=0, le=1, description="How much it matters, 0-1")
        ] = 0.5,
    ) -> MemoryRecord:
        """Remember a new durable fact about the user."""
        wanted = _category(category) or "other"
        added = await memories.run(
            lambda: manager.add(content, category=wanted, importance=importance)
        )
        return MemoryRecord.of(added)

    @server.tool(title="Update a memory")
    async def update_memory(
        key: Annotated[str, Field(description="The memory's key, or a unique start of it")],
        content: Annotated[str | None, Field(description="The corrected fact")] = None,
        category: Annotated[str | None, Field(description=_CATEGORY_HELP)] = None,
        importance: Annotated[float | None, Field(ge=0, le=1)] = None,
    ) -> MemoryRecord:
        """Correct a memory's content, category or importance (the history keeps the old)."""
        if content is None and category is None and importance is None:
            raise ToolError("nothing to update: give content, category or importance")
        wanted = _category(category)

        def edit() -> Memory:
            full = manager.resolve_key(key)
            return manager.edit(full, content=content, category=wanted, importance=importance)

        return MemoryRecord.of(await memories.run(edit))

    @server.tool(title="Delete a memory")
    async def delete_memory(
        key: Annotated[str, Field(description="The memory's key, or a unique start of it")],
    ) -> MemoryRecord:
        """Forget a memory; returns what was deleted."""

        def delete() -> Memory:
            full = manager.resolve_key(key)
            gone = manager.get(full)
            manager.delete(full)
            return gone

        return MemoryRecord.of(await memories.run(delete))

    @server.tool(title="Get the user's profile")
    async def get_profile() -> dict[str, Any]:
        """The user's structured profile (name, location, … as the app defines it); empty
        when they have none."""
        return await memories.run(lambda: manager.profile() or {})

    return server


def serve(server: MCPServer, *, transport: str, host: str, port: int, path: str = "/mcp") -> None:
    """Run `server` until stopped: over `"stdio"`, or `"http"` (streamable HTTP) on a
    loopback address.

    Raises:
        ValueError: an unknown transport, or a `host` that is not a loopback address.
    """
    if transport == "stdio":
        server.run("stdio")
    elif transport != "http":
        raise ValueError(f"transport must be 'stdio' or 'http', got {transport!r}")
    elif host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"the MCP server listens on this machine only ({', '.join(LOOPBACK_HOSTS)}): "
            f"it has no authentication, so host {host!r} is refused"
        )
    else:
        server.run("streamable-http", host=host, port=port, streamable_http_path=path)
