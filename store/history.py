"""The audit trail: history entries and the provenance attached to the writes that make them.

Every write through `FaissSqliteStore` records a history row (ADD / UPDATE / DELETE /
EXPIRE, old and new value; LINK / UNLINK for links, keyed by the link's `src`, with the link
`{"dst", "relation", "weight"}` as new / old) in the same transaction as the write.
`provenance(...)` names the source of the writes made inside it (e.g. the chat turn that
asked to forget something), so even a delete carries where it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal, TypedDict

HistoryOp = Literal["ADD", "UPDATE", "DELETE", "EXPIRE", "LINK", "UNLINK", "ERASE"]

_SOURCE: ContextVar[dict[str, Any] | None] = ContextVar("hippograph_provenance", default=None)
_RECORDING: ContextVar[bool] = ContextVar("hippograph_record_history", default=True)


class HistoryEntry(TypedDict):
    """One change to one item, as recorded in the audit trail."""

    id: int
    namespace: tuple[str, ...]
    key: str
    op: HistoryOp
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    at: datetime
    source: dict[str, Any] | None


@contextmanager
def provenance(source: Mapping[str, Any]) -> Iterator[None]:
    """Attach `source` (e.g. `{"thread_id": ..., "message_ids": [...]}`) to writes made inside.

    Works across `asyncio.to_thread` and LangGraph nodes, since it is a context variable.

    Example:
        ```python
        with provenance({"thread_id": "t1", "message_ids": ["m7"]}):
            store.delete(("memories", "alice"), key)
        ```
    """
    token = _SOURCE.set(dict(source))
    try:
        yield
    finally:
        _SOURCE.reset(token)


def current_source() -> dict[str, Any] | None:
    """The provenance set by the innermost `provenance(...)` block, if any."""
    return _SOURCE.get()


def source_for(value: Mapping[str, Any] | None, explicit: Mapping[str, Any] | None) -> str | None:
    """JSON of the source to record: the explicit provenance, else the value's own `source`."""
    if explicit is not None:
        return json.dumps(explicit, ensure_ascii=False, default=str)
    if value is not None and isinstance(value.get("source"), Mapping):
        return json.dumps(value["source"], ensure_ascii=False, default=str)
    return None


@contextmanager
def history_paused() -> Iterator[None]:
    """Writes made inside record no history rows, on `FaissSqliteStore` and
    `PostgresMemoryStore` alike: for data that is not a memory (who owns a thread) and for
    copying another store's history.
    """
    token = _RECORDING.set(False)
    try:
        yield
    finally:
        _RECORDING.reset(token)


def recording_history() -> bool:
    """False inside `history_paused()`."""
    return _RECORDING.get()
