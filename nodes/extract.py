"""extract: pull durable facts (or a request to forget) from the latest user turn.

With a model: structured output → `[{content, category, importance, intent, entities}]`,
`[]` for greetings and questions; unusable output is retried once, then skipped with a
warning on the turn (so is a failing call: the answer is already out). Chatter and slash
commands are not sent to the model at all.
Offline: each statement of the turn is a candidate, verbatim, and an explicit "forget …" a
forget request (`hippograph.memory.statements`); entities are the names `find_entities`
sees. With `granularity="message"` the whole turn is one candidate.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, field_validator

from hippograph.memory.chat_models import (
    ModelCallError,
    UnusableOutputError,
    call_structured,
    pick_model,
)
from hippograph.memory.context import Context, memory_context
from hippograph.memory.entities import find_entities
from hippograph.memory.state import Candidate, State
from hippograph.memory.statements import is_question, read_message
from hippograph.memory.turn import Turn, current_turn
from hippograph.prompts import extract as prompts
from hippograph.store import CATEGORIES, clamp_importance, normalize_category
from hippograph.store.memory import MAX_CONTENT_CHARS

logger = logging.getLogger(__name__)

MAX_ENTITY_CHARS = 100
"""Longer "entities" from a model are sentences, not names: dropped."""

VERBATIM_CATEGORY = "other"
VERBATIM_IMPORTANCE = 0.5


class Fact(BaseModel):
    """One durable fact about the user, or (intent "forget") what the user wants forgotten."""

    content: str = Field(
        min_length=1,
        max_length=MAX_CONTENT_CHARS,
        description="Short standalone statement, e.g. 'Codes primarily in Python'.",
    )
    category: str = Field(description=f"One of: {', '.join(CATEGORIES)}.")
    importance: float = Field(description="0 (trivia) to 1 (identity, lasting preference).")
    intent: Literal["remember", "forget"] = Field(
        default="remember", description="'forget' only when the user asks to forget it."
    )
    entities: list[str] = Field(
        default_factory=list,
        description="Proper names the fact mentions, as written in it: people, pets, places, "
        "organisations, products, titles. Not dates, numbers or common nouns.",
    )

    @field_validator("content")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be blank")
        return value.strip()

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: object) -> str:
        return normalize_category(value)

    @field_validator("importance", mode="before")
    @classmethod
    def _importance(cls, value: object) -> float:
        return clamp_importance(value)

    @field_validator("entities", mode="before")
    @classmethod
    def _entities(cls, value: object) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
            raise ValueError("entities must be a list of names")
        names = (e.strip() for e in value)
        return list(dict.fromkeys(n for n in names if n and len(n) <= MAX_ENTITY_CHARS))


class Extraction(BaseModel):
    """The durable facts in the user's latest message (an empty list when there are none)."""

    facts: list[Fact] = Field(description="Facts to remember or forget; [] if none.")


def verbatim_candidates(turn: Turn, context: Context) -> list[Candidate]:
    """Offline extraction: the turn's statements and forget requests (see
    `hippograph.memory.statements`), or the whole turn as one memory with
    `granularity="message"`."""
    raw = turn.message.text.strip()
    if not raw:
        return []
    if context.granularity == "message":
        reading = read_message(raw, keep_questions=True)
        keep = (context.store_questions or not is_question(raw)) and not raw.startswith("/")
        said = (
            [(turn.text, raw)] if keep and not (reading.forget and not reading.statements) else []
        )
    else:
        reading = read_message(raw, keep_questions=context.store_questions)
        prefix = f"{turn.message.name}: " if turn.message.name else ""
        said = [(f"{prefix}{statement}", statement) for statement in reading.statements]
    candidates = [
        _candidate(target, VERBATIM_CATEGORY, VERBATIM_IMPORTANCE, "forget")
        for target in reading.forget
    ]
    for text, statement in dict(said).items():  # a statement said twice is one candidate
        if len(text) > MAX_CONTENT_CHARS:
            logger.warning(
                "extract: a statement of turn %s is %d characters (limit %d); not stored",
                turn.message_ids,
                len(text),
                MAX_CONTENT_CHARS,
            )
            continue
        candidate = _candidate(text, VERBATIM_CATEGORY, VERBATIM_IMPORTANCE, "remember")
        if turn.context:
            candidate["context"] = turn.context
        entities = find_entities(statement)
        if entities:
            candidate["entities"] = entities
        candidates.append(candidate)
    return candidates


