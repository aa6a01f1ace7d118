"""Issue 13.6 / 17: in an ordinary one-thread chat, recall brings back what the turn is about
and nothing else — the thread a memory came from lifts nothing when every memory shares it.

(`recall_window=0` isolates the search's own ranking: the retrieve node's second query, built
from the recent turns, can still bring back what those turns were about.)"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from hippograph.backends import open_store
from hippograph.graph import build_agent
from tests.conftest import run_config, user_turn

CHAT = [
    "My cat sleeps on the windowsill all afternoon.",
    "I drink green tea every morning before work.",
    "I work as a nurse at the city hospital, mostly night shifts.",
    "The cat is called Miso and she is twelve years old.",
    "Jasmine tea is my favourite in the evening.",
]


@pytest.fixture
def agent(tmp_path, settings) -> Any:
    with open_store(tmp_path / "chat.db", settings=settings) as store:
        graph = build_agent(store=store, checkpointer=InMemorySaver(), settings=settings)
        for text in CHAT:
            graph.invoke(user_turn(text), config=run_config("only"), context={"user_id": "bo"})
        yield graph


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Which tea do I drink every morning?", ("tea",)),
        ("How old is my cat Miso?", ("cat", "Miso")),
        ("What is my job?", ("nurse",)),
    ],
)
def test_one_thread_chat_recalls_nothing_unrelated(
    agent: Any, question: str, topic: tuple[str, ...]
) -> None:
    out = agent.invoke(
        user_turn(question),
        config=run_config("only"),
        context={"user_id": "bo", "store_questions": False, "recall_window": 0},
    )
    recalled = [memory["content"] for memory in out["recalled"]]
    assert recalled
    unrelated = [text for text in recalled if not any(word in text for word in topic)]
    assert unrelated == []  # on main: the thread blend lifted cat and work memories to 0.22
