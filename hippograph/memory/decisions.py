"""Reconcile's decisions for a whole turn: what code decides alone, and how decisions merge.

Core pieces:
    - `Similar`: an existing memory with its exact cosine to a candidate.
    - `Decision`: one validated action — ADD, UPDATE(memory, content), DELETE(memory) or
      NOOP(memory?) — taken for one candidate of the turn.
    - `decide_without_model`: what needs no model: exact duplicates are NOOPs, a fact with
      nothing related is an ADD, a forget with nothing similar deletes nothing; offline,
      every decision (forgets by exact cosine; nothing is ever replaced).
    - `merge_decisions`: one consistent plan per memory key — a change (UPDATE / DELETE)
      beats a provenance-only NOOP, an explicit forget beats an update, a later fact beats
      an earlier one, and identical ADDs collapse into one.

Plain data and pure functions: nothing here reads or writes the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from langgraph.store.base import SearchItem

from hippograph.memory.context import Context
from hippograph.memory.state import Candidate, OpName


class Similar(NamedTuple):
    """An existing memory and its exact cosine to a candidate."""

    item: SearchItem
    score: float


@dataclass(slots=True)
class Decision:
    """A validated action on the memory, for one candidate of the turn.

    Attributes:
        op: ADD / UPDATE / DELETE / NOOP.
        candidate: The fact (or forget request) it was decided for.
        order: The candidate's position in the turn (later facts win conflicts).
        target: The existing memory acted on (`None` for ADD and a NOOP on nothing).
        score: Exact cosine of the candidate to `target`, when known.
        content: The text to store (ADD / UPDATE); default the candidate's.
        reason: Why, in a few words (shown to users for NOOPs).
        links: `(related memory, relation)` the model asked for (ADD / UPDATE).
        merge_source: A NOOP on `target` adds the turn's message ids to its provenance.
    """

    op: OpName
    candidate: Candidate
    order: int
    target: SearchItem | None = None
    score: float | None = None
    content: str | None = None
    reason: str = ""
    links: list[tuple[SearchItem, str]] = field(default_factory=list)
    merge_source: bool = True

    @property
    def text(self) -> str:
        """The text this decision stores (ADD / UPDATE) or acts on."""
        if self.content:
            return self.content
        if self.target is not None and self.op != "ADD":
            return str(self.target.value.get("content", ""))
        return self.candidate["content"]

    def noop(self, reason: str) -> Decision:
        """This decision turned into a NOOP that writes nothing."""
        return replace(self, op="NOOP", reason=reason, merge_source=False, links=[])


def forget_targets(similar: Sequence[Similar], threshold: float) -> list[Similar]:
    """Which memories an offline "forget X" deletes: those at least `threshold` similar
    (exact cosine) to X. Nothing else: "nothing similar enough" beats a wrong deletion."""
    return [s for s in similar if s.score >= threshold]


def decide_without_model(
    candidate: Candidate,
    order: int,
    similar: Sequence[Similar],
    context: Context,
    *,
    offline: bool,
) -> list[Decision] | None:
    """The decisions code can take for `candidate` (best-first `similar` memories), or
    `None` when a model must decide (never `None` when `offline`)."""
    best = similar[0] if similar else None
    if candidate["intent"] == "forget":
        threshold = context.forget_threshold if offline else context.related_threshold
        doomed = forget_targets(similar, threshold)
        if not doomed:
            return [Decision("NOOP", candidate, order, reason="nothing similar enough to forget")]
        if not offline:
            return None
        return [
            Decision("DELETE", candidate, order, s.item, s.score, reason="asked to forget")
            for s in doomed
        ]
    if best is not None and best.score >= context.duplicate_threshold:
        return [Decision("NOOP", candidate, order, best.item, best.score, reason="duplicate")]
    if offline:  # without a model nothing is replaced: a correction is a new statement
        return [Decision("ADD", candidate, order)]
    if best is None or best.score < context.related_threshold:
        return [Decision("ADD", candidate, order, reason="nothing related stored")]
    return None


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _same(a: str, b: str, same: Callable[[str, str], bool] | None) -> bool:
    return _normal(a) == _normal(b) or (same is not None and same(a, b))


def merge_decisions(
    decisions: Sequence[Decision],
    same: Callable[[str, str], bool] | None = None,
) -> list[Decision]:
    """One consistent plan for the turn (decisions keep their order; see module docstring).

    Args:
        decisions: Every decision of the turn, in candidate order.
        same: Whether two texts state the same thing (e.g. exact cosine at the duplicate
            threshold); identical texts (ignoring case, spacing and punctuation) always do.
    """
    merged = list(decisions)
    winner: dict[str, int] = {}
    for i, d in enumerate(merged):
        if d.target is None or d.op not in ("UPDATE", "DELETE"):
            continue
        held = winner.get(d.target.key)
        if held is None:
            winner[d.target.key] = i
            continue
        kept = merged[held]
        forget_wins = kept.op == "DELETE" and kept.candidate["intent"] == "forget"
        if forget_wins and not (d.op == "DELETE" and d.candidate["intent"] == "forget"):
            merged[i] = d.noop("overruled: asked to forget this memory in the same turn")
        else:
            merged[held] = kept.noop("superseded by a later fact of this turn")
            winner[d.target.key] = i
    provenance_done: set[str] = set()
    for i, d in enumerate(merged):
        if d.op != "NOOP" or d.target is None or not d.merge_source:
            continue
        if d.target.key in winner or d.target.key in provenance_done:
            merged[i] = replace(d, merge_source=False)  # the change (or first NOOP) records it
        provenance_done.add(d.target.key)
    written: list[tuple[int, str]] = [(i, d.text) for i, d in enumerate(merged) if d.op == "UPDATE"]
    for i, d in enumerate(merged):
        if d.op != "ADD":
            continue
        text = d.text
        twin = next(
            (
                j
                for j, other in written
                if _normal(other) == _normal(text) or (same and same(other, text))
            ),
            None,
        )
        if twin is not None:
            merged[i] = d.noop("the same as another fact of this turn")
        else:
            written.append((i, text))
    return merged
