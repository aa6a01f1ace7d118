"""reconcile: fold each candidate into the stored memories — ADD, UPDATE, DELETE or NOOP.

For each candidate, the most similar existing memories are found and (with a model) shown
by small integer handles, never raw keys; the model's actions are validated against the
handles it was shown. All decisions are made first, then written in one store batch under
the turn's provenance, so a failing model call leaves the store untouched.
Offline: near-duplicates (cosine >= `duplicate_threshold`) are NOOPs that merge provenance;
a forget request deletes memories at least `forget_threshold` similar to its target.
On stores that keep links, each added or updated memory is linked, in the same batch, to
the memories the model related it to (by handle) and to those naming the same entities
(`hippograph.memory.linking`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore, PutOp, SearchItem
from pydantic import BaseModel, Field

from hippograph.memory.chat_models import call_structured, pick_model
from hippograph.memory.context import Context, memory_context
from hippograph.memory.linking import Linkable, plan_links
from hippograph.memory.search import Query, require_store, search_memories
from hippograph.memory.similarity import exact_cosine
from hippograph.memory.state import Candidate, MemoryOp, OpName, State
from hippograph.memory.turn import Turn, current_turn
from hippograph.prompts import reconcile as prompts
from hippograph.store import Memory, memory_namespace, provenance
from hippograph.store.links import MAX_RELATION_CHARS, Link, LinkOp, UnlinkOp, links_of
from hippograph.store.memory import validate_content

logger = logging.getLogger(__name__)

FORGET_FLOOR = 0.3
"""Offline forget: the lowest score at which a clear best match is still deleted."""
FORGET_GAP = 0.1
"""Offline forget: how far the best match must lead the runner-up to count as clear."""


class LinkRequest(BaseModel):
    """A relation from the memory being added or updated to a memory shown by handle."""

    handle: int = Field(description="Handle of the related memory.")
    relation: str = Field(
        min_length=1,
        max_length=MAX_RELATION_CHARS,
        description="How they relate, as a short label, e.g. 'located_in', 'part_of'.",
    )


class Action(BaseModel):
    """One change to the memory: ADD, UPDATE(handle, content), DELETE(handle) or NOOP."""

    op: Literal["ADD", "UPDATE", "DELETE", "NOOP"]
    handle: int | None = Field(default=None, description="Handle of the memory acted on.")
    content: str | None = Field(default=None, description="ADD/UPDATE: the text to store.")
    reason: str = Field(default="", description="Why, in a few words.")
    links: list[LinkRequest] = Field(
        default_factory=list,
        description="ADD/UPDATE: memories shown here that the stored fact relates to "
        "(e.g. 'Visited the Louvre' → 'Lives in Paris': located_in); [] if none.",
    )


class Reconciliation(BaseModel):
    """What to do with the candidate, as one or more actions."""

    actions: list[Action] = Field(min_length=1)


@dataclass(slots=True)
class _Decision:
    """A validated action on a real memory (`target` is `None` for ADD)."""

    op: OpName
    candidate: Candidate
    target: SearchItem | None = None
    score: float | None = None
    content: str | None = None
    reason: str = ""
    links: list[tuple[SearchItem, str]] = field(default_factory=list)
    """`(related memory, relation)` the model asked for (ADD / UPDATE)."""


def _check_actions(
    handles: dict[int, tuple[SearchItem, float]], forget: bool
) -> Callable[[Reconciliation], None]:
    """A validator for the model's answer: known handles, required fields, sane content."""

    def check(result: Reconciliation) -> None:
        for action in result.actions:
            if action.op in ("UPDATE", "DELETE") and action.handle is None:
                raise ValueError(f"{action.op} needs the handle of an existing memory")
            if action.handle is not None and action.handle not in handles:
                shown = sorted(handles)
                raise ValueError(f"handle {action.handle} was not shown; use one of {shown}")
            if action.op == "UPDATE" and not (action.content or "").strip():
                raise ValueError("UPDATE needs the new content")
            if action.op in ("ADD", "UPDATE") and action.content is not None:
                validate_content(action.content)
            if forget and action.op in ("ADD", "UPDATE"):
                raise ValueError("a forget request can only DELETE or NOOP")
            for link in action.links:
                if action.op not in ("ADD", "UPDATE"):
                    raise ValueError(f"links belong to ADD or UPDATE, not {action.op}")
                if link.handle not in handles:
                    raise ValueError(f"link handle {link.handle} was not shown")
                if not link.relation.strip():
                    raise ValueError("a link needs a relation")

    return check


