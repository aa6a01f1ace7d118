"""The public surface: lazy exports and the two-call seed API."""

from __future__ import annotations

import subprocess
import sys

import hippograph
from hippograph import ScriptedChatModel, answer_with_memory, process_message
from hippograph.store import memory_namespace


def test_every_export_resolves():
    assert sorted(hippograph.__all__) == sorted(hippograph._EXPORTS)
    for name in hippograph.__all__:
        assert getattr(hippograph, name) is not None


def test_a_name_that_is_not_exported_says_where_it_lives():
    import pytest

    with pytest.raises(AttributeError, match=r"import it from hippograph\.recalls"):
        _ = hippograph.RecallLog
    for name, module in hippograph._ELSEWHERE.items():
        assert getattr(__import__(module, fromlist=[name]), name) is not None


def test_import_is_lazy():
    code = "import sys, hippograph; print(any(m.startswith('langgraph') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_process_message_then_answer(memory_store, settings):
    ops = process_message("I am allergic to peanuts.", "zoe", store=memory_store, settings=settings)
    assert [op["op"] for op in ops] == ["ADD"]
    model = ScriptedChatModel(responses=["Yes: peanuts.", {"facts": []}])
    answer = answer_with_memory(
        "Do I have any allergies?", "zoe", model=model, store=memory_store, settings=settings
    )
    assert str(answer) == "Yes: peanuts."
    assert answer.recalled[0]["content"] == "I am allergic to peanuts."
    assert answer.ops == []
    assert "I am allergic to peanuts." in model.calls[0][0].text
    assert len(memory_store.search(memory_namespace("zoe"))) == 1


def test_answer_with_memory_on_default_storage(settings):
    first = answer_with_memory(
        "My favourite colour is teal.", "yan", settings=settings, thread_id="t"
    )
    assert [op["op"] for op in first.ops] == ["ADD"]
    second = answer_with_memory("What is my favourite colour?", "yan", settings=settings)
    assert "teal" in second.text


def test_answer_with_memory_checkpoints_whole_turns_as_the_chat_does(settings):
    """A thread continued through `answer_with_memory` holds one checkpoint per turn, as a
    `hippograph chat` thread does (`CHAT_DURABILITY`), and the whole conversation."""
    from hippograph.backends import open_checkpointer

    answer_with_memory("My favourite colour is teal.", "yan", settings=settings, thread_id="t")
    second = answer_with_memory(
        "What is my favourite colour?", "yan", settings=settings, thread_id="t"
    )
    assert "teal" in second.text
    config = {"configurable": {"thread_id": "t"}}
    with open_checkpointer(settings=settings) as saver:
        history = list(saver.list(config))
        state = saver.get_tuple(config)
    assert len(history) == 2
    assert state is not None
    texts = [message.text for message in state.checkpoint["channel_values"]["messages"]]
    assert texts[0::2] == ["My favourite colour is teal.", "What is my favourite colour?"]
    assert len(texts) == 4
