"""Reconcile's model step: one call decides every fact of the turn that code could not.

Core pieces:
    - `TurnPlan` / `Action`: the answer's schema — `{"actions": [{"fact", "op", "handle",
      "content", "links"}]}`.
    - `Shown`: what the model is shown — the facts (numbered) and the union of their related
      memories under small integer handles (never raw keys).
    - `plan_with_model`: ask, validate (every handle and fact number must be one shown,
      else the whole answer is refused and retried once), and turn the answer into
      `Decision`s, with guards for what a small model gets wrong: an undecided fact is
      added, a fact whose only action deletes what it contradicts is added too, an UPDATE
      that changes nothing is a NOOP, and a change to a memory the fact is not about (a
      forget deleting more than what it names) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langgraph.store.base import SearchItem
from pydantic import BaseModel, Field

from hippograph.memory.chat_models import call_structured
from hippograph.memory.decisions import Decision, Similar
from hippograph.memory.state import Candidate
from hippograph.prompts import reconcile as prompts
from hippograph.store.links import MAX_RELATION_CHARS
from hippograph.store.memory import validate_content

RECONCILE_BASE_TOKENS = 96
RECONCILE_TOKENS_PER_FACT = 96
RECONCILE_MAX_TOKENS = 768
"""Completion bound of the reconcile call: a few dozen tokens per fact, capped."""


class LinkRequest(BaseModel):
    """A relation from the memory being added or updated to a memory shown by handle."""

    handle: int = Field(description="Handle of the related memory.")
    relation: str = Field(
        min_length=1, max_length=MAX_RELATION_CHARS, description="Short label, e.g. located_in."
    )


class Action(BaseModel):
    """What to do about one fact: ADD, UPDATE(handle, content), DELETE(handle) or NOOP."""

    fact: int | None = Field(default=None, description="Number of the fact decided.")
    op: Literal["ADD", "UPDATE", "DELETE", "NOOP"]
    handle: int | None = Field(default=None, description="Handle of the memory acted on.")
    content: str | None = Field(default=None, description="UPDATE: the memory's new text.")
    links: list[LinkRequest] = Field(default_factory=list)


class TurnPlan(BaseModel):
    """The decisions for the turn's facts."""

    actions: list[Action] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Shown:
    """What the model is shown: facts (1-based) and memories by handle (1-based)."""

    facts: list[tuple[int, Candidate]]
    """`(order in the turn, candidate)` per fact number - 1."""
    handles: dict[int, SearchItem]
    scores: dict[tuple[int, str], float]
    """`(fact number, memory key)` → exact cosine."""

    @classmethod
    def build(cls, pending: Sequence[tuple[int, Candidate, Sequence[Similar]]]) -> Shown:
        """Number the facts, and give the union of their related memories handles (best
        matches first)."""
        best: dict[str, tuple[float, SearchItem]] = {}
        scores: dict[tuple[int, str], float] = {}
        for number, (_, _, related) in enumerate(pending, start=1):
            for s in related:
                scores[(number, s.item.key)] = s.score
                if s.item.key not in best or s.score > best[s.item.key][0]:
                    best[s.item.key] = (s.score, s.item)
        ranked = sorted(best.values(), key=lambda pair: pair[0], reverse=True)
        handles = {n: item for n, (_, item) in enumerate(ranked, start=1)}
        return cls([(order, c) for order, c, _ in pending], handles, scores)

    def render(self) -> dict[str, str]:
        """The prompt variables."""
        facts = "\n".join(
            f"{n}. {'(forget) ' if c['intent'] == 'forget' else ''}{c['content']}"
            for n, (_, c) in enumerate(self.facts, start=1)
        )
        memories = "\n".join(
            f"[{h}] ({item.value.get('category', 'other')}) {item.value.get('content', '')}"
            for h, item in self.handles.items()
        )
        return {"facts": facts, "memories": memories}

    def fact_of(self, action: Action) -> int | None:
        """The fact number an action decides (`fact` may be left out when there is one)."""
        if action.fact is None:
            return 1 if len(self.facts) == 1 else None
        return action.fact

    def check(self, plan: TurnPlan) -> None:
        """Raise `ValueError` unless every action names a shown fact and shown handles and
        has the fields its op needs (the whole answer is refused on any error)."""
        for action in plan.actions:
            number = self.fact_of(action)
            if number is None or not 1 <= number <= len(self.facts):
                raise ValueError(f"fact {action.fact} does not exist; use 1..{len(self.facts)}")
            forget = self.facts[number - 1][1]["intent"] == "forget"
            if action.op in ("UPDATE", "DELETE") and action.handle is None:
                raise ValueError(f"{action.op} needs the handle of a listed memory")
            if action.handle is not None and action.handle not in self.handles:
                raise ValueError(
                    f"handle {action.handle} was not listed; use one of {sorted(self.handles)}"
                )
            if action.op == "UPDATE" and not (action.content or "").strip():
                raise ValueError("UPDATE needs the new content")
            if action.content is not None:
                validate_content(action.content)
            if forget and action.op in ("ADD", "UPDATE"):
                raise ValueError(f"fact {number} asks to forget: only DELETE or NOOP")
            for link in action.links:
                if action.op not in ("ADD", "UPDATE"):
                    raise ValueError(f"links belong to ADD or UPDATE, not {action.op}")
                if link.handle not in self.handles:
                    raise ValueError(f"link handle {link.handle} was not listed")
                if not link.relation.strip():
                    raise ValueError("a link needs a relation")


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _decision(shown: Shown, number: int, action: Action) -> Decision:
    order, candidate = shown.facts[number - 1]
    target = shown.handles.get(action.handle) if action.handle is not None else None
    score = shown.scores.get((number, target.key)) if target is not None else None
    links = [(shown.handles[link.handle], link.relation.strip()) for link in action.links]
    if action.op == "ADD":
        return Decision("ADD", candidate, order, links=links, reason="new information")
    if action.op == "UPDATE" and target is not None:
        content = (action.content or "").strip()
        if _same_text(content, str(target.value.get("content", ""))):
            return Decision("NOOP", candidate, order, target, score, reason="already known")
        return Decision("UPDATE", candidate, order, target, score, content, "changed", links=links)
    if action.op == "DELETE":
        why = "asked to forget" if candidate["intent"] == "forget" else "no longer true"
        return Decision("DELETE", candidate, order, target, score, reason=why)
    reason = "already known" if target is not None else "nothing to change"
    return Decision("NOOP", candidate, order, target, score, reason=reason)