def decide_with_model(
    model: BaseChatModel, candidate: Candidate, similar: list[tuple[SearchItem, float]]
) -> list[_Decision]:
    """Let `model` choose actions for `candidate` among `similar` memories (by handle)."""
    handles = dict(enumerate(similar, start=1))
    listing = "\n".join(
        f"[{n}] ({item.value.get('category', 'other')}) {item.value.get('content', '')}"
        for n, (item, _) in handles.items()
    )
    prompt = prompts.PROMPT.format_messages(
        intent=candidate["intent"],
        candidate=candidate["content"],
        memories=listing or prompts.NO_MEMORIES,
    )
    forget = candidate["intent"] == "forget"
    result = call_structured(
        "reconcile", model, Reconciliation, prompt, check=_check_actions(handles, forget)
    )
    if result is None:
        return [_Decision("NOOP", candidate, reason="skipped: the model's answer was unusable")]
    decisions = []
    for action in result.actions:
        found = handles.get(action.handle) if action.handle is not None else None
        target, score = found if found is not None else (None, None)
        content = (action.content or "").strip() or None
        links = [(handles[link.handle][0], link.relation) for link in action.links]
        decisions.append(
            _Decision(action.op, candidate, target, score, content, action.reason, links)
        )
    return decisions


def forget_targets(
    similar: list[tuple[SearchItem, float]], threshold: float
) -> list[tuple[SearchItem, float]]:
    """Which memories an offline "forget X" deletes (`similar` is best first).

    Every memory scoring at least `threshold`, and the best match alone when it is a clear
    winner: at least `FORGET_FLOOR` and `FORGET_GAP` above the runner-up. A short target
    ("where I live") scores low against a long memory that contains it, but far above the
    unrelated ones; an ambiguous target ("my dog" among a dog and a cat) deletes nothing.
    """
    doomed = [(item, score) for item, score in similar if score >= threshold]
    if doomed or not similar:
        return doomed
    best = similar[0][1]
    runner_up = similar[1][1] if len(similar) > 1 else 0.0
    if best >= FORGET_FLOOR and best - runner_up >= FORGET_GAP:
        return [similar[0]]
    return []


def decide_offline(
    candidate: Candidate, similar: list[tuple[SearchItem, float]], context: Context
) -> list[_Decision]:
    """No model: forget by similarity, skip near-duplicates, add the rest."""
    if candidate["intent"] == "forget":
        doomed = forget_targets(similar, context.forget_threshold)
        if not doomed:
            return [_Decision("NOOP", candidate, reason="nothing similar enough to forget")]
        return [
            _Decision("DELETE", candidate, item, score, reason="asked to forget")
            for item, score in doomed
        ]
    if similar and similar[0][1] >= context.duplicate_threshold:
        item, score = similar[0]
        return [_Decision("NOOP", candidate, item, score, reason="duplicate")]
    return [_Decision("ADD", candidate)]


def _merged_source(value: dict[str, Any], turn: Turn) -> dict[str, Any] | None:
    """`value`'s source with this turn's message ids appended; `None` if nothing is new."""
    source = dict(value.get("source") or {})
    ids = list(source.get("message_ids") or [])
    new = [i for i in turn.message_ids if i not in ids]
    if not new:
        return None
    source.setdefault("thread_id", turn.thread_id)
    source.setdefault("turn_at", turn.at)
    source["message_ids"] = ids + new
    return source


def _record(decision: _Decision, key: str | None, content: str, **extra: Any) -> MemoryOp:
    op = MemoryOp(op=decision.op, key=key, content=content, reason=decision.reason)
    op["candidate"] = decision.candidate["content"]
    if decision.score is not None:
        op["score"] = round(decision.score, 4)
    op.update(extra)  # type: ignore[typeddict-item]
    return op


def _apply(
    decision: _Decision, namespace: tuple[str, ...], turn: Turn
) -> tuple[MemoryOp, PutOp | None]:
    """The op record and the store write (if any) for one decision."""
    candidate, target = decision.candidate, decision.target
    if decision.op == "ADD":
        memory = Memory(
            content=decision.content or candidate["content"],
            category=candidate["category"],
            importance=candidate["importance"],
            timestamp=turn.at,  # type: ignore[arg-type]
            source=turn.source,
        )
        value = memory.to_value()
        if candidate.get("context"):
            value["context"] = candidate["context"]
        record = _record(
            decision,
            memory.id,
            memory.content,
            category=memory.category,
            importance=memory.importance,
        )
        return record, PutOp(namespace, memory.id, value)
    if target is None:
        return _record(decision, None, candidate["content"]), None
    old = dict(target.value)
    old_content = str(old.get("content", ""))
    if decision.op == "DELETE":
        return _record(decision, target.key, old_content), PutOp(target.namespace, target.key, None)
    if decision.op == "UPDATE":
        category = candidate["category"]
        value = {
            **old,
            "content": decision.content,
            "category": category if category != "other" else old.get("category", "other"),
            "importance": max(float(old.get("importance", 0.0)), candidate["importance"]),
            "timestamp": turn.at,
            "source": turn.source,
        }
        checked = Memory.from_value(target.key, value)  # validates; raises ValueError
        record = _record(
            decision,
            target.key,
            checked.content,
            old_content=old_content,
            category=checked.category,
            importance=checked.importance,
        )
        return record, PutOp(target.namespace, target.key, value)
    merged = _merged_source(old, turn)  # NOOP on a known memory: keep the new evidence
    write = (
        None if merged is None else PutOp(target.namespace, target.key, {**old, "source": merged})
    )
    return _record(decision, target.key, old_content), write


