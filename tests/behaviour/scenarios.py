"""Memory-behaviour scenarios: multi-turn conversations and the memories a user should end with.

Each `Scenario` is a few user turns (several users and threads where it matters) and
`Expect`ations on the end state — properties of the user's memories, never exact text, so
the same scenario judges the offline mode, a scripted model and a real model:

    - corrections replace, forgets remove only their target, a forget with no target and
      a "forget it" idiom remove nothing, duplicates are stored once, chatter never, facts
      inside questions are kept, users are isolated, recall works across threads.

`run_scenario(scenario, agent_for)` plays it through the real agent on a real store and
returns an `Outcome` (which expectations failed, seconds per turn). The test module runs
every scenario in every mode; `benchmarks/memory_behaviour.py` writes the table.

The scripted mode's model is an oracle (`oracle_model`): it answers extract from the
scenario's `facts` and reconcile from its `decide` rules, reading the prompt as a real
model must (facts and handles come from the prompt, not from the test).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.store.base import BaseStore

from hippograph.scripted import ScriptedChatModel
from hippograph.store import memory_namespace

Mode = Literal["offline", "scripted", "local"]
MODES: tuple[Mode, ...] = ("offline", "scripted", "local")


@dataclass(frozen=True, slots=True)
class Say:
    """One user turn."""

    text: str
    user: str = "alice"
    thread: str = "t1"


@dataclass(frozen=True, slots=True)
class Expect:
    """A property of a user's memories at the end of a scenario.

    Attributes:
        kind: `"has"` (some memory mentions all `words`), `"lacks"` (none does, except
            memories that also mention one of `unless`: "Switched from Python to Java"),
            `"count"` (exactly `n` memories mention all `words`), `"total"` (the user has
            exactly `n` memories), `"recalls"` (asking `question` in a new thread recalls
            a memory mentioning all `words`, and nothing of another user).
        words: Lower-case words or phrases; a memory mentions one when its text contains it.
        alternatives: Other word lists, any of which satisfies `has` (different phrasings).
    """

    kind: Literal["has", "lacks", "count", "total", "recalls"]
    words: tuple[str, ...] = ()
    user: str = "alice"
    n: int = 0
    question: str = ""
    alternatives: tuple[tuple[str, ...], ...] = ()
    unless: tuple[str, ...] = ()

    def describe(self) -> str:
        """A one-line statement of the expectation."""
        said = " + ".join(self.words)
        return {
            "has": f"{self.user} has a memory of {said}",
            "lacks": f"{self.user} has no memory of {said}"
            + (f" (unless it says {' or '.join(self.unless)})" if self.unless else ""),
            "count": f"{self.user} has {self.n} memory(ies) of {said}",
            "total": f"{self.user} has {self.n} memories in all",
            "recalls": f"{self.user} asking {self.question!r} recalls {said}",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A conversation and the end state it must leave.

    Attributes:
        name: Short id.
        says: What this checks, in a sentence.
        turns: The user turns, in order.
        expect: Properties of the end state.
        modes: Where the behaviour is promised (offline replaces nothing, so corrections
            are a model's job).
        facts: Scripted mode: what extract answers for each user message.
        decide: Scripted mode: reconcile's answer per fact, `(op, memory text or "", new
            content or "")`; facts not listed are ADDed.
    """

    name: str
    says: str
    turns: tuple[Say, ...]
    expect: tuple[Expect, ...]
    modes: tuple[Mode, ...] = MODES
    facts: dict[str, list[tuple[str, str, float] | tuple[str, str, float, str]]] = field(
        default_factory=dict
    )
    decide: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def _has(*words: str, user: str = "alice", alternatives: Sequence[Sequence[str]] = ()) -> Expect:
    return Expect("has", words, user, alternatives=tuple(tuple(a) for a in alternatives))


