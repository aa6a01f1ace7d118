"""`hippograph mcp` through the MCP SDK's own client: a real server process over stdio and
over streamable HTTP, on a real store, checked afterwards with hippograph's own view."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from hippograph.backends import open_store
from hippograph.cli.errors import ExitCode
from hippograph.memories import MemoryManager
from hippograph.profile import write_profile
from tests.cli.test_bad_input import one_error, run

HIPPOGRAPH = str(Path(sys.executable).with_name("hippograph"))
TOOLS = [
    "search_memories",
    "list_memories",
    "add_memory",
    "update_memory",
    "delete_memory",
    "get_profile",
]


def _env(db: Path, user: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HIPPOGRAPH_")}
    return {**environ, "HIPPOGRAPH_DB": str(db), "HIPPOGRAPH_USER": user}


def _stdio(db: Path, user: str = "alice") -> Client:
    """A client that starts `hippograph mcp` the way Claude Desktop does."""
    return Client(StdioServerParameters(command=HIPPOGRAPH, args=["mcp"], env=_env(db, user)))


async def _call(client: Client, tool: str, **args: Any) -> Any:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    structured = result.structured_content
    assert structured is not None
    return structured.get("result", structured)


async def _error(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


def _memories(db: Path, user: str) -> list[tuple[str, str, float]]:
    with open_store(db) as store:
        return sorted(
            (m.content, m.category, m.importance) for m in MemoryManager(store, user).list()
        )


async def test_a_client_manages_one_users_memories_over_stdio(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    async with _stdio(db) as client:
        listed = await client.list_tools()
        assert [tool.name for tool in listed.tools] == TOOLS
        added = await _call(client, "add_memory", content="Lives in Lisbon", category="location")
        assert added["category"] == "personal"
        await _call(
            client, "add_memory", content="Codes in Python", category="tools", importance=0.9
        )
        hits = await _call(client, "search_memories", query="Where does the user live?", limit=1)
        assert [h["content"] for h in hits] == ["Lives in Lisbon"]
        assert 0.0 < hits[0]["score"] <= 1.0
        updated = await _call(
            client, "update_memory", key=added["key"][:8], content="Lives in Berlin"
        )
        assert updated == {**added, "content": "Lives in Berlin", "score": None}
        assert [m["content"] for m in await _call(client, "list_memories", category="tools")] == [
            "Codes in Python"
        ]
        gone = await _call(client, "delete_memory", key=added["key"])
        assert gone["content"] == "Lives in Berlin"
        assert await _call(client, "get_profile") == {}
    assert _memories(db, "alice") == [("Codes in Python", "tools", 0.9)]
    with open_store(db) as store:
        history = MemoryManager(store, "alice").history()
    assert [h["op"] for h in reversed(history)] == ["ADD", "ADD", "UPDATE", "DELETE"]
    assert {h["source"]["origin"] for h in history} == {"mcp"}


async def test_bad_calls_change_nothing_and_say_why(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    async with _stdio(db) as client:
        kept = await _call(client, "add_memory", content="Has a cat")
        too_long = await _error(client, "add_memory", content="x" * 8001)
        assert "content is 8001 characters; the limit is 8000" in too_long
        assert "unknown category 'pets'" in await _error(
            client, "add_memory", content="Has a dog", category="pets"
        )
        assert await _error(client, "add_memory", content="Has a dog", importance=2)
        assert "no memory 'nope'" in await _error(client, "delete_memory", key="nope")
        short = await _error(client, "delete_memory", key=kept["key"][:2])
        assert "at least 4 characters" in short
        assert "nothing to update" in await _error(client, "update_memory", key=kept["key"])
        assert "must not be empty" in await _error(
            client, "update_memory", key=kept["key"], content="  "
        )
    assert _memories(db, "alice") == [("Has a cat", "other", 0.5)]


async def test_a_server_serves_one_user_and_never_another(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    with open_store(db) as store:
        secret = MemoryManager(store, "alice").add("Alice's PIN is 1234", category="personal")
        write_profile(store, "alice", {"name": "Alice"})
        write_profile(store, "bob", {"name": "Bob"})
    async with _stdio(db, user="bob") as client:
        assert await _call(client, "search_memories", query="PIN") == []
        assert await _call(client, "list_memories") == []
        assert await _call(client, "get_profile") == {"name": "Bob"}
        for tool, args in [
            ("delete_memory", {"key": secret.id}),
            ("update_memory", {"key": secret.id, "content": "hacked"}),
        ]:
            assert "no memory" in await _error(client, tool, **args)
        tools = (await client.list_tools()).tools
        assert not any("user" in tool.input_schema.get("properties", {}) for tool in tools)
    assert _memories(db, "alice") == [("Alice's PIN is 1234", "personal", 0.5)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`hippograph mcp --transport http` for alice, serving until the test ends."""
    db, port = tmp_path / "memories.db", _free_port()
    process = subprocess.Popen(
        [HIPPOGRAPH, "mcp", "--transport", "http", "--port", str(port)],
        env=_env(db, "alice"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp", db
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_streamable_http_on_loopback(http_server: tuple[str, Path]) -> None:
    url, db = http_server
    async with Client(url) as client:
        await _call(client, "add_memory", content="Prefers tea", category="preferences")
    async with Client(url) as client:  # a second session sees the first one's memory
        hits = await _call(client, "search_memories", query="drinks")
        assert [h["content"] for h in hits] == ["Prefers tea"]
    assert _memories(db, "alice") == [("Prefers tea", "preferences", 0.5)]
    listed = run("memories", "list", db=db)  # the CLI sees the same memory
    assert listed.returncode == 0 and "Prefers tea" in listed.stdout


def test_http_refuses_a_non_loopback_host_and_a_taken_port(tmp_path: Path) -> None:
    db = tmp_path / "memories.db"
    refused = run("mcp", "--transport", "http", "--host", "0.0.0.0", db=db)
    one_error(refused, ExitCode.USAGE, "--host 0.0.0.0 is not a loopback address")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        one_error(
            run("mcp", "--transport", "http", "--port", port, db=db),
            ExitCode.FAILED,
            f"cannot listen on 127.0.0.1:{port}",
            "choose another --port",
        )
    assert not db.exists()  # nothing was opened


def test_without_the_mcp_extra_it_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['mcp'] = None; sys.argv = ['hippograph', *sys.argv[1:]];"
        " from hippograph.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "mcp"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path / "m.db", "alice"),
    )
    one_error(result, ExitCode.MISSING_EXTRA, "pip install 'hippograph[mcp]'")