def _guarded(decision: Decision, number: int, shown: Shown, limits: Limits) -> Decision:
    """`decision`, or a NOOP when it changes a memory the fact has no business with.

    A small model given several memories tends to act on all of them ("forget where I
    live" deleting the job too). A forget may delete a memory at least
    `limits.forget_threshold` similar to what it names, or the one closest to it; a fact
    may update or delete only memories related to that fact itself.
    """
    target = decision.target
    if target is None or decision.op not in ("UPDATE", "DELETE"):
        return decision
    score = shown.scores.get((number, target.key))
    if decision.candidate["intent"] == "forget":
        best = max((v for (n, _), v in shown.scores.items() if n == number), default=None)
        if score is not None and (score >= limits.forget_threshold or score == best):
            return decision
        return decision.noop("refused: not what was asked to be forgotten")
    if score is not None and score >= limits.related_threshold:
        return decision
    return decision.noop("refused: that memory is not related to this fact")


@dataclass(frozen=True, slots=True)
class Limits:
    """The similarity limits the model's changes are held to (from the run's `Context`)."""

    related_threshold: float
    forget_threshold: float


def plan_with_model(
    model: BaseChatModel,
    pending: Sequence[tuple[int, Candidate, Sequence[Similar]]],
    limits: Limits,
) -> list[Decision]:
    """Decide the `pending` facts `(order, candidate, related memories)` in one call.

    Raises:
        ModelCallError: the call failed.
        UnusableOutputError: two unusable answers.
    """
    shown = Shown.build(pending)
    budget = RECONCILE_BASE_TOKENS + RECONCILE_TOKENS_PER_FACT * len(shown.facts)
    plan = call_structured(
        "reconcile",
        model,
        TurnPlan,
        prompts.PROMPT.format_messages(**shown.render()),
        max_tokens=min(RECONCILE_MAX_TOKENS, budget),
        check=shown.check,
    )
    by_fact: dict[int, list[Decision]] = {}
    for action in plan.actions:
        number = shown.fact_of(action)
        assert number is not None  # checked
        decision = _guarded(_decision(shown, number, action), number, shown, limits)
        by_fact.setdefault(number, []).append(decision)
    decisions: list[Decision] = []
    for number, (order, candidate) in enumerate(shown.facts, start=1):
        taken = by_fact.get(number, [])
        remember = candidate["intent"] == "remember"
        if not taken:
            why = "left undecided by the model"
            taken = [
                Decision("ADD", candidate, order, reason=why)
                if remember
                else Decision("NOOP", candidate, order, reason=why)
            ]
        elif remember and all(d.op == "DELETE" for d in taken):
            # It contradicts what it deletes; the fact itself must still be remembered.
            taken.append(Decision("ADD", candidate, order, reason="replaces what it deleted"))
        decisions.extend(taken)
    return decisions
