"""Background memory formation: the reply comes first, memories form after, debounced per
thread, durable across a killed process — through the real agent, store and embedder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph

from hippograph import MemoryManager, ScriptedChatModel, build_agent, erase_user
from hippograph.backends import open_store
from hippograph.background import MemoryFormer
from hippograph.background.pending import pending_threads, read_thread
from hippograph.config import Settings
from tests.conftest import run_config, user_turn
from tests.graph.helpers import ADD, facts
from tests.test_studio import server  # noqa: F401  (the langgraph dev fixture)


def _contents(store: Any, user: str = "alice") -> list[str]:
    return sorted(m.content for m in MemoryManager(store, user).list())


def _turn(agent: Any, text: str, thread: str = "t1", turn_at: str | None = None) -> dict[str, Any]:
    """One turn of alice's (said at `turn_at`, default now)."""
    context = {"user_id": "alice", "turn_at": turn_at}
    return agent.invoke(user_turn(text), run_config(thread), context=context)


def test_the_reply_comes_first_and_the_memories_after(memory_store, checkpointer):
    model = ScriptedChatModel(
        responses=[
            "Lisbon is lovely!",  # respond, in the turn
            facts(("Lives in Lisbon", "personal", 0.8)),  # extract, later
            ADD,  # reconcile, later (only when the model is asked)
        ]
    )
    with MemoryFormer(memory_store, model=model, delay=3600) as former:
        agent = build_agent(
            store=memory_store, checkpointer=checkpointer, model=model, background=former
        )
        out = _turn(agent, "I live in Lisbon.", turn_at="2024-05-01T10:00:00+00:00")
        assert out["messages"][-1].content == "Lisbon is lovely!"
        assert out["ops"] == []
        assert len(model.calls) == 1  # only respond ran in the turn
        assert _contents(memory_store) == []
        (waiting,) = pending_threads(memory_store)
        assert (waiting.user_id, waiting.thread_id, len(waiting.turns)) == ("alice", "t1", 1)
        former.flush()
    assert _contents(memory_store) == ["Lives in Lisbon"]
    (memory,) = MemoryManager(memory_store, "alice").list()
    assert memory.timestamp.isoformat() == "2024-05-01T10:00:00+00:00"  # said then, not now
    assert memory.source["thread_id"] == "t1"
    assert memory.source["message_ids"] == [out["messages"][0].id]
    assert list(pending_threads(memory_store)) == []


def test_a_burst_of_messages_is_formed_once_after_the_burst(memory_store, checkpointer):
    with MemoryFormer(memory_store, delay=1.5) as former:
        agent = build_agent(store=memory_store, checkpointer=checkpointer, background=former)
        for text in ("I live in Lisbon.", "I have a cat named Miso.", "I code in Python."):
            _turn(agent, text)
        assert _contents(memory_store) == []  # each turn pushed the formation back
        deadline = time.monotonic() + 60
        while former.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert former.runs == 1
        assert _contents(memory_store) == [
            "I code in Python.",
            "I have a cat named Miso.",
            "I live in Lisbon.",
        ]


def test_threads_and_users_are_formed_apart(memory_store, checkpointer):
    with MemoryFormer(memory_store, delay=3600) as former:
        agent = build_agent(store=memory_store, checkpointer=checkpointer, background=former)
        _turn(agent, "I live in Lisbon.", thread="a")
        agent.invoke(user_turn("I live in Oslo."), run_config("b"), context={"user_id": "bob"})
        assert {(p.user_id, p.thread_id) for p in pending_threads(memory_store)} == {
            ("alice", "a"),
            ("bob", "b"),
        }
        former.flush()
    assert _contents(memory_store, "alice") == ["I live in Lisbon."]
    assert _contents(memory_store, "bob") == ["I live in Oslo."]