def apply_decisions(
    store: BaseStore,
    namespace: tuple[str, ...],
    decisions: list[_Decision],
    turn: Turn,
    *,
    entity_link_limit: int = 0,
    speakers: Iterable[str] = (),
) -> list[MemoryOp]:
    """Write all decisions, and their links, in one batch under the turn's provenance;
    return the op records.

    A memory is changed at most once per turn: a later decision on a key already changed
    is recorded as a NOOP. Links (see `hippograph.memory.linking`) are only made on stores that keep
    them; `entity_link_limit` 0 leaves out entity links.
    """
    ops: list[MemoryOp] = []
    writes: list[PutOp] = []
    linkables: list[Linkable] = []
    touched: set[tuple[tuple[str, ...], str]] = set()
    for planned in decisions:
        decision, target = planned, planned.target
        if target is not None and (target.namespace, target.key) in touched:
            decision = _Decision(
                "NOOP", planned.candidate, reason=f"{planned.op} skipped: already changed"
            )
        op, write = _apply(decision, namespace, turn)
        ops.append(op)
        if write is not None:
            writes.append(write)
            touched.add((write.namespace, write.key))
            if write.value is not None and decision.op in ("ADD", "UPDATE"):
                linkables.append(_linkable(decision, write.key, op["content"]))
    links: list[LinkOp | UnlinkOp] = []
    if linkables and links_of(store) is not None:
        deleted = {w.key for w in writes if w.value is None}
        links = plan_links(
            store,
            namespace,
            linkables,
            entity_link_limit=entity_link_limit,
            skip=deleted,
            speakers=speakers,
        )
    if writes or links:
        batch: list[Any] = [*writes, *links]  # link ops ride in the store's own batch
        with provenance(turn.source):
            results = store.batch(batch)
        made = [done for done, op in zip(results, batch, strict=True) if isinstance(op, LinkOp)]
        _note_links(ops, made)
    return ops


def _linkable(decision: _Decision, key: str, content: str) -> Linkable:
    entities = list(decision.candidate.get("entities") or [])
    explicit = [(item.key, relation) for item, relation in decision.links]
    return Linkable(key, content, entities, explicit)


def _note_links(ops: list[MemoryOp], written: Iterable[object]) -> None:
    """Add each link written to the record of the memory it starts from."""
    by_key = {op["key"]: op for op in ops if op["op"] in ("ADD", "UPDATE")}
    for link in written:
        if not isinstance(link, Link):
            logger.info("reconcile: a link was skipped: one of its memories no longer exists")
            continue
        op = by_key.get(link.src)
        if op is not None:
            op.setdefault("links", []).append({"key": link.dst, "relation": link.relation})


def reconcile(
    state: State, runtime: Runtime[Context], *, model: BaseChatModel | None = None
) -> dict[str, Any]:
    """Decide and apply ADD / UPDATE / DELETE / NOOP for every candidate; returns `ops`."""
    context = memory_context(runtime)
    candidates = list(state.get("candidates") or [])
    turn = current_turn(state)
    if not candidates or turn is None:
        return {"ops": []}
    store = require_store(runtime)
    namespace = memory_namespace(context.user_id)
    chat = pick_model(context.model, model)
    decisions: list[_Decision] = []
    for candidate in candidates:
        similar = search_memories(
            store, namespace, [Query(candidate["content"])], context.similar_k
        )
        if chat is None:  # thresholds that skip or delete compare exact cosines, not ranks
            similar = exact_cosine(store, candidate["content"], similar)
            decisions.extend(decide_offline(candidate, similar, context))
        else:
            decisions.extend(decide_with_model(chat, candidate, similar))
    speakers = {str(m.name) for m in state.get("messages") or [] if getattr(m, "name", None)}
    ops = apply_decisions(
        store,
        namespace,
        decisions,
        turn,
        entity_link_limit=context.entity_link_limit,
        speakers=speakers,
    )
    return {"ops": ops}
