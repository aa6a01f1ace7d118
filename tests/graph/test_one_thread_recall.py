"""Issue 13.6 / 17: in an ordinary one-thread chat, recall brings back what the turn is about
and nothing else — the thread a memory came from lifts nothing when every memory shares it,
and a date or a thread only re-weighs a memory's own relevance."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from hippograph.backends import open_store
from hippograph.graph import build_agent, build_recall_graph
from hippograph.store import memory_namespace
from tests.conftest import run_config, user_turn

CHAT = [
    "My cat sleeps on the windowsill all afternoon.",
    "I drink green tea every morning before work.",
    "I work as a nurse at the city hospital, mostly night shifts.",
    "The cat is called Miso and she is twelve years old.",
    "Jasmine tea is my favourite in the evening.",
]
QUESTIONS = [
    ("Which tea do I drink every morning?", ("tea",)),
    ("How old is my cat Miso?", ("cat", "Miso")),
    ("What is my job?", ("nurse",)),
    ("Do I have any pets?", ("cat",)),
]


@pytest.fixture
def store(tmp_path, settings) -> Any:
    """The agent's memory store (`MEMORY_SEARCH`) holding one chat's memories, as a model
    extracts them: one thread, dated, no verbatim context."""
    with open_store(tmp_path / "chat.db", settings=settings) as opened:
        for n, text in enumerate(CHAT):
            value = {
                "content": text,
                "category": "personal",
                "importance": 0.5,
                "timestamp": f"2024-03-0{n + 1}T09:00:00+00:00",
                "source": {"thread_id": "only", "message_ids": [f"m{n}"]},
            }
            opened.put(memory_namespace("bo"), f"k{n}", value)
        yield opened


@pytest.mark.parametrize(("question", "topic"), QUESTIONS)
def test_one_thread_chat_recalls_nothing_unrelated(
    store: Any, question: str, topic: tuple[str, ...]
) -> None:
    recall = build_recall_graph(store=store)
    out = recall.invoke(user_turn(question), context={"user_id": "bo"})
    recalled = [memory["content"] for memory in out["recalled"]]
    assert recalled  # the memory the question is about passes min_score
    unrelated = [text for text in recalled if not any(word in text for word in topic)]
    assert unrelated == []  # on main: the thread blend lifted cat and work memories to 0.22


def test_offline_chat_context_does_not_leak_other_memories(tmp_path, settings) -> None:
    with open_store(tmp_path / "offline.db", settings=settings) as opened:
        agent = build_agent(store=opened, checkpointer=InMemorySaver(), settings=settings)
        for text in CHAT:
            agent.invoke(user_turn(text), config=run_config("only"), context={"user_id": "bo"})
        out = agent.invoke(
            user_turn("Which tea do I drink every morning?"),
            config=run_config("only"),
            context={"user_id": "bo", "store_questions": False, "recall_window": 0},
        )
    recalled = [memory["content"] for memory in out["recalled"]]
    assert all("tea" in text for text in recalled), recalled