def test_any_graph_can_form_memories_in_the_background(memory_store):
    """The standalone executor: a plain LangGraph chatbot hands its turns to a former."""
    with MemoryFormer(memory_store, delay=3600) as former:

        def chatbot(state: MessagesState) -> dict[str, Any]:
            return {"messages": [AIMessage("Sounds fun!")]}

        def remember_later(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
            former.submit(
                state["messages"],
                context={"user_id": config["configurable"]["user_id"]},
                thread_id=config["configurable"]["thread_id"],
            )
            return {}

        builder = StateGraph(MessagesState)
        builder.add_node("chatbot", chatbot)
        builder.add_node("remember_later", remember_later)
        builder.add_edge(START, "chatbot")
        builder.add_edge("chatbot", "remember_later")
        builder.add_edge("remember_later", END)
        graph = builder.compile()
        config = {"configurable": {"thread_id": "x", "user_id": "carol"}}
        graph.invoke({"messages": [HumanMessage("I'm learning the cello.")]}, config)
        former.flush()
    assert _contents(memory_store, "carol") == ["I'm learning the cello."]


def test_a_turn_formed_twice_is_stored_once(memory_store, checkpointer):
    """A crash between forming a turn and dropping it from the queue forms it again."""
    with MemoryFormer(memory_store, delay=3600) as former:
        agent = build_agent(store=memory_store, checkpointer=checkpointer, background=former)
        _turn(agent, "I have two cats.")
        (waiting,) = pending_threads(memory_store)
        (turn,) = waiting.turns
        former.remember.invoke(  # formed, as if the process then died before `complete`
            {"messages": turn.messages}, run_config("t1"), context={"user_id": "alice"}
        )
        former.flush()
    assert _contents(memory_store) == ["I have two cats."]


def test_erasing_a_user_erases_their_waiting_turns(tmp_path, checkpointer):
    settings = Settings(db_path=tmp_path / "memories.db", user_id="alice")
    with open_store(settings=settings) as store:
        with MemoryFormer(store, delay=3600) as former:
            agent = build_agent(store=store, checkpointer=checkpointer, background=former)
            text = "My passport number is X1234567."
            agent.invoke(user_turn(text), run_config("t9"), context={"user_id": "alice"})
        assert read_thread(store, "alice", "t9") is not None
    erase_user("alice", settings=settings)
    with open_store(settings=settings) as store:
        assert list(pending_threads(store)) == []
    for path in tmp_path.iterdir():
        if path.is_file():
            assert b"X1234567" not in path.read_bytes(), path


_PROCESS = textwrap.dedent(
    """
    import sys, time
    from hippograph import build_agent
    from hippograph.config import Settings

    db, delay, text = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    settings = Settings(db_path=db, user_id="alice")
    agent = build_agent(settings=settings, background=delay)
    if text:
        out = agent.invoke(
            {"messages": [{"role": "user", "content": text}]},
            config={"configurable": {"thread_id": "t1"}},
            context={"user_id": "alice"},
        )
        print("replied:", out["messages"][-1].content[:40], flush=True)
    else:
        print("resuming", flush=True)
    time.sleep(600)
    """
)


def _start(db: Path, delay: float, text: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIPPOGRAPH_")}
    return subprocess.Popen(
        [sys.executable, "-c", _PROCESS, str(db), str(delay), text],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_pending_turns_survive_a_killed_process(tmp_path):
    db = tmp_path / "memories.db"
    first = _start(db, 3600, "I have a dog named Rex.")
    try:
        assert first.stdout is not None
        assert first.stdout.readline().startswith("replied:")
    finally:
        first.send_signal(signal.SIGKILL)  # with the turn waiting for its formation
        first.wait(timeout=30)
    with open_store(db) as store:
        assert _contents(store) == []
        assert [len(p.turns) for p in pending_threads(store)] == [1]
    second = _start(db, 0.1, "")  # a new process on the same store resumes it
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open_store(db) as store:
                if _contents(store):
                    break
            time.sleep(0.5)
    finally:
        second.kill()
        second.wait(timeout=30)
    with open_store(db) as store:
        assert _contents(store) == ["I have a dog named Rex."]
        assert list(pending_threads(store)) == []


@pytest.fixture
def studio(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """`langgraph dev` on the repository's `langgraph.json`, forming memories 2 s after a
    conversation's last turn."""
    monkeypatch.setenv("HIPPOGRAPH_BACKGROUND_DELAY", "2")
    return request.getfixturevalue("server")


@pytest.mark.slow
def test_langgraph_dev_forms_memories_in_scheduled_runs(studio):
    from langgraph_sdk import get_sync_client

    from hippograph.background.server import formation_thread

    url, log = studio
    client = get_sync_client(url=url)
    thread = client.threads.create()["thread_id"]
    context = {"user_id": "studio-user"}
    started = time.monotonic()
    for text in ("I live in Lisbon.", "I have a cat named Miso."):
        out = client.runs.wait(
            thread,
            "agent_background",
            input={"messages": [{"role": "user", "content": text}]},
            context=context,
        )
        assert out["messages"][-1]["type"] == "ai" and out["ops"] == []
    replied = time.monotonic() - started
    ns = ["memories", "studio-user"]
    assert client.store.search_items(ns)["items"] == []  # not yet: formed after the delay

    def formed() -> list[str]:
        return sorted(item["value"]["content"] for item in client.store.search_items(ns)["items"])

    deadline = time.monotonic() + 120
    while formed() != ["I have a cat named Miso.", "I live in Lisbon."]:
        assert time.monotonic() < deadline, (formed(), log.read_text()[-3000:])
        time.sleep(0.5)
    formation = formation_thread("studio-user", thread)
    runs = client.runs.list(formation)
    for run in runs:
        client.runs.join(formation, run["run_id"])
    statuses = [run["status"] for run in client.runs.list(formation)]
    assert statuses == ["success"]  # the first turn's run was rolled back by the second's
    assert replied < 60
    text = log.read_text()
    assert "BlockingError" not in text and "synchronous blocking call" not in text