def _lacks(*words: str, user: str = "alice", unless: Sequence[str] = ()) -> Expect:
    return Expect("lacks", words, user, unless=tuple(unless))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "correction-replaces",
        "A correction updates the old memory instead of adding a contradicting one.",
        (Say("I code mostly in Python."), Say("Actually, I switched from Python to Java.")),
        (_has("java"), _lacks("python", unless=["java"]), Expect("count", ("java",), n=1)),
        modes=("scripted", "local"),
        facts={
            "I code mostly in Python.": [("Codes mostly in Python", "tools", 0.8)],
            "Actually, I switched from Python to Java.": [("Codes mostly in Java", "tools", 0.8)],
        },
        decide={
            "Codes mostly in Java": ("UPDATE", "Codes mostly in Python", "Codes mostly in Java")
        },
    ),
    Scenario(
        "forget-only-the-target",
        "Forgetting where I live removes that and nothing else said in the same message.",
        (
            Say("I live in Lisbon and I work as a data engineer at Acme."),
            Say("I have a cat named Miso."),
            Say("Please forget where I live."),
        ),
        (_lacks("lisbon"), _has("acme"), _has("miso")),
        facts={
            "I live in Lisbon and I work as a data engineer at Acme.": [
                ("Lives in Lisbon", "personal", 0.8),
                ("Works as a data engineer at Acme", "work", 0.8),
            ],
            "I have a cat named Miso.": [("Has a cat named Miso", "personal", 0.7)],
            "Please forget where I live.": [("Where the user lives", "personal", 0.5, "forget")],
        },
        decide={"Where the user lives": ("DELETE", "Lives in Lisbon", "")},
    ),
    Scenario(
        "forget-with-no-target",
        "A forget naming nothing stored deletes nothing.",
        (Say("I play the cello on weekends."), Say("Please forget my mother's maiden name.")),
        (_has("cello"), Expect("total", n=1)),
        facts={
            "I play the cello on weekends.": [("Plays the cello on weekends", "habits", 0.6)],
            "Please forget my mother's maiden name.": [
                ("The user's mother's maiden name", "personal", 0.5, "forget")
            ],
        },
    ),
    Scenario(
        "forget-idiom-is-not-a-request",
        '"Forget it, …" is an idiom, not a request to forget a memory.',
        (Say("I usually fix my bike myself."), Say("Forget it, I'll do it myself.")),
        (_has("bike"),),
        facts={
            "I usually fix my bike myself.": [("Fixes own bike", "habits", 0.5)],
            "Forget it, I'll do it myself.": [],
        },
    ),
    Scenario(
        "duplicates-once",
        "The same fact said twice, in two threads, is one memory.",
        (Say("I play the violin."), Say("I play the violin.", thread="t2")),
        (Expect("count", ("violin",), n=1),),
        facts={"I play the violin.": [("Plays the violin", "habits", 0.6)]},
    ),
    Scenario(
        "chatter-never",
        "Greetings, thanks, laughter and slash commands are never stored.",
        (Say("Hi!"), Say("thanks"), Say("lol"), Say("/help"), Say("ok")),
        (Expect("total", n=0),),
    ),
    Scenario(
        "facts-in-questions",
        "A fact stated inside a question is kept.",
        (
            Say("Did I tell you I have a cat named Miso?"),
            Say("Can you remember that my birthday is on May 3?"),
        ),
        (_has("miso"), _has("may 3", alternatives=[("may", "3")])),
        facts={
            "Did I tell you I have a cat named Miso?": [("Has a cat named Miso", "personal", 0.7)],
            "Can you remember that my birthday is on May 3?": [
                ("Birthday is on May 3", "personal", 0.9)
            ],
        },
    ),
    Scenario(
        "users-isolated",
        "One user's memories never reach another user, in storage or recall.",
        (Say("My dog is called Rex."), Say("My dog is called Fido.", user="bob", thread="b1")),
        (
            _has("rex"),
            _lacks("fido"),
            _has("fido", user="bob"),
            _lacks("rex", user="bob"),
            Expect("recalls", ("rex",), question="What is my dog called?"),
        ),
        facts={
            "My dog is called Rex.": [("Has a dog named Rex", "personal", 0.8)],
            "My dog is called Fido.": [("Has a dog named Fido", "personal", 0.8)],
        },
    ),
    Scenario(
        "recall-across-threads",
        "What was said in one thread is recalled in another.",
        (Say("I'm allergic to peanuts."),),
        (Expect("recalls", ("peanut",), question="What am I allergic to?"),),
        facts={"I'm allergic to peanuts.": [("Allergic to peanuts", "personal", 0.9)]},
    ),
)


@dataclass(slots=True)
class Outcome:
    """How a scenario went in one mode."""

    scenario: str
    mode: Mode
    failed: list[str] = field(default_factory=list)
    turn_seconds: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failed


def memories_of(store: BaseStore, user: str) -> list[str]:
    """The user's memory texts."""
    items = store.search(memory_namespace(user), limit=1000)
    return [str(i.value.get("content", "")) for i in items]


def _mentions(text: str, words: Sequence[str]) -> bool:
    lowered = text.casefold()
    return all(w in lowered for w in words)


