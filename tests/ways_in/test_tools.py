"""Memory tools in real agent loops: LangChain's `create_agent` and LangGraph's prebuilt ReAct
agent, driven by a scripted model that calls the tools the way a real one would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.store.memory import InMemoryStore

from hippograph import MemoryManager, ScriptedChatModel, build_agent
from hippograph.store import FaissSqliteStore, Memory, memory_namespace
from hippograph.tools import MissingUserError, create_memory_tools
from tests.conftest import run_config, user_turn


def call(name: str, **args: Any) -> AIMessage:
    """An AI message calling one tool, as a provider returns it."""
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"call-{uuid.uuid4()}"}])


@dataclass
class RunContext:
    """The agent's context schema: who is talking."""

    user_id: str


def _agent(store: Any, checkpointer: Any, *responses: Any, **kwargs: Any) -> Any:
    model = ScriptedChatModel(responses=list(responses))
    return create_agent(
        model,
        tools=create_memory_tools(**kwargs),
        store=store,
        checkpointer=checkpointer,
        context_schema=RunContext,
    )


def _turn(agent: Any, text: str, user: str = "alice", thread: str = "t1") -> list[Any]:
    out = agent.invoke(user_turn(text), run_config(thread), context=RunContext(user))
    return out["messages"]


def _tool_replies(messages: list[Any]) -> list[str]:
    """What each tool answered; a refused call reads `error: <why>`."""
    return [
        f"error: {m.content}" if m.status == "error" else m.content
        for m in messages
        if isinstance(m, ToolMessage)
    ]


def _contents(store: Any, user: str = "alice") -> list[str]:
    return sorted(m.content for m in MemoryManager(store, user).list())


def test_remember_search_update_forget_in_a_conversation(memory_store, checkpointer):
    agent = _agent(
        memory_store,
        checkpointer,
        call("remember", content="Lives in Lisbon", category="location", importance=0.8),
        call("remember", content="Codes in Python", category="tools"),
        "Noted both.",
        call("search_memory", query="Where does the user live?"),
        call("update_memory", memory="1", content="Lives in Berlin"),
        "Updated your city.",
        call("forget_memory", memory="[2]"),
        "Forgotten.",
    )
    first = _turn(agent, "I live in Lisbon and I code in Python.")
    assert _tool_replies(first) == [
        "Remembered [1] Lives in Lisbon (personal, importance 0.8)",
        "Remembered [2] Codes in Python (tools, importance 0.5)",
    ]
    second = _turn(agent, "I moved to Berlin.")
    search, update = _tool_replies(second)[-2:]
    assert search.startswith("[1] Lives in Lisbon (personal, importance 0.8, score 0.")
    assert update == "Updated [1] Lives in Berlin (personal, importance 0.8)"
    found = [m for m in second if isinstance(m, ToolMessage)][-2].artifact["memories"]
    assert found[0]["content"] == "Lives in Lisbon" and 0 < found[0]["score"] <= 1
    third = _turn(agent, "Forget that I code in Python.")
    assert _tool_replies(third)[-1] == "Forgot [2] Codes in Python (tools, importance 0.5)"
    assert _contents(memory_store) == ["Lives in Berlin"]

    history = memory_store.history(memory_namespace("alice"))
    assert [h["op"] for h in reversed(history)] == ["ADD", "ADD", "UPDATE", "DELETE"]
    update_row = next(h for h in history if h["op"] == "UPDATE")
    assert update_row["old"]["content"] == "Lives in Lisbon"
    assert update_row["source"]["origin"] == "tool"
    assert update_row["source"]["tool"] == "update"
    assert update_row["source"]["thread_id"] == "t1"
    said = [m for m in second if isinstance(m, HumanMessage)][-1]
    assert update_row["source"]["message_ids"] == [said.id]  # the user's message


def test_the_user_comes_from_the_run_never_from_the_model(memory_store, checkpointer):
    MemoryManager(memory_store, "bob").add("Bob's bank PIN is 1234", category="personal")
    agent = _agent(
        memory_store,
        checkpointer,
        call("search_memory", query="bank PIN", user_id="bob"),  # a forged argument
        call("forget_memory", memory=_only_key(memory_store, "bob")),  # bob's real key
        "Done.",
    )
    search, forget = _tool_replies(_turn(agent, "What's my PIN?", user="alice"))
    assert search == "No memories found."
    assert forget.startswith("error: no memory")
    assert _contents(memory_store, "bob") == ["Bob's bank PIN is 1234"]


def _only_key(store: Any, user: str) -> str:
    (memory,) = MemoryManager(store, user).list()
    return memory.id


