"""`Memory`: the typed, validated view of a memory item in the store.

A memory lives in the store as an `Item` in namespace `("memories", <user_id>)` whose value
holds `content`, `category`, `importance` and provenance. `Memory` is the public dataclass
for that value, with converters both ways (`Memory.from_item`, `Memory.to_value`).

Validation policy (one rule, stated once):
    - `content` must be a non-empty string without NUL bytes, at most `MAX_CONTENT_CHARS`.
    - `importance` must be a finite real number in [0, 1]; anything else is **rejected** with
      `ValueError` (bools and numeric strings included). Model output is softer: callers that
      parse LLM JSON use `clamp_importance`, which clamps finite numbers into [0, 1] and still
      rejects NaN/inf and non-numbers.
    - `category` is **normalised**: case-folded, singular/plural and common synonyms mapped
      onto `CATEGORIES`, anything unknown becomes `"other"`.
"""

from __future__ import annotations

import math
import numbers
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import Item

MEMORY_NAMESPACE_ROOT = "memories"
"""First label of every memory namespace: `("memories", <user_id>, ...)`."""

CATEGORIES: tuple[str, ...] = (
    "tools",
    "skills",
    "preferences",
    "personal",
    "work",
    "habits",
    "goals",
    "other",
)
"""The categories a memory may carry; anything else is normalised to `"other"`."""

MAX_CONTENT_CHARS = 8_000
"""A memory is a fact, not a document: longer content is rejected."""

_CATEGORY_SYNONYMS: dict[str, str] = {
    "tool": "tools",
    "software": "tools",
    "editor": "tools",
    "skill": "skills",
    "ability": "skills",
    "expertise": "skills",
    "preference": "preferences",
    "likes": "preferences",
    "like": "preferences",
    "dislikes": "preferences",
    "taste": "preferences",
    "personal_info": "personal",
    "personal info": "personal",
    "profile": "personal",
    "family": "personal",
    "biography": "personal",
    "location": "personal",
    "job": "work",
    "career": "work",
    "employment": "work",
    "project": "work",
    "projects": "work",
    "habit": "habits",
    "routine": "habits",
    "routines": "habits",
    "goal": "goals",
    "plan": "goals",
    "plans": "goals",
    "aspiration": "goals",
    "misc": "other",
    "general": "other",
    "fact": "other",
    "facts": "other",
}

_KNOWN_VALUE_KEYS = frozenset(
    {"content", "category", "importance", "timestamp", "source", "supersedes", "links", "metadata"}
)


def normalize_category(category: object) -> str:
    """Map free-form category text onto one of `CATEGORIES` (unknown → `"other"`)."""
    if not isinstance(category, str):
        return "other"
    text = category.strip().lower().replace("-", "_")
    if text in CATEGORIES:
        return text
    if text in _CATEGORY_SYNONYMS:
        return _CATEGORY_SYNONYMS[text]
    spaced = text.replace("_", " ")
    return _CATEGORY_SYNONYMS.get(spaced, "other")