def check(expect: Expect, store: BaseStore, recalled: list[str], others: list[str]) -> bool:
    """Whether `expect` holds (`recalled`: what its question recalled; `others`: every other
    user's memory texts)."""
    texts = memories_of(store, expect.user)
    if expect.kind == "has":
        return any(_mentions(t, w) for t in texts for w in (expect.words, *expect.alternatives))
    if expect.kind == "lacks":
        stale = [t for t in texts if not any(u in t.casefold() for u in expect.unless)]
        return not any(_mentions(t, expect.words) for t in stale)
    if expect.kind == "count":
        return sum(_mentions(t, expect.words) for t in texts) == expect.n
    if expect.kind == "total":
        return len(texts) == expect.n
    mine = any(_mentions(t, expect.words) for t in recalled)
    return mine and not set(recalled) & set(others)


_FACT_LINE = re.compile(r"^(\d+)\. (?:\(forget\) )?(.*)$")
_MEMORY_LINE = re.compile(r"^\[(\d+)\] \([a-z]+\) (.*)$")


def _prompt(messages: list[BaseMessage]) -> str:
    return "\n".join(m.text for m in messages)


def oracle_model(scenario: Scenario) -> ScriptedChatModel:
    """A scripted model answering as a perfect one would for `scenario` (see module doc)."""

    def answer(messages: list[BaseMessage]) -> Any:
        text = _prompt(messages)
        if "You extract durable facts" in text:
            message = re.search(r"<message>\s*(.*?)\s*</message>", text, re.DOTALL)
            said = message.group(1) if message else ""
            facts = []
            for fact in scenario.facts.get(said, []):
                entry = {"content": fact[0], "category": fact[1], "importance": fact[2]}
                if len(fact) == 4:
                    entry["intent"] = fact[3]
                facts.append(entry)
            return {"facts": facts}
        if "long-term memory consistent" in text:
            return {"actions": _oracle_actions(scenario, text)}
        return "Noted."

    return ScriptedChatModel(default=answer)


def _oracle_actions(scenario: Scenario, prompt: str) -> list[dict[str, Any]]:
    facts = {m.group(2): int(m.group(1)) for m in map(_FACT_LINE.match, prompt.splitlines()) if m}
    handles = {
        m.group(2): int(m.group(1)) for m in map(_MEMORY_LINE.match, prompt.splitlines()) if m
    }
    actions: list[dict[str, Any]] = []
    for fact, number in facts.items():
        op, target, content = scenario.decide.get(fact, ("ADD", "", ""))
        if target and target not in handles:
            op, target = ("NOOP", "") if op != "ADD" else (op, "")
        action: dict[str, Any] = {"fact": number, "op": op}
        if target:
            action["handle"] = handles[target]
        if content:
            action["content"] = content
        actions.append(action)
    return actions


def scenario_agent(
    scenario: Scenario, mode: Mode, store: BaseStore, local: BaseChatModel | None = None
) -> Any:
    """The agent of `mode` on `store`: no model, the scenario's oracle, or `local`."""
    from langgraph.checkpoint.memory import InMemorySaver

    from hippograph.graph import build_agent

    model = {"offline": None, "scripted": oracle_model(scenario), "local": local}[mode]
    if mode == "local" and local is None:
        raise ValueError("local mode needs the local model")
    return build_agent(store=store, checkpointer=InMemorySaver(), model=model)


def run_scenario(
    scenario: Scenario, mode: Mode, agent_for: Callable[[Scenario], tuple[Any, BaseStore]]
) -> Outcome:
    """Play `scenario` through the agent `agent_for(scenario)` gives (with its store)."""
    agent, store = agent_for(scenario)
    outcome = Outcome(scenario.name, mode)
    for say in scenario.turns:
        started = time.perf_counter()
        out = agent.invoke(
            {"messages": [{"role": "user", "content": say.text}]},
            config={"configurable": {"thread_id": f"{say.user}-{say.thread}"}},
            context={"user_id": say.user},
        )
        outcome.turn_seconds.append(time.perf_counter() - started)
        outcome.warnings += out.get("warnings") or []
    for expect in scenario.expect:
        recalled: list[str] = []
        if expect.kind == "recalls":
            out = agent.invoke(
                {"messages": [{"role": "user", "content": expect.question}]},
                config={"configurable": {"thread_id": f"{expect.user}-recall"}},
                context={"user_id": expect.user},
            )
            recalled = [m["content"] for m in out.get("recalled") or []]
        users = {s.user for s in scenario.turns} - {expect.user}
        others = [t for u in users for t in memories_of(store, u)]
        if not check(expect, store, recalled, others):
            outcome.failed.append(
                f"{expect.describe()} (memories: {memories_of(store, expect.user)})"
            )
    return outcome
