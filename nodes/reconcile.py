"""reconcile: fold the turn's candidates into the stored memories — plan the turn, then apply.

1. **Read once**: one store batch searches every candidate; the hits are re-scored by
   exact cosine (every text of the turn embedded in one call).
2. **Decide what code can** (`hippograph.memory.decisions`): an exact duplicate is a NOOP
   that merges provenance, a fact with no related memory is an ADD, a forget with nothing
   similar deletes nothing. Offline, code decides everything.
3. **Ask the model once** for the rest (`hippograph.memory.model_plan`): every remaining
   fact, numbered, with the union of their related memories under small integer handles.
4. **Merge per memory** (an UPDATE or DELETE beats a provenance-only NOOP, an explicit
   forget beats an update, a later fact beats an earlier one, identical ADDs collapse).
5. **Write in one conditional batch** (`hippograph.memory.apply`): if a memory changed
   since it was read, the turn is planned again from a fresh read (once); if it changed
   again, nothing is written and the turn says so.

A model that fails or answers unusably costs no answer and no data: its facts are not
remembered, and `warnings` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from hippograph.memory.apply import apply_decisions
from hippograph.memory.chat_models import (
    ModelCallError,
    UnusableOutputError,
    pick_model,
)
from hippograph.memory.context import Context, memory_context
from hippograph.memory.decisions import (
    Decision,
    Similar,
    decide_without_model,
    merge_decisions,
)
from hippograph.memory.model_plan import Limits, plan_with_model
from hippograph.memory.search import require_store, search_each
from hippograph.memory.similarity import exact_cosines, text_similarity
from hippograph.memory.state import Candidate, MemoryOp, State
from hippograph.memory.turn import current_turn
from hippograph.store import StaleWriteError, memory_namespace
from hippograph.store.embedding_scope import embedding_scope, tenant_scope

logger = logging.getLogger(__name__)

PLAN_ATTEMPTS = 2
"""A turn whose memories changed while it was planned is planned again once."""


def _similar(
    store: BaseStore, namespace: tuple[str, ...], candidates: Sequence[Candidate], k: int
) -> list[list[Similar]]:
    """Each candidate's `k` closest memories by exact cosine, best first (one batch)."""
    texts = [c["content"] for c in candidates]
    hits = search_each(store, namespace, texts, k)
    rescored = exact_cosines(store, list(zip(texts, hits, strict=True)))
    return [[Similar(item, score) for item, score in found] for found in rescored]


def plan_turn(
    store: BaseStore,
    namespace: tuple[str, ...],
    candidates: Sequence[Candidate],
    context: Context,
    chat: BaseChatModel | None,
) -> tuple[list[Decision], list[str]]:
    """Every decision for the turn, merged, and the warnings of a failed model step."""
    similar = _similar(store, namespace, candidates, context.similar_k)
    decisions: list[Decision] = []
    pending = []
    for order, (candidate, found) in enumerate(zip(candidates, similar, strict=True)):
        taken = decide_without_model(candidate, order, found, context, offline=chat is None)
        if taken is not None:
            decisions.extend(taken)
            continue
        related = [s for s in found if s.score >= context.related_threshold]
        pending.append((order, candidate, related))
    warnings: list[str] = []
    if pending and chat is not None:
        try:
            limits = Limits(context.related_threshold, context.forget_threshold)
            decisions.extend(plan_with_model(chat, pending, limits))
        except (ModelCallError, UnusableOutputError) as exc:
            logger.warning("%s", exc)
            warnings.append(f"{len(pending)} fact(s) were not remembered: {exc}")
            decisions += [
                Decision("NOOP", c, order, reason="skipped: the model's answer was unusable")
                for order, c, _ in pending
            ]
    decisions.sort(key=lambda d: d.order)

    def same(a: str, b: str) -> bool:
        score = text_similarity(store, a, b)
        return score is not None and score >= context.duplicate_threshold

    return merge_decisions(decisions, same), warnings


def reconcile(
    state: State, runtime: Runtime[Context], *, model: BaseChatModel | None = None
) -> dict[str, Any]:
    """Plan and apply ADD / UPDATE / DELETE / NOOP for the turn's candidates; returns `ops`
    and `warnings` (extract's, plus any of this step)."""
    context = memory_context(runtime)
    warnings = list(state.get("warnings") or [])
    candidates = list(state.get("candidates") or [])
    turn = current_turn(state, context.turn_at)
    if not candidates or turn is None:
        return {"ops": [], "warnings": warnings}
    store = require_store(runtime)
    namespace = memory_namespace(context.user_id)
    chat = pick_model(context.model, model)
    speakers = {str(m.name) for m in state.get("messages") or [] if getattr(m, "name", None)}
    ops: list[MemoryOp] = []
    with embedding_scope(tenant_scope(store, namespace)):  # the user's own cached vectors
        for attempt in range(1, PLAN_ATTEMPTS + 1):
            decisions, problems = plan_turn(store, namespace, candidates, context, chat)
            try:
                ops = apply_decisions(
                    store,
                    namespace,
                    decisions,
                    turn,
                    entity_link_limit=context.entity_link_limit,
                    speakers=speakers,
                )
            except StaleWriteError as exc:
                logger.info("reconcile: attempt %d of %d: %s", attempt, PLAN_ATTEMPTS, exc)
                if attempt == PLAN_ATTEMPTS:
                    warnings.append(f"this turn's memory changes were not written: {exc}")
                    ops = [_refused(d) for d in decisions]
                continue
            warnings += problems
            break
    return {"ops": ops, "warnings": warnings}


def _refused(decision: Decision) -> MemoryOp:
    op = MemoryOp(
        op="NOOP",
        key=decision.target.key if decision.target is not None else None,
        content=decision.text,
        reason=f"{decision.op} refused: the memory changed during this turn",
    )
    op["candidate"] = decision.candidate["content"]
    return op
