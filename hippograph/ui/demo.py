"""A demo user for the UI: a few weeks of conversation run through the real agent.

Core pieces:
    - `seed_demo`: run `DEMO_SCRIPT` through `build_agent` (real store, real embedder,
      real nodes) with a `ScriptedChatModel` playing the LLM, so memories are added,
      updated and deleted exactly as with a model; counts recalls; makes one UI edit.
    - `DEMO_USER`: whose memories they are.

Used by `hippograph ui --demo` (to try the UI without a model) and by the browser test
that takes the README's screenshots.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore

from hippograph.memories import MemoryManager
from hippograph.memory.entities import find_entities
from hippograph.recalls import RecallLog

DEMO_USER = "maya"
"""The demo user's id."""

Fact = tuple[str, str, float] | tuple[str, str, float, str]


@dataclass(frozen=True)
class DemoTurn:
    """One user message, the scripted model's reply, and what it extracts and decides.

    `actions` holds one reconcile answer per fact: `"ADD"`, or `(op, existing text[, new])`
    acting on the memory shown to the model with that text. `links` relates the turn's
    first fact to memories shown to the model: `(existing text, relation)`.
    """

    text: str
    reply: str
    days_ago: float
    thread: str
    facts: list[Fact] = field(default_factory=list)
    actions: list[str | tuple[str, ...]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


DEMO_SCRIPT: tuple[DemoTurn, ...] = (
    DemoTurn(
        "Hi! I'm Maya. I live in Lisbon and work as a data engineer at Acme.",
        "Nice to meet you, Maya! A data engineer in Lisbon — I'll keep that in mind.",
        41,
        "demo-onboarding",
        [("Lives in Lisbon", "personal", 0.7), ("Works as a data engineer at Acme", "work", 0.8)],
        ["ADD", "ADD"],
    ),
    DemoTurn(
        "I code mostly in Python, and NeoVim is my editor.",
        "Python and NeoVim, a classic pairing. Noted.",
        41,
        "demo-onboarding",
        [("Codes primarily in Python", "tools", 0.8), ("Uses NeoVim as her editor", "tools", 0.6)],
        ["ADD", "ADD"],
    ),
    DemoTurn(
        "I prefer dark mode everywhere, and I really dislike long meetings.",
        "Dark mode and short meetings — understood.",
        34,
        "demo-onboarding",
        [
            ("Prefers dark mode everywhere", "preferences", 0.4),
            ("Dislikes long meetings", "preferences", 0.5),
        ],
        ["ADD", "ADD"],
    ),
    DemoTurn(
        "I run 5k every morning before work.",
        "A morning 5k is a great habit!",
        29,
        "demo-running",
        [("Runs 5k every morning before work", "habits", 0.5)],
        ["ADD"],
    ),
    DemoTurn(
        "My goal this year is to run a half marathon.",
        "A half marathon is a great goal — your morning runs will help.",
        29,
        "demo-running",
        [("Wants to run a half marathon this year", "goals", 0.7)],
        ["ADD"],
        [("Runs 5k every morning before work", "training")],
    ),
    DemoTurn(
        "I've started learning Rust on weekends.",
        "Rust on weekends — nice way to stretch beyond Python.",
        22,
        "demo-learning",
        [("Learning Rust on weekends", "skills", 0.6)],
        ["ADD"],
        [("Codes primarily in Python", "programming")],
    ),
    DemoTurn(
        "My daughter Inês turns 6 in June.",
        "Lovely! I'll remember Inês's birthday is in June.",
        18,
        "demo-family",
        [("Has a daughter, Inês, who turns 6 in June", "personal", 0.8)],
        ["ADD"],
        [("Lives in Lisbon", "family")],
    ),
    DemoTurn(
        "I'm allergic to peanuts.",
        "Thanks for telling me — I'll keep peanuts out of any suggestions.",
        15,
        "demo-family",
        [("Is allergic to peanuts", "personal", 0.9)],
        ["ADD"],
    ),
    DemoTurn(
        "Actually, we switched our whole stack to Java, so I code in Java now.",
        "Got it: Java is your main language now, not Python.",
        11,
        "demo-work",
        [("Codes primarily in Java", "tools", 0.8)],
        [("UPDATE", "Codes primarily in Python", "Codes primarily in Java")],
    ),
    DemoTurn(
        "We moved to Porto last month.",
        "Porto! I've updated where you live.",
        8,
        "demo-family",
        [("Lives in Porto", "personal", 0.7)],
        [("UPDATE", "Lives in Lisbon", "Lives in Porto")],
    ),
    DemoTurn(
        "I'd love to give a talk about our Acme pipelines at a data conference next year.",
        "That's a great goal — your Acme pipelines would make a good talk.",
        6,
        "demo-work",
        [("Wants to give a talk about Acme's pipelines at a data conference", "goals", 0.6)],
        ["ADD"],
        [("Works as a data engineer at Acme", "career")],
    ),
    DemoTurn(
        "Please forget that I dislike long meetings.",
        "Done — I've forgotten that.",
        4,
        "demo-work",
        [("Dislikes long meetings", "preferences", 0.5, "forget")],
        [("DELETE", "Dislikes long meetings")],
    ),
    DemoTurn("What editor do I use?", "You use NeoVim.", 3, "demo-questions"),
    DemoTurn(
        "Which language do I code in these days?",
        "Java — you switched from Python.",
        3,
        "demo-questions",
    ),
    DemoTurn("Where do I live now?", "You live in Porto.", 2, "demo-questions"),
    DemoTurn(
        "What are my running plans?",
        "You run 5k every morning and want to run a half marathon this year.",
        2,
        "demo-questions",
    ),
    DemoTurn("Remind me what I'm allergic to.", "You're allergic to peanuts.", 1, "demo-questions"),
    DemoTurn("What language do I use at work again?", "Java.", 1, "demo-questions"),
    DemoTurn("Where do I live?", "In Porto.", 0.5, "demo-questions"),
)
"""Maya's conversations: introductions, corrections, a forget request, then questions."""

_HANDLE_LINE = re.compile(r"\[(\d+)\] \([a-z]+\) (.*)$")
_FACT_LINE = re.compile(r"^(\d+)\. (?:\(forget\) )?(.*)$")


def _handles(messages: list[BaseMessage]) -> dict[str, int]:
    """The memories shown to the model, text → handle."""
    shown = {}
    for message in messages:
        for line in message.text.splitlines():
            match = _HANDLE_LINE.match(line.strip())
            if match:
                shown[match.group(2)] = int(match.group(1))
    return shown


def _reconcile_answer(turn: DemoTurn, messages: list[BaseMessage]) -> dict[str, Any]:
    """The turn's reconcile answer for the facts the prompt lists (code decides the others):
    acting on or linking to an existing memory finds its handle in the prompt, as a real
    model must (a memory not shown is neither acted on nor linked)."""
    shown = _handles(messages)
    listed = {
        m.group(2): int(m.group(1))
        for m in (
            _FACT_LINE.match(line.strip()) for msg in messages for line in msg.text.splitlines()
        )
        if m
    }
    actions = []
    for index, fact in enumerate(turn.facts):
        number = listed.get(fact[0])
        if number is None:
            continue
        action = turn.actions[index] if index < len(turn.actions) else "ADD"
        op, existing, *new = (action, None) if isinstance(action, str) else action
        chosen: dict[str, Any] = {"fact": number, "op": op}
        if existing is not None:
            if existing not in shown:
                actions.append({"fact": number, "op": "NOOP"})
                continue
            chosen["handle"] = shown[existing]
        if new:
            chosen["content"] = new[0]
        links = turn.links if index == 0 else []
        chosen["links"] = [
            {"handle": shown[text], "relation": relation}
            for text, relation in links
            if text in shown
        ]
        actions.append(chosen)
    return {"actions": actions or [{"fact": 1, "op": "NOOP"}]}


def _facts(turn: DemoTurn) -> dict[str, Any]:
    return {
        "facts": [
            {
                "content": f[0],
                "category": f[1],
                "importance": f[2],
                "intent": f[3] if len(f) > 3 else "remember",
                "entities": find_entities(f[0]),
            }
            for f in turn.facts
        ]
    }


def _demo_model(current: list[DemoTurn]) -> Any:
    """A scripted model playing the demo: each call answers for the turn in `current`,
    by what the prompt asks (extract, reconcile, or the reply)."""
    from hippograph.scripted import ScriptedChatModel

    def answer(messages: list[BaseMessage]) -> Any:
        text = "\n".join(m.text for m in messages)
        if "You extract durable facts" in text:
            return _facts(current[0])
        if "long-term memory consistent" in text:
            return _reconcile_answer(current[0], messages)
        return current[0].reply

    return ScriptedChatModel(default=answer)


def seed_demo(
    store: BaseStore,
    *,
    user_id: str = DEMO_USER,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    recall_log: RecallLog | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Run the demo conversations for `user_id` through the real agent; returns how many
    memories the user has afterwards.

    Args:
        store: Where the memories go.
        checkpointer: Keeps the demo threads (default: in memory, discarded).
        recall_log: Counts each turn's recalled memories, as the chat surfaces do.
        now: The time the last turn is dated relative to (default: now).
        progress: Called with `(turns done, turns in all)` after each turn.
    """
    from hippograph.graph import build_agent
    from hippograph.turns import CHAT_DURABILITY, chat_context

    current: list[DemoTurn] = []
    model = _demo_model(current)
    agent = build_agent(store=store, checkpointer=checkpointer or InMemorySaver(), model=model)
    now = now or datetime.now(UTC)
    for done, turn in enumerate(DEMO_SCRIPT, start=1):
        current[:] = [turn]
        said = (now - timedelta(days=turn.days_ago)).isoformat()
        out = agent.invoke(
            {"messages": [{"role": "user", "content": turn.text}]},
            config={"configurable": {"thread_id": turn.thread}},
            context={**chat_context(user_id), "turn_at": said},
            durability=CHAT_DURABILITY,
        )
        if recall_log is not None:
            recall_log.record(user_id, out.get("recalled") or [])
        if progress is not None:
            progress(done, len(DEMO_SCRIPT))
    manager = MemoryManager(store, user_id, origin="ui")
    for memory in manager.list(text="allergic to peanuts"):
        manager.edit(memory.id, importance=1.0)
    return manager.count()
