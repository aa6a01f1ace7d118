"""`langgraph dev` serves the agent and our store from `langgraph.json` (blocking-call
detection on), driven through `langgraph_sdk` like LangGraph Studio does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from tests.servers import free_port, stop_group

REPO = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90


def _config_for(tmp: Path) -> Path:
    """The repository's `langgraph.json`, with its `./` paths made absolute."""
    config = json.loads((REPO / "langgraph.json").read_text())

    def absolute(spec: str) -> str:
        return str(REPO / spec[2:]) if spec.startswith("./") else spec

    config["graphs"] = {name: absolute(spec) for name, spec in config["graphs"].items()}
    config["store"]["path"] = absolute(config["store"]["path"])
    config["dependencies"] = [str(REPO) if d == "." else d for d in config["dependencies"]]
    path = tmp / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"langgraph dev exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"langgraph dev did not start:\n{log.read_text()[-4000:]}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A `langgraph dev` server on a free loopback port, stopped afterwards."""
    langgraph = Path(sys.executable).with_name("langgraph")
    assert langgraph.exists(), "langgraph-cli[inmem] is a dev dependency"
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "HIPPOGRAPH_DB": str(tmp_path / "studio" / "memories.db"),
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    command = [str(langgraph), "dev", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-browser", "--no-reload", "--config", str(_config_for(tmp_path))]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield url, log
    finally:
        stop_group(proc, grace_s=15)


def test_langgraph_dev_serves_agent_and_store(server):
    url, log = server
    client = get_sync_client(url=url)
    thread = client.threads.create()
    context = {"user_id": "studio-user"}
    for text in ["I live in Lisbon and work at Acme.", "Where do I live?"]:
        client.runs.wait(
            thread["thread_id"],
            "agent",
            input={"messages": [{"role": "user", "content": text}]},
            context=context,
        )
    state = client.threads.get_state(thread["thread_id"])["values"]
    assert [m["type"] for m in state["messages"]] == ["human", "ai", "human", "ai"]
    assert state["recalled"][0]["content"] == "I live in Lisbon and work at Acme."
    assert "I live in Lisbon" in state["messages"][-1]["content"]

    found = client.store.search_items(["memories", "studio-user"], query="city", limit=5)
    contents = [item["value"]["content"] for item in found["items"]]
    assert "I live in Lisbon and work at Acme." in contents
    assert client.store.search_items(["memories", "someone-else"])["items"] == []
    text = log.read_text()
    assert "BlockingError" not in text and "synchronous blocking call" not in text
    assert "allow-blocking" not in text  # detection stayed on
