"""extract: pull durable facts (or a request to forget) from the latest user turn.

With a model: structured output → `[{content, category, importance, intent, entities}]`,
`[]` for greetings and questions; unusable output is retried once, then skipped (logged).
Offline: the turn itself is the candidate, verbatim — or, for "forget …", a forget request;
its entities are the names `find_entities` sees in the message.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, field_validator

from hippograph.memory.chat_models import call_structured, pick_model
from hippograph.memory.context import Context, memory_context
from hippograph.memory.entities import find_entities
from hippograph.memory.state import Candidate, State
from hippograph.memory.turn import Turn, current_turn
from hippograph.prompts import extract as prompts
from hippograph.store import CATEGORIES, clamp_importance, normalize_category
from hippograph.store.memory import MAX_CONTENT_CHARS

logger = logging.getLogger(__name__)

MAX_ENTITY_CHARS = 100
"""Longer "entities" from a model are sentences, not names: dropped."""

VERBATIM_CATEGORY = "other"
VERBATIM_IMPORTANCE = 0.5

_FORGET = re.compile(
    r"^\s*(?:(?:please|kindly|can you|could you|would you|i want you to|hey)[\s,]+)*"
    r"forget\s+(?:about\s+)?(?:that\s+)?(?P<what>.+?)[\s.!?]*$",
    re.IGNORECASE | re.DOTALL,
)


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


def forget_target(text: str) -> str | None:
    """What follows "forget" in an explicit request ("Please forget where I live")."""
    match = _FORGET.match(text)
    return match.group("what").strip() if match else None


def is_question(text: str) -> bool:
    """True when every sentence of `text` is a question."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    return bool(sentences) and all(s.rstrip().endswith("?") for s in sentences)


def verbatim_candidates(turn: Turn, context: Context) -> list[Candidate]:
    """Offline extraction: the turn as one memory, a forget request, or nothing."""
    raw = turn.message.text.strip()
    target = forget_target(raw)
    if target:
        return [_candidate(target, VERBATIM_CATEGORY, VERBATIM_IMPORTANCE, "forget")]
    if not raw or (not context.store_questions and is_question(raw)):
        return []
    if len(turn.text) > MAX_CONTENT_CHARS:
        logger.warning(
            "extract: turn %s is %d characters (limit %d); not stored verbatim",
            turn.message_ids,
            len(turn.text),
            MAX_CONTENT_CHARS,
        )
        return []
    candidate = _candidate(turn.text, VERBATIM_CATEGORY, VERBATIM_IMPORTANCE, "remember")
    if turn.previous:
        candidate["context"] = turn.previous
    entities = find_entities(raw)
    if entities:
        candidate["entities"] = entities
    return [candidate]


def _candidate(content: str, category: str, importance: float, intent: str) -> Candidate:
    return Candidate(
        content=content,
        category=category,
        importance=importance,
        intent="forget" if intent == "forget" else "remember",
    )


def extract_facts(model: BaseChatModel, turn: Turn) -> list[Candidate]:
    """Ask `model` for the turn's facts (`[]` when its output stays unusable)."""
    prompt = prompts.PROMPT.format_messages(
        categories=", ".join(CATEGORIES),
        previous=turn.previous or "(none)",
        message=turn.text,
    )
    extraction = call_structured("extract", model, Extraction, prompt)
    if extraction is None:
        return []
    candidates = []
    for fact in extraction.facts:
        candidate = _candidate(fact.content, fact.category, fact.importance, fact.intent)
        if fact.entities:
            candidate["entities"] = fact.entities
        candidates.append(candidate)
    return candidates


def extract(
    state: State, runtime: Runtime[Context], *, model: BaseChatModel | None = None
) -> dict[str, Any]:
    """Turn the latest user message into `candidates` for reconcile."""
    context = memory_context(runtime)
    turn = current_turn(state)
    if turn is None:
        return {"candidates": []}
    chat = pick_model(context.model, model)
    if chat is None:
        return {"candidates": verbatim_candidates(turn, context)}
    return {"candidates": extract_facts(chat, turn)}
