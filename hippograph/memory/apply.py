"""Write a turn's merged decisions: one batch, conditional on what was read, with links.

Core pieces:
    - `apply_decisions`: the op records and one store batch for the turn — puts and
      deletes under the turn's provenance, and the links of what it added or updated.
    - Conditional: every memory a decision acts on must still be as it was read. On our
      stores the batch carries an `ExpectOp` per memory and commits only if none changed
      (`hippograph.store.expect`: compare-and-set on `updated_at`, checked in the write
      transaction — `FaissSqliteStore` and `PostgresMemoryStore`). On stores that cannot
      (LangGraph's `InMemoryStore` / `PostgresStore`) the memories are read again just
      before the write — a narrow window, not an atomic check. Either way a change is
      reported as `StaleWriteError`, for the caller to decide again; nothing is silently
      overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.store.base import BaseStore, GetOp, PutOp, SearchItem

from hippograph.memory.decisions import Decision
from hippograph.memory.linking import Linkable, plan_links
from hippograph.memory.state import MemoryOp
from hippograph.memory.turn import Turn
from hippograph.store import Memory, provenance
from hippograph.store.expect import Conflict, ExpectOp, StaleWriteError
from hippograph.store.extras import ExtendedStore
from hippograph.store.links import Link, LinkOp, UnlinkOp, links_of

logger = logging.getLogger(__name__)


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


def _record(decision: Decision, key: str | None, content: str, **extra: Any) -> MemoryOp:
    op = MemoryOp(op=decision.op, key=key, content=content, reason=decision.reason)
    op["candidate"] = decision.candidate["content"]
    if decision.score is not None:
        op["score"] = round(min(1.0, max(0.0, decision.score)), 4)
    op.update(extra)  # type: ignore[typeddict-item]
    return op


def _write(
    decision: Decision, namespace: tuple[str, ...], turn: Turn
) -> tuple[MemoryOp, PutOp | None]:
    """The op record and the store write (if any) for one decision."""
    candidate, target = decision.candidate, decision.target
    if decision.op == "ADD":
        memory = Memory(
            content=decision.text,
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
    merged = _merged_source(old, turn) if decision.merge_source else None
    write = (
        None if merged is None else PutOp(target.namespace, target.key, {**old, "source": merged})
    )
    return _record(decision, target.key, old_content), write


def _expectations(decisions: Sequence[Decision]) -> list[ExpectOp]:
    """One precondition per memory the turn writes to: as it was read."""
    read: dict[tuple[tuple[str, ...], str], SearchItem] = {}
    for d in decisions:
        if d.target is not None and (d.op in ("UPDATE", "DELETE") or d.merge_source):
            read.setdefault((tuple(d.target.namespace), d.target.key), d.target)
    return [ExpectOp(ns, key, item.updated_at) for (ns, key), item in read.items()]


def _recheck(store: BaseStore, expects: Sequence[ExpectOp]) -> None:
    """Read the memories again (stores without `ExpectOp`): raise if any changed."""
    found = store.batch([GetOp(e.namespace, e.key) for e in expects])
    conflicts = [
        Conflict(e.namespace, e.key, e.updated_at, getattr(item, "updated_at", None))
        for e, item in zip(expects, found, strict=True)
        if getattr(item, "updated_at", None) != e.updated_at
    ]
    if conflicts:
        raise StaleWriteError(conflicts)


def apply_decisions(
    store: BaseStore,
    namespace: tuple[str, ...],
    decisions: Sequence[Decision],
    turn: Turn,
    *,
    entity_link_limit: int = 0,
    speakers: Iterable[str] = (),
) -> list[MemoryOp]:
    """Write merged `decisions` (and their links) in one conditional batch under the turn's
    provenance; return the op records.

    Raises:
        StaleWriteError: a memory a decision acts on changed since it was read; nothing
            was written.
    """
    ops: list[MemoryOp] = []
    writes: dict[tuple[tuple[str, ...], str], PutOp] = {}
    linkables: list[Linkable] = []
    for decision in decisions:
        op, write = _write(decision, namespace, turn)
        ops.append(op)
        if write is None:
            continue
        writes[(tuple(write.namespace), write.key)] = write
        if write.value is not None and decision.op in ("ADD", "UPDATE"):
            explicit = [(item.key, relation) for item, relation in decision.links]
            entities = list(decision.candidate.get("entities") or [])
            linkables.append(Linkable(write.key, op["content"], entities, explicit))
    links: list[LinkOp | UnlinkOp] = []
    if linkables and links_of(store) is not None:
        deleted = {w.key for w in writes.values() if w.value is None}
        links = plan_links(
            store,
            namespace,
            linkables,
            entity_link_limit=entity_link_limit,
            skip=deleted,
            speakers=speakers,
        )
    if not writes and not links:
        return ops
    expects = _expectations(decisions)
    batch: list[Any] = [*writes.values(), *links]  # link ops ride in the store's own batch
    if isinstance(store, ExtendedStore):  # both of our back ends check ExpectOp atomically
        batch = [*expects, *batch]
    elif expects:
        _recheck(store, expects)
    with provenance(turn.source):
        results = store.batch(batch)
    made = [done for done, op in zip(results, batch, strict=True) if isinstance(op, LinkOp)]
    _note_links(ops, made)
    return ops


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
