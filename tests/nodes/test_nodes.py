"""Node-level rules: recall queries, offline extraction and forgetting, model resolution."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.store.base import SearchItem

from hippograph.memory.chat_models import ModelUnavailableError, describe_model, resolve_chat_model
from hippograph.memory.context import Context, MissingUserError, UnknownContextKeyError
from hippograph.memory.decisions import Similar, forget_targets
from hippograph.memory.statements import forget_target, is_question
from hippograph.nodes.retrieve import WINDOW_WEIGHT, recall_queries
from hippograph.scripted import ScriptedChatModel


def _hit(key: str) -> SearchItem:
    now = datetime.now(UTC)
    return SearchItem(("memories", "u"), key, {"content": key}, now, now)


def test_recall_queries_use_recent_user_turns_only():
    messages = [
        HumanMessage("Tell me about my sister", id="h1"),
        AIMessage("Your sister Ana lives in Porto", id="a1"),
        HumanMessage("and her birthday?", id="h2"),
    ]
    latest, window = recall_queries(messages, window=3)
    assert latest.text == "and her birthday?" and latest.weight == 1.0
    assert window.text == "Tell me about my sister\nand her birthday?"
    assert window.weight == WINDOW_WEIGHT and window.skip_ids == {"h1"}
    assert recall_queries(messages, window=0) == [latest]
    assert recall_queries([AIMessage("hello")], window=3) == []


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Please forget where I live.", "where I live"),
        ("forget about my old job!", "my old job"),
        ("Could you forget that I have a dog", "I have a dog"),
        ("I never forget a face", None),
        ("Don't forget my birthday", None),
        ("Forget it, I'll fix it myself.", None),  # an idiom, not a request
        ("Oh forget about it", None),
        ("Forget that.", None),
    ],
)
def test_forget_target(text, target):
    assert forget_target(text) == target


def test_is_question():
    assert is_question("Where do I live?")
    assert is_question("Hm? What editor do I use?")
    assert not is_question("I live in Lisbon. Where do you live?")
    assert not is_question("I live in Lisbon")


def test_forget_targets_are_only_what_is_similar_enough():
    a, b, c = _hit("a"), _hit("b"), _hit("c")
    found = [Similar(a, 0.8), Similar(b, 0.5), Similar(c, 0.2)]
    assert forget_targets(found, 0.45) == [Similar(a, 0.8), Similar(b, 0.5)]
    assert forget_targets([Similar(a, 0.40), Similar(b, 0.18)], 0.45) == []  # no "best guess"
    assert forget_targets([], 0.45) == []


def test_context_validation():
    with pytest.raises(MissingUserError):
        Context(user_id="  ")
    with pytest.raises(ValueError, match="k must"):
        Context(user_id="u", k=-1)
    with pytest.raises(ValueError, match="min_score"):
        Context(user_id="u", min_score=2.0)
    with pytest.raises(MissingUserError, match="context=\\{'user_id'"):
        Context()
    with pytest.raises(UnknownContextKeyError, match=r"'usr_id'.*reads: user_id"):
        Context(user_id="u", usr_id="u")
    assert Context(user_id="u", turn_at="2023-05-08T13:56:00").turn_at == (
        "2023-05-08T13:56:00+00:00"
    )
    with pytest.raises(ValueError, match="turn_at must be an ISO-8601 time"):
        Context(user_id="u", turn_at="yesterday")


def test_model_resolution():
    scripted = ScriptedChatModel()
    assert resolve_chat_model(None) is None and resolve_chat_model("  ") is None
    assert resolve_chat_model(scripted) is scripted
    with pytest.raises(ModelUnavailableError, match=r"not installed|Cannot initialise"):
        resolve_chat_model("anthropic:claude-sonnet-4-5")
    with pytest.raises(ModelUnavailableError, match="Cannot initialise"):
        resolve_chat_model("nosuchprovider:model")
    local = resolve_chat_model("llama3.1", base_url="http://127.0.0.1:9/v1")
    assert local is not None and "ChatOpenAI" in describe_model(local)
    assert resolve_chat_model("llama3.1", base_url="http://127.0.0.1:9/v1") is local  # cached
