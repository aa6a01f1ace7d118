"""The memory agent with a (scripted) chat model: extraction, corrections, forgetting,
malformed output and failing models — all through the real graph, store and embedder."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

from hippograph.graph import build_agent
from hippograph.memory.chat_models import ModelCallError
from hippograph.scripted import ScriptedChatModel
from hippograph.store import FaissSqliteStore, memory_namespace
from tests.conftest import run_config, user_turn
from tests.graph.helpers import ADD, act_on, facts, handle_of, prompt_text, turn_candidates

NS = memory_namespace("alice")


def _agent(store: FaissSqliteStore, checkpointer: Any, *responses: Any) -> Any:
    model = ScriptedChatModel(responses=list(responses))
    return build_agent(store=store, checkpointer=checkpointer, model=model), model


def _turn(agent: Any, text: str, thread: str = "t1", user: str = "alice") -> dict[str, Any]:
    return agent.invoke(user_turn(text), config=run_config(thread), context={"user_id": user})


def _contents(store: FaissSqliteStore, user: str = "alice") -> list[str]:
    return sorted(i.value["content"] for i in store.search(memory_namespace(user), limit=100))


def test_extracts_facts_with_categories_and_importance(memory_store, checkpointer):
    agent, model = _agent(
        memory_store,
        checkpointer,
        "Nice to meet you!",
        facts(("Codes primarily in Python", "Tool", 0.8), ("Lives in Berlin", "location", "0.7")),
    )
    out = _turn(agent, "I'm a Python developer living in Berlin.")
    assert out["messages"][-1].content == "Nice to meet you!"
    assert [
        (c["content"], c["category"], c["importance"]) for c in turn_candidates(agent, run_config())
    ] == [
        ("Codes primarily in Python", "tools", 0.8),
        ("Lives in Berlin", "personal", 0.7),
    ]
    assert [op["op"] for op in out["ops"]] == ["ADD", "ADD"]
    user_message_id = out["messages"][0].id
    for op in out["ops"]:
        item = memory_store.get(NS, op["key"])
        assert item is not None and item.value["content"] == op["content"]
        assert item.value["source"]["thread_id"] == "t1"
        assert item.value["source"]["message_ids"] == [user_message_id]
    history = memory_store.history(NS)
    assert {h["op"] for h in history} == {"ADD"}
    assert all(h["source"]["message_ids"] == [user_message_id] for h in history)
    assert model.remaining == 0  # nothing related was stored: no reconcile call was needed


def test_correction_updates_the_old_memory_in_place(memory_store, checkpointer):
    agent, model = _agent(
        memory_store,
        checkpointer,
        "Noted.",
        facts(("Codes primarily in Python", "tools", 0.8)),
        "Java, nice.",
        facts(("Codes primarily in Java", "tools", 0.8)),
        act_on("UPDATE", "Codes primarily in Python", "Codes primarily in Java"),
    )
    first = _turn(agent, "I code mostly in Python.")
    key = first["ops"][0]["key"]
    out = _turn(agent, "Actually, I switched to Java.")
    assert [(op["op"], op["key"]) for op in out["ops"]] == [("UPDATE", key)]
    assert out["ops"][0]["old_content"] == "Codes primarily in Python"
    assert _contents(memory_store) == ["Codes primarily in Java"]
    reconcile_prompt = prompt_text(model.calls[-1])
    assert key not in reconcile_prompt  # handles, never raw keys
    assert handle_of("Codes primarily in Python", model.calls[-1]) == 1
    update = memory_store.history(NS, key)[0]
    assert update["op"] == "UPDATE"
    assert update["old"]["content"] == "Codes primarily in Python"
    assert update["new"]["content"] == "Codes primarily in Java"
    assert update["source"]["message_ids"] == [out["messages"][2].id]


def test_explicit_forget_deletes(memory_store, checkpointer):
    agent, _ = _agent(
        memory_store,
        checkpointer,
        "Got it.",
        facts(("Lives in Berlin", "personal", 0.9), ("Codes in Python", "tools", 0.6)),
        "Done, I forgot it.",
        facts(("Where the user lives", "personal", 0.5, "forget")),
        act_on("DELETE", "Lives in Berlin"),
    )
    _turn(agent, "I live in Berlin and code in Python.")
    out = _turn(agent, "Please forget where I live.")
    assert [op["op"] for op in out["ops"]] == ["DELETE"]
    assert out["ops"][0]["content"] == "Lives in Berlin"
    assert _contents(memory_store) == ["Codes in Python"]
    deleted = memory_store.history(NS, out["ops"][0]["key"])[0]
    assert deleted["op"] == "DELETE" and deleted["old"]["content"] == "Lives in Berlin"
    assert deleted["source"]["thread_id"] == "t1"


def test_forget_request_may_not_add(memory_store, checkpointer):
    agent, model = _agent(
        memory_store,
        checkpointer,
        "Ok.",
        facts(("Lives in Berlin", "personal", 0.9)),
        "Ok.",
        facts(("Where the user lives", "personal", 0.5, "forget")),
        ADD,
        ADD,
    )
    _turn(agent, "I live in Berlin.")
    out = _turn(agent, "Forget where I live.")
    assert out["ops"][0]["op"] == "NOOP" and "unusable" in out["ops"][0]["reason"]
    assert _contents(memory_store) == ["Lives in Berlin"]
    assert "only DELETE or NOOP" in prompt_text(model.calls[-1])
    assert out["warnings"] and "not remembered" in out["warnings"][0]


@pytest.mark.parametrize(
    "bad",
    ['{"facts": [', "", {"memories": ["wrong schema"]}, AIMessage("Sure, here you go")],
    ids=["bad-json", "empty", "wrong-schema", "prose"],
)
def test_unusable_extraction_is_retried_once_then_skipped(memory_store, checkpointer, bad, caplog):
    agent, model = _agent(memory_store, checkpointer, "Hi!", bad, bad)
    out = _turn(agent, "I love hiking.")
    assert out["messages"][-1].content == "Hi!"  # the turn still completes
    assert turn_candidates(agent, run_config()) == [] and out["ops"] == []
    assert model.remaining == 0  # exactly one retry
    assert "unusable" in prompt_text(model.calls[-1])  # the retry says what was wrong
    assert "skipped after two unusable answers" in caplog.text
    assert _contents(memory_store) == []


def test_retry_recovers_from_one_bad_answer(memory_store, checkpointer):
    agent, _ = _agent(
        memory_store, checkpointer, "Hi!", '{"facts": [', facts(("Loves hiking", "hobby", 0.6))
    )
    out = _turn(agent, "I love hiking.")
    assert [op["op"] for op in out["ops"]] == ["ADD"]
    assert _contents(memory_store) == ["Loves hiking"]


def test_unknown_handle_is_never_acted_on(memory_store, checkpointer):
    bad = {"actions": [{"op": "DELETE", "handle": 7}]}
    agent, _ = _agent(
        memory_store,
        checkpointer,
        "Ok.",
        facts(("Lives in Berlin", "personal", 0.9)),
        "Ok.",
        facts(("Lives in Paris", "personal", 0.9)),
        bad,
        bad,
    )
    _turn(agent, "I live in Berlin.")
    before = memory_store.history(NS)
    out = _turn(agent, "I live in Paris now.")
    assert out["ops"][0]["op"] == "NOOP" and out["ops"][0]["key"] is None
    assert _contents(memory_store) == ["Lives in Berlin"]
    assert memory_store.history(NS) == before


def test_failing_respond_fails_the_turn_and_writes_nothing(memory_store, checkpointer):
    agent, _ = _agent(memory_store, checkpointer, TimeoutError("model timed out"))
    with pytest.raises(ModelCallError, match="timed out") as raised:
        _turn(agent, "I code in Rust and moved to Paris.")
    assert isinstance(raised.value.__cause__, TimeoutError)
    assert _contents(memory_store) == []


@pytest.mark.parametrize("failing_call", ["extract", "reconcile"])
def test_a_failing_memory_step_keeps_the_answer_and_says_so(
    memory_store, checkpointer, failing_call
):
    seed, _ = _agent(memory_store, checkpointer, "Ok.", facts(("Lives in Berlin", "personal", 0.9)))
    _turn(seed, "I live in Berlin.")
    timeout = TimeoutError("model timed out")
    script = {
        "extract": ["Sure, Rust and Paris!", timeout],
        "reconcile": [
            "Sure, Rust and Paris!",
            facts(("Codes in Rust", "tools", 0.7), ("Lives in Paris", "personal", 0.9)),
            timeout,
        ],
    }[failing_call]
    agent, model = _agent(memory_store, checkpointer, *script)
    before_history = memory_store.history(NS)
    out = _turn(agent, "I code in Rust and moved to Paris.")
    assert out["messages"][-1].content == "Sure, Rust and Paris!"  # the answer is kept
    assert model.remaining == 0
    (warning,) = out["warnings"]
    assert "timed out" in warning and "not remembered" in warning
    if failing_call == "extract":
        assert out["ops"] == [] and memory_store.history(NS) == before_history
    else:  # "Codes in Rust" had nothing related (added by code); "Lives in Paris" needed the
        # model, which failed: that fact is skipped, never guessed.
        assert sorted((op["op"], op["candidate"]) for op in out["ops"]) == [
            ("ADD", "Codes in Rust"),
            ("NOOP", "Lives in Paris"),
        ]
        assert _contents(memory_store) == ["Codes in Rust", "Lives in Berlin"]


def test_respond_sees_recalled_memories_and_streams_tokens(memory_store, checkpointer):
    agent, model = _agent(
        memory_store,
        checkpointer,
        "Ok.",
        facts(("Uses NeoVim as editor", "tools", 0.7)),
        "You use NeoVim every day",
        {"facts": []},
    )
    _turn(agent, "My editor is NeoVim.")
    tokens = []
    for chunk, meta in agent.stream(
        user_turn("Which editor do I use?"),
        config=run_config(),
        context={"user_id": "alice"},
        stream_mode="messages",
    ):
        assert meta["langgraph_node"] == "respond", chunk  # never extract's internal JSON
        assert isinstance(chunk, AIMessageChunk)
        tokens.append(chunk.content)
    assert "".join(tokens) == "You use NeoVim every day"
    assert len([t for t in tokens if t.strip()]) == 5
    system = model.calls[2][0]
    assert system.type == "system" and "Uses NeoVim as editor" in system.text


def test_users_never_see_each_others_memories(memory_store, checkpointer):
    agent, _ = _agent(
        memory_store,
        checkpointer,
        "Ok.",
        facts(("Has a dog named Rex", "personal", 0.8)),
        "No idea.",
        {"facts": []},
    )
    _turn(agent, "My dog is called Rex.", user="bob", thread="b")
    out = _turn(agent, "What is my dog called?", user="alice", thread="a")
    assert out["recalled"] == []
    assert _contents(memory_store, "alice") == []
    assert _contents(memory_store, "bob") == ["Has a dog named Rex"]


def test_unreachable_model_is_a_clear_error(memory_store, checkpointer):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model="llama3.1", base_url="http://127.0.0.1:9/v1", api_key="unused", max_retries=0
    )
    agent = build_agent(store=memory_store, checkpointer=checkpointer, model=model)
    with pytest.raises(ModelCallError, match=r"respond: the chat model ChatOpenAI\(llama3.1\)"):
        _turn(agent, "hello?")
    assert _contents(memory_store) == []