def _candidate(content: str, category: str, importance: float, intent: str) -> Candidate:
    return Candidate(
        content=content,
        category=category,
        importance=importance,
        intent="forget" if intent == "forget" else "remember",
    )


FORGET_WORDS = re.compile(
    r"\b(?:forget|forgot|delete|erase|remove|stop remembering|don't remember)\b", re.IGNORECASE
)
"""Words without which a turn cannot be asking to forget anything."""
MAX_FACTS = 12
"""Most facts kept from one turn (a longer list is a model running away)."""
EXTRACT_MAX_TOKENS = 480
"""Completion bound of the extraction call."""


def says_nothing(turn: Turn) -> bool:
    """True when the turn is only chatter or a slash command: no model is asked about it."""
    reading = read_message(turn.message.text, keep_questions=True)
    return not reading.statements and not reading.forget


def extract_facts(model: BaseChatModel, turn: Turn) -> list[Candidate]:
    """Ask `model` for the turn's facts. Whether a fact is a forget request is checked by
    code: a turn that names no forgetting forgets nothing, and an explicit request the
    model missed is still a forget request.

    Raises:
        ModelCallError: the call itself failed (timeout, connection, provider error).
        UnusableOutputError: two answers in a row were unusable.
    """
    prompt = prompts.PROMPT.format_messages(
        categories=", ".join(CATEGORIES),
        previous=turn.previous or "(none)",
        message=turn.text,
    )
    extraction = call_structured(
        "extract", model, Extraction, prompt, max_tokens=EXTRACT_MAX_TOKENS
    )
    reading = read_message(turn.message.text, keep_questions=True)
    may_forget = bool(reading.forget) or FORGET_WORDS.search(turn.message.text) is not None
    candidates: dict[tuple[str, str], Candidate] = {}
    for fact in extraction.facts[:MAX_FACTS]:
        # A small model may mark a plain statement "forget": only a turn that asks to
        # forget something can forget anything.
        intent = fact.intent if may_forget else "remember"
        candidate = _candidate(fact.content, fact.category, fact.importance, intent)
        if fact.entities:
            candidate["entities"] = fact.entities
        candidates.setdefault((intent, " ".join(fact.content.casefold().split())), candidate)
    if reading.forget and not any(c["intent"] == "forget" for c in candidates.values()):
        # An explicit request the model missed: forget what the request names.
        for target in reading.forget:
            forget = _candidate(target, VERBATIM_CATEGORY, VERBATIM_IMPORTANCE, "forget")
            candidates[("forget", target.casefold())] = forget
    return list(candidates.values())


def extract(
    state: State, runtime: Runtime[Context], *, model: BaseChatModel | None = None
) -> dict[str, Any]:
    """Turn the latest user message into `candidates` for reconcile.

    A model that fails or answers unusably costs no answer: the turn goes on with no
    candidates and a warning saying nothing was remembered from it.
    """
    context = memory_context(runtime)
    turn = current_turn(state, context.turn_at)
    if turn is None:
        return {"candidates": [], "warnings": []}
    chat = pick_model(context.model, model)
    if chat is None:
        return {"candidates": verbatim_candidates(turn, context), "warnings": []}
    if says_nothing(turn):
        return {"candidates": [], "warnings": []}
    try:
        return {"candidates": extract_facts(chat, turn), "warnings": []}
    except (ModelCallError, UnusableOutputError) as exc:
        logger.warning("%s", exc)
        return {"candidates": [], "warnings": [f"this turn was not remembered: {exc}"]}