def test_handles_belong_to_the_conversation(memory_store, checkpointer):
    # The key starts with "1", so "1" is also a unique start of a key: a handle the
    # conversation never showed must not fall through to key-prefix lookup.
    cat = Memory(content="Has a cat named Tom", category="personal", id=f"1{uuid.uuid4().hex}")
    memory_store.put(memory_namespace("alice"), cat.id, cat.to_value())
    agent = _agent(
        memory_store,
        checkpointer,
        call("forget_memory", memory="1"),  # no search yet in this thread: no handle 1
        "Sorry.",
    )
    (reply,) = _tool_replies(_turn(agent, "Forget my cat.", thread="fresh"))
    assert reply.startswith("error: no memory '1'") and "search first" in reply
    assert _contents(memory_store) == ["Has a cat named Tom"]


def test_bad_input_is_refused_with_a_reason_the_model_can_act_on(memory_store, checkpointer):
    agent = _agent(
        memory_store,
        checkpointer,
        call("remember", content="x" * 8001),
        call("remember", content="Likes tea", importance=7),
        call("remember", content="   "),
        call("update_memory", memory="nope"),
        "I could not save that.",
    )
    replies = _tool_replies(_turn(agent, "Remember all of this."))
    assert replies[0] == "error: not saved: content is 8001 characters; the limit is 8000"
    assert replies[1] == "error: not saved: importance must be within [0, 1], got 7.0"
    assert replies[2] == "error: not saved: content must not be empty"
    assert replies[3].startswith("error: no memory 'nope'")
    assert _contents(memory_store) == []


def test_a_run_without_a_user_fails_loudly(memory_store, checkpointer):
    model = ScriptedChatModel(responses=[call("search_memory", query="anything")])
    agent = create_agent(model, tools=create_memory_tools(), store=memory_store)
    with pytest.raises(MissingUserError, match="user_id"):
        agent.invoke(user_turn("hi"))


def test_config_configurable_names_the_user_when_the_context_does_not(memory_store):
    model = ScriptedChatModel(responses=[call("remember", content="Prefers tea"), "Ok."])
    agent = create_agent(model, tools=create_memory_tools(), store=memory_store)
    agent.invoke(user_turn("I prefer tea."), {"configurable": {"user_id": "carol"}})
    assert _contents(memory_store, "carol") == ["Prefers tea"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_prebuilt_react_agent_with_an_async_loop(memory_store):
    from langgraph.prebuilt import create_react_agent

    model = ScriptedChatModel(
        responses=[call("remember", content="Allergic to peanuts", category="personal"), "Ok."]
    )
    agent = create_react_agent(model, tools=create_memory_tools(), store=memory_store)

    import asyncio

    asyncio.run(agent.ainvoke(user_turn("I'm allergic to peanuts."), context={"user_id": "dan"}))
    assert _contents(memory_store, "dan") == ["Allergic to peanuts"]


def test_memories_a_tool_saved_are_recalled_by_the_hippograph_agent(memory_store, checkpointer):
    tools_agent = _agent(memory_store, checkpointer, call("remember", content="Uses NeoVim"), "Ok")
    _turn(tools_agent, "I use NeoVim.")
    hippograph = build_agent(store=memory_store, checkpointer=checkpointer)  # offline
    out = hippograph.invoke(
        user_turn("Which editor do I use?"), run_config("t2"), context={"user_id": "alice"}
    )
    assert [r["content"] for r in out["recalled"]][:1] == ["Uses NeoVim"]


def test_custom_namespace_and_a_read_only_tool_set(tmp_path, embeddings):
    index = {"dims": 384, "embed": embeddings, "fields": ["content"]}
    store = InMemoryStore(index=index)  # any LangGraph store
    tools = create_memory_tools(("memories", "{org_id}", "{user_id}"), tools=("search",))
    assert [t.name for t in tools] == ["search_memory"]
    MemoryManager(store, "x", namespace=("memories", "acme", "eve")).add("Works on billing")
    model = ScriptedChatModel(responses=[call("search_memory", query="team"), "Billing."])
    agent = create_agent(model, tools=tools, store=store)
    out = agent.invoke(
        user_turn("What do I work on?"), context={"org_id": "acme", "user_id": "eve"}
    )
    assert _tool_replies(out["messages"])[0].startswith("[1] Works on billing (other")


def test_a_file_store_keeps_what_tools_wrote(tmp_path, embeddings, checkpointer):
    path = str(tmp_path / "m.db")
    index = {"dims": 384, "embed": embeddings, "fields": ["content"]}
    with FaissSqliteStore.from_conn_string(path, index=index) as store:
        agent = _agent(store, checkpointer, call("remember", content="Runs marathons"), "Ok")
        _turn(agent, "I run marathons.")
    with FaissSqliteStore.from_conn_string(path, index=index) as store:
        assert _contents(store) == ["Runs marathons"]
