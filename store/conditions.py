"""Conditional writes: a batch that only commits if the items it read are unchanged.

Core pieces:
    - `ExpectOp(namespace, key, updated_at)`: a precondition in a batch — the item still
      has this `updated_at` (`None`: the item does not exist). Checked inside the write
      transaction, before any of the batch's writes; its result is `None`.
    - `WriteConflictError`: at least one precondition failed; nothing of the batch was
      written. `conflicts` names the items and what was found instead.
    - `check_expectations`: the SQL check (`FaissSqliteStore` calls it in its transaction).
    - `supports_expectations(store)`: whether a store honours `ExpectOp`.

This is compare-and-set at item granularity, with `updated_at` as the version: any write
to an item (put, update, delete, TTL expiry) changes or removes it. A reader that decided
something from an item it read can thus write "only if nobody changed it since". Stores
that do not know `ExpectOp` (LangGraph's own) reject it as an unknown operation; callers
check `supports_expectations` first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from hippograph.store.codec import ns_to_text


class ExpectOp(NamedTuple):
    """Precondition of a batch: the item at `(namespace, key)` is as it was when read.

    Attributes:
        namespace: The item's namespace.
        key: The item's key.
        updated_at: Its `updated_at` when read; `None` means "must not exist".
    """

    namespace: tuple[str, ...]
    key: str
    updated_at: datetime | None


class Conflict(NamedTuple):
    """An unmet precondition: what was expected and what the store holds now."""

    namespace: tuple[str, ...]
    key: str
    expected: datetime | None
    found: datetime | None


class WriteConflictError(RuntimeError):
    """A conditional batch was refused: an item changed since it was read. Nothing of the
    batch was written."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = list(conflicts)
        named = ", ".join(f"{'/'.join(c.namespace)}:{c.key}" for c in self.conflicts[:5])
        super().__init__(
            f"{len(self.conflicts)} item(s) changed since they were read ({named}); "
            "nothing was written — read them again and decide anew"
        )


def _as_moment(raw: Any) -> datetime | None:
    if raw is None:
        return None
    return raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))


def check_expectations(conn: sqlite3.Connection, expects: Sequence[ExpectOp]) -> None:
    """Raise `WriteConflictError` unless every item is as `expects` says (run it inside the
    write transaction, before the batch writes anything)."""
    conflicts = []
    for op in expects:
        row = conn.execute(
            "SELECT updated_at FROM items WHERE prefix = ? AND key = ?",
            (ns_to_text(op.namespace), op.key),
        ).fetchone()
        found = _as_moment(row[0]) if row else None
        if found != _as_moment(op.updated_at):
            conflicts.append(Conflict(op.namespace, op.key, op.updated_at, found))
    if conflicts:
        raise WriteConflictError(conflicts)


def supports_expectations(store: object) -> bool:
    """True when `store.batch` honours `ExpectOp` atomically (our `FaissSqliteStore`)."""
    return bool(getattr(store, "supports_expectations", False))
