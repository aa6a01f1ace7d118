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
from typing import Any

from langgraph.runtime import Runtime


class MissingUserError(ValueError):
    """A memory node ran without a `user_id` in its run context."""


@dataclass(kw_only=True)
class Context:
    """Per-run settings of the memory agent (LangGraph `context_schema`).

    Attributes:
        user_id: Whose memories to read and write; the namespace is
            `memory_namespace(user_id)`, so users never see each other's memories.
        model: A `provider:model` spec overriding the graph's model for this run
            (`None`: use the model the graph was built with).
        k: How many memories retrieve hands to respond.
        recall_window: Recent messages (besides the latest user message) used as a second
            retrieval query, so "and what about her?" still finds the right memories.
        min_score: Recalled memories scoring below this are dropped. It is compared with the
            store's search score: cosine on LangGraph's stores, cosine fused with BM25 on
            `FaissSqliteStore` with hybrid search (where a memory sharing no word with the
            query scores half its cosine), hence a low default.
        similar_k: Existing memories shown to reconcile for each candidate fact.
        duplicate_threshold: Offline mode: a candidate this similar (exact cosine, see
            `nodes.similarity`) to an existing memory is a duplicate (NOOP; its provenance
            is merged into the existing one). High on purpose: MiniLM puts "I have two
            cats" and "I have three cats" at 0.94, and a skipped write loses a fact.
        forget_threshold: Offline "forget …": memories at least this similar to what
            follows "forget" are deleted, and below it only a clear best match (see
            `nodes.reconcile.forget_targets`). Conservative on purpose: "nothing similar
            enough" beats deleting the wrong memory.
        store_questions: Offline mode: store turns that are only a question verbatim too
            (the eval ingests every turn; the CLI chat turns this off).
        entity_link_limit: On stores that keep links, a new memory is linked to the
            memories naming the same entity (a person, place, title …) — unless more than
            this many already do (a hub, e.g. the user's partner). 0: no entity links.
        expand_links: Retrieve also returns memories linked to the best matches, with
            decayed scores: `None` uses the store's setting, `False` turns it off, `True`
            turns it on (the store's `LinkExpansion`, or the default one).
        recency_half_life_days: When set, a recalled memory's score halves for every this
            many days between when it was stated and the turn (`nodes.decay`). Off by
            default: not measured to help recall.
        importance_weight: 0..1; how much a memory's importance scales its score (0: not
            at all; 1: score × importance). Off by default, like recency.
    """

    user_id: str
    model: str | None = None
    k: int = 5
    recall_window: int = 3
    min_score: float = 0.08
    similar_k: int = 5
    duplicate_threshold: float = 0.95
    forget_threshold: float = 0.45
    store_questions: bool = True
    entity_link_limit: int = 5
    expand_links: bool | None = None
    recency_half_life_days: float | None = None
    importance_weight: float = 0.0

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
        for name in ("min_score", "duplicate_threshold", "forget_threshold"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a similarity in [-1, 1], got {value!r}")


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
        raise MissingUserError("memory nodes need a user: invoke with context={'user_id': ...}")
    if isinstance(raw, Mapping):
        found = {name: raw[name] for name in _FIELDS if name in raw}
    else:
        found = {name: getattr(raw, name) for name in _FIELDS if hasattr(raw, name)}
    if "user_id" not in found:
        raise MissingUserError(
            f"the run context ({type(raw).__name__}) has no user_id; memory nodes need one"
        )
    return Context(**found)
