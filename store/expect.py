"""Conditional writes: a batch that applies only if the items it was decided on are unchanged.

Core pieces:
    - `ExpectOp(namespace, key, updated_at)`: a precondition in a write batch — item `key`
      of `namespace` still has the `updated_at` it was read with (`None`: it does not exist).
    - `StaleWriteError`: raised when any precondition fails; nothing of the batch is written.
      `conflicts` names every stale item (`Conflict`: what was expected, what was found).

Semantics (every back end that accepts `ExpectOp` keeps them):
    - All or nothing: the batch's puts, deletes and link changes commit only if every
      `ExpectOp` holds when they are written; otherwise the batch raises `StaleWriteError`
      and the store is unchanged.
    - Atomic: the check and the writes are one transaction, and no other writer can change
      an expected item between them (PostgreSQL locks the rows `FOR UPDATE`, in key order;
      SQLite's single writer holds its write lock).
    - Exact: `updated_at` is compared as an instant, to the microsecond, with the value the
      store returned on read (`Item.updated_at`). An expired item counts as absent where
      reads hide expired items.
    - An `ExpectOp`'s own result is `None`. Reads in the same batch see the state before
      its writes, as always.

Use: read the items a decision depends on, decide, then write
`[ExpectOp(ns, item.key, item.updated_at) for item in read] + writes`; on
`StaleWriteError`, read again and decide again (or give up) — never write over a newer change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from langgraph.store.base import GetOp, validate_op_namespace

from hippograph.store.codec import validate_key
from hippograph.store.errors import InvalidNamespaceError, InvalidValueError


class ExpectOp(NamedTuple):
    """Precondition of a write batch: item `key` of `namespace` has `updated_at` (an aware
    datetime, as read from the store), or does not exist when `updated_at` is `None`."""

    namespace: tuple[str, ...]
    key: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Conflict:
    """One failed precondition: what the batch expected and what the store holds."""

    namespace: tuple[str, ...]
    key: str
    expected: datetime | None
    found: datetime | None
    """The item's `updated_at` now (`None`: it no longer exists, or never did)."""


class StaleWriteError(RuntimeError):
    """A conditional batch was decided on data that has changed since; nothing was written."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = list(conflicts)
        shown = ", ".join(
            f"{'/'.join((*c.namespace, c.key))} "
            f"({'deleted' if c.found is None else 'changed at ' + c.found.isoformat()})"
            if c.expected is not None
            else f"{'/'.join((*c.namespace, c.key))} (now exists)"
            for c in self.conflicts[:5]
        )
        more = f" and {len(self.conflicts) - 5} more" if len(self.conflicts) > 5 else ""
        super().__init__(
            f"stale write refused, nothing written: {shown}{more} changed after it was read; "
            "read again and decide again"
        )


def validate_expect_op(op: ExpectOp) -> ExpectOp:
    """`op` with a checked namespace, key and time (raises before any write)."""
    if not isinstance(op.namespace, tuple) or not op.namespace:
        raise InvalidNamespaceError(f"Namespace must be a non-empty tuple, got {op.namespace!r}")
    if not all(isinstance(label, str) and label for label in op.namespace):
        raise InvalidNamespaceError(f"Namespace labels must be non-empty strings: {op.namespace}")
    stamp = op.updated_at
    if stamp is not None and (not isinstance(stamp, datetime) or stamp.tzinfo is None):
        raise InvalidValueError(
            f"ExpectOp.updated_at must be a timezone-aware datetime or None, got {stamp!r}"
        )
    validate_op_namespace(GetOp(op.namespace, op.key))  # LangGraph's own namespace rules
    return op._replace(key=validate_key(op.key))


def conflicts_of(
    expectations: Sequence[ExpectOp], found: dict[tuple[tuple[str, ...], str], datetime]
) -> list[Conflict]:
    """The expectations that `found` (`{(namespace, key): updated_at}` of the live items)
    contradicts, in order."""
    conflicts = []
    for op in expectations:
        now = found.get((op.namespace, op.key))
        if now != op.updated_at:
            conflicts.append(Conflict(op.namespace, op.key, op.updated_at, now))
    return conflicts
