"""The README's examples for the ways in, run as written (a block marked
`<!-- tested: NAME -->` is the code block right after the marker)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from hippograph import MemoryManager, ScriptedChatModel
from hippograph.backends import open_store

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = str(Path(sys.executable).parent)


def example(name: str) -> str:
    """The code block the README marks `<!-- tested: name -->`."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- tested: {re.escape(name)} -->\s*```\w*\n(.*?)```", text, re.S)
    assert match, f"no example {name!r} in the README"
    return match.group(1)


def run_example(name: str, **names: Any) -> dict[str, Any]:
    """Execute the example with `names` defined (what the README says the reader brings)."""
    scope: dict[str, Any] = {"__name__": f"readme_{name}", **names}
    exec(compile(example(name), f"README.md:{name}", "exec"), scope)
    return scope


def _call(tool: str, **args: Any) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": tool, "args": args, "id": str(uuid.uuid4())}])


def _contents(db: Path | str, user: str = "alice") -> list[str]:
    with open_store(db) as store:
        return sorted(m.content for m in MemoryManager(store, user).list())


def test_memory_tools_example() -> None:
    model = ScriptedChatModel(
        responses=[_call("remember", content="Lives in Berlin", category="personal"), "Noted."]
    )
    run_example("tools", model=model)
    assert _contents(os.environ["HIPPOGRAPH_DB"]) == ["Lives in Berlin"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home directory, and the venv's `hippograph` first on PATH: what an MCP
    client that starts `hippograph` hands it (the SDK passes HOME and PATH, not the rest)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_claude_desktop_config_starts_a_working_server(tmp_path: Path, home: Path) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    config = json.loads(example("mcp-config"))["mcpServers"]["hippograph"]
    db = tmp_path / "claude" / "memories.db"
    assert config["env"]["HIPPOGRAPH_DB"].endswith("memories.db")
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "HIPPOGRAPH_DB": str(db)}
    server = StdioServerParameters(command=config["command"], args=config["args"], env=env)

    async def session() -> None:
        async with Client(server) as client:
            await client.call_tool("add_memory", {"content": "Uses Claude Desktop"})

    asyncio.run(session())
    assert _contents(db) == ["Uses Claude Desktop"]


def test_mcp_client_example(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scope = run_example("mcp-client")
    asyncio.run(scope["main"]())
    assert "'content': 'Prefers tea'" in capsys.readouterr().out
    default_store = home / ".local" / "share" / "hippograph" / "memories.db"
    assert _contents(default_store) == ["Prefers tea"]


def test_background_example() -> None:
    run_example("background")
    assert _contents(os.environ["HIPPOGRAPH_DB"]) == ["I moved to Berlin."]


def test_profile_example() -> None:
    from hippograph.profile import read_profile
    from tests.ways_in.test_profile import by_prompt

    facts = [{"content": "Is named Ana, lives in Lisbon", "category": "personal", "importance": 1}]
    patch = {"name": "Ana", "location": "Lisbon"}
    scope = run_example("profile", model=ScriptedChatModel(default=by_prompt(facts, patch)))
    assert read_profile(scope["agent"].store, "ana") == {**patch, "languages": []}