def validate_importance(value: object) -> float:
    """Return `value` as a float if it is a finite number in [0, 1]; else raise `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"importance must be a number in [0, 1], got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"importance must be finite, got {value!r}")
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"importance must be within [0, 1], got {number}")
    return number


def clamp_importance(value: object) -> float:
    """Coerce model-produced importance into [0, 1].

    Finite numbers (and numeric strings such as `"0.8"`) are clamped; NaN, infinities,
    booleans and non-numbers raise `ValueError`, because guessing would invent data.
    """
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError as exc:
            raise ValueError(f"importance must be numeric, got {value!r}") from exc
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"importance must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"importance must be finite, got {value!r}")
    return min(1.0, max(0.0, number))


def validate_content(content: object) -> str:
    """Return stripped `content` if it is a usable memory text; else raise `ValueError`."""
    if not isinstance(content, str):
        raise ValueError(f"content must be a string, got {type(content).__name__}")
    text = content.strip()
    if not text:
        raise ValueError("content must not be empty")
    if "\x00" in text:
        raise ValueError("content must not contain NUL bytes")
    if len(text) > MAX_CONTENT_CHARS:
        raise ValueError(f"content is {len(text)} characters; the limit is {MAX_CONTENT_CHARS}")
    return text


def _now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` with a time zone: a naive datetime is taken to be UTC (as the store writes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_time(value: object, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return as_utc(parsed)
    return fallback


@dataclass(slots=True)
class Memory:
    """One long-term memory: a durable fact about a user, with provenance.

    The public, typed view of a store item in `("memories", <user_id>)`. Construction
    validates (see the module docstring for the policy); `to_value()` gives the dict to
    `store.put`, `Memory.from_item(item)` reads one back.

    Attributes:
        content: The fact, e.g. `"Codes primarily in Python"`.
        category: One of `CATEGORIES` (normalised on construction).
        importance: 0..1, from the extractor or the user.
        id: The item key (a UUID unless given).
        timestamp: When the fact was stated (defaults to now, UTC).
        embedding: The vector, when the caller fetched it (not stored in the value).
        metadata: Free-form extra data.
        source: Provenance, e.g. `{"thread_id": ..., "message_ids": [...], "turn_at": ...}`.
        supersedes: Keys of memories this one replaced.
        links: Graph edges, e.g. `[{"key": ..., "relation": "located_in"}]`.
        updated_at: When the store last wrote the item (from the store; `None` if unsaved).

    Example:
        ```python
        mem = Memory(content="Codes primarily in Python", category="Tool", importance=0.8)
        store.put(("memories", "alice"), mem.id, mem.to_value())
        back = Memory.from_item(store.get(("memories", "alice"), mem.id))
        assert back.category == "tools"
        ```
    """

    content: str
    category: str = "other"
    importance: float = 0.5
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: datetime = field(default_factory=_now)
    embedding: list[float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] | None = None
    supersedes: list[str] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        self.content = validate_content(self.content)
        self.category = normalize_category(self.category)
        self.importance = validate_importance(self.importance)
        if not isinstance(self.id, str) or not self.id or "\x00" in self.id:
            raise ValueError(f"id must be a non-empty string without NUL bytes, got {self.id!r}")
        self.timestamp = _parse_time(self.timestamp, _now())
        if not isinstance(self.metadata, dict):
            raise ValueError("metadata must be a dict")

    def to_value(self) -> dict[str, Any]:
        """The item value to store (the embedding lives in the vector index, not here)."""
        value: dict[str, Any] = {
            "content": self.content,
            "category": self.category,
            "importance": self.importance,
            "timestamp": self.timestamp.isoformat(),
        }
        if self.source is not None:
            value["source"] = dict(self.source)
        if self.supersedes:
            value["supersedes"] = list(self.supersedes)
        if self.links:
            value["links"] = [dict(link) for link in self.links]
        if self.metadata:
            value["metadata"] = dict(self.metadata)
        return value

    @classmethod
    def from_value(
        cls, key: str, value: Mapping[str, Any], *, created_at: datetime | None = None
    ) -> Memory:
        """Build a `Memory` from a stored value (unknown keys are kept in `metadata`)."""
        metadata = dict(value.get("metadata") or {})
        for extra in value.keys() - _KNOWN_VALUE_KEYS:
            metadata.setdefault(extra, value[extra])
        fallback = created_at or _now()
        return cls(
            id=key,
            content=value.get("content", ""),
            category=value.get("category", "other"),
            importance=value.get("importance", 0.5),
            timestamp=_parse_time(value.get("timestamp"), fallback),
            metadata=metadata,
            source=value.get("source"),
            supersedes=list(value.get("supersedes") or []),
            links=list(value.get("links") or []),
        )

    @classmethod
    def from_item(cls, item: Item, *, embedding: list[float] | None = None) -> Memory:
        """Build a `Memory` from a store `Item` (or `SearchItem`)."""
        memory = cls.from_value(item.key, item.value, created_at=item.created_at)
        memory.embedding = embedding
        memory.updated_at = item.updated_at
        return memory


_ESCAPES = {"%": "%25", ".": "%2E", "*": "%2A"}
_UNESCAPES = {code: char for char, code in _ESCAPES.items()}


def encode_label(text: str) -> str:
    """Encode arbitrary text as a namespace label (injective: `%`, `.` and `*` are escaped).

    LangGraph namespace labels cannot contain `.`, and a `*` label is a wildcard in
    `list_namespaces` (so user `"*"` would list everyone's namespaces); user ids such as
    e-mail addresses contain both. Percent-escaping keeps distinct ids distinct (`"a.b"`
    and `"a%2Eb"` never collide).
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"a namespace label must be a non-empty string, got {text!r}")
    if "\x00" in text:
        raise ValueError("a namespace label must not contain NUL bytes")
    return "".join(_ESCAPES.get(char, char) for char in text)


def decode_label(label: str) -> str:
    """Invert `encode_label`."""
    return re.sub("|".join(_UNESCAPES), lambda m: _UNESCAPES[m.group(0)], label)


def memory_namespace(user_id: str, *rest: str) -> tuple[str, ...]:
    """The namespace holding `user_id`'s memories: `("memories", <encoded user_id>, *rest)`."""
    return (MEMORY_NAMESPACE_ROOT, encode_label(user_id), *(encode_label(r) for r in rest))


_STORE_FIELDS = ("key", "created_at", "updated_at", "score")


def validated_value(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` as a stored memory value, checked and normalised through `Memory`.

    Unknown fields (e.g. `context`) are kept; store fields (`key`, `created_at`, …) dropped.

    Raises:
        ValueError: content, importance or another field is invalid.
    """
    memory = Memory.from_value(key, raw)
    value = {k: v for k, v in raw.items() if k not in _STORE_FIELDS}
    value.update(
        content=memory.content,
        category=memory.category,
        importance=memory.importance,
        timestamp=memory.timestamp.isoformat(),
    )
    return value
