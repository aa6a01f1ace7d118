"""The run context every memory node reads: whose memories, which model, how many, how close.

Core pieces:
    - `Context`: the graph's `context_schema` (a dataclass LangGraph fills from
      `context={"user_id": ...}`).
    - `memory_context`: read a `Context` from any run context — ours, a plain dict, or a
      parent graph's own context object that carries a `user_id` — so the recall and
      remember subgraphs work inside other people's graphs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langgraph.runtime import Runtime

from hippograph.store.memory import as_utc


class MissingUserError(ValueError):
    """A memory node ran without a `user_id` in its run context."""


class UnknownContextKeyError(ValueError):
    """The run context names a setting the memory agent does not have (likely a typo)."""


Granularity = Literal["statement", "message"]


@dataclass(kw_only=True, init=False)
class Context:
    """Per-run settings of the memory agent (LangGraph `context_schema`).

    The defaults are a chat user's; an evaluation or an ingest job passes its own.
    Unknown keys are refused (`UnknownContextKeyError`) and a missing `user_id` is a
    `MissingUserError`, both with a message saying what to pass.

    Attributes:
        user_id: Whose memories to read and write; the namespace is
            `memory_namespace(user_id)`, so users never see each other's memories.
        model: A `provider:model` spec (or `"local"`) overriding the graph's model for
            this run (`None`: use the model the graph was built with).
        turn_at: When the turn was said (ISO-8601; default: now). An input of the run,
            never remembered by the thread: set it to ingest a dated transcript.
        k: How many memories retrieve hands to respond.
        recall_window: Recent messages (besides the latest user message) used as a second
            retrieval query, so "and what about her?" still finds the right memories.
        min_score: Recalled memories scoring below this are dropped. It is compared with the
            store's search score: cosine on LangGraph's stores, cosine fused with BM25 on
            `FaissSqliteStore` with hybrid search (where a memory sharing no word with the
            query scores `alpha` × its cosine: 0.3 × with `MEMORY_SEARCH`), hence a low
            default.
        similar_k: Existing memories looked at for each candidate fact.
        related_threshold: With a model, existing memories at least this similar (exact
            cosine) to a candidate are shown to reconcile's model; a candidate with none
            is added without asking the model.
        duplicate_threshold: A candidate this similar (exact cosine, see
            `hippograph.memory.similarity`) to an existing memory is a duplicate (NOOP;
            its provenance is merged into the existing one), decided without a model.
            High on purpose: MiniLM puts "I have two cats" and "I have three cats" at
            0.94, and a skipped write loses a fact.
        forget_threshold: Offline "forget …": memories at least this similar to what
            follows "forget" are deleted; nothing else is. Conservative on purpose:
            "nothing similar enough" beats deleting the wrong memory.
        store_questions: Offline mode: also store a message that is only a question (as
            written). Off for chat users; the evaluation stores every turn.
        granularity: Offline mode: `"statement"` stores each statement of a message as its
            own memory (chatter left out), so one can be forgotten alone; `"message"`
            stores the whole message as one memory (the evaluation's verbatim baseline).
        entity_link_limit: On stores that keep links, a new memory is linked to the
            memories naming the same entity (a person, place, title …) — unless more than
            this many already do (a hub, e.g. the user's partner). 0: no entity links.
        expand_links: Retrieve also returns memories linked to the best matches, with
            decayed scores: `None` uses the store's setting, `False` turns it off, `True`
            turns it on (the store's `LinkExpansion`, or the default one).
        recency_half_life_days: When set, a recalled memory's score halves for every this
            many days between when it was stated and the turn (`hippograph.memory.decay`).
            Off by default: not measured to help recall.
        importance_weight: 0..1; how much a memory's importance scales its score (0: not
            at all; 1: score × importance). Off by default, like recency.
    """

    user_id: str
    model: str | None = None
    turn_at: str | None = None
    k: int = 5
    recall_window: int = 3
    min_score: float = 0.08
    similar_k: int = 5
    related_threshold: float = 0.3
    duplicate_threshold: float = 0.95
    forget_threshold: float = 0.45
    store_questions: bool = False
    granularity: Granularity = "statement"
    entity_link_limit: int = 5
    expand_links: bool | None = None
    recency_half_life_days: float | None = None
    importance_weight: float = 0.0

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise UnknownContextKeyError(
                f"unknown context key(s) {', '.join(map(repr, unknown))}; the memory agent "
                f"reads: {', '.join(_FIELDS)}"
            )
        if "user_id" not in values:
            raise MissingUserError(_NO_USER)
        for f in dataclasses.fields(self):
            setattr(self, f.name, values.get(f.name, f.default))
        self.__post_init__()

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not self.user_id.strip():
            raise MissingUserError(f"user_id must be a non-empty string, got {self.user_id!r}")
        for name in ("k", "recall_window", "similar_k", "entity_link_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        half_life = self.recency_half_life_days
        if half_life is not None and not (isinstance(half_life, int | float) and half_life > 0):
            raise ValueError(f"recency_half_life_days must be > 0 or None, got {half_life!r}")
        weight = self.importance_weight
        if not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
            raise ValueError(f"importance_weight must be in [0, 1], got {weight!r}")
        for name in ("min_score", "related_threshold", "duplicate_threshold", "forget_threshold"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a similarity in [-1, 1], got {value!r}")
        if self.granularity not in ("statement", "message"):
            raise ValueError(
                f"granularity must be 'statement' or 'message', not {self.granularity!r}"
            )
        if self.turn_at is not None:
            self.turn_at = _iso_moment(self.turn_at)


_NO_USER = "memory nodes need a user: invoke with context={'user_id': ...}"


def _iso_moment(raw: object) -> str:
    """`raw` (an ISO-8601 string or a datetime) as an ISO-8601 string; naive means UTC."""
    try:
        moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError:
        raise ValueError(f"turn_at must be an ISO-8601 time, got {raw!r}") from None
    return as_utc(moment).isoformat()


_FIELDS = tuple(f.name for f in dataclasses.fields(Context))


def memory_context(runtime: Runtime[Any]) -> Context:
    """The `Context` of this run, read from whatever context object the run carries.

    Raises:
        MissingUserError: the run has no context or its context has no `user_id`.
    """
    raw = runtime.context
    if isinstance(raw, Context):
        return raw
    if raw is None:
        raise MissingUserError(_NO_USER)
    if isinstance(raw, Mapping):
        found = {name: raw[name] for name in _FIELDS if name in raw}
    else:
        found = {name: getattr(raw, name) for name in _FIELDS if hasattr(raw, name)}
    if "user_id" not in found:
        raise MissingUserError(
            f"the run context ({type(raw).__name__}) has no user_id; memory nodes need one"
        )
    return Context(**found)
