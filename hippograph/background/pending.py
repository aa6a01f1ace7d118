"""Pending turns: the durable queue of turns whose memories are still to be formed.

Core pieces:
    - `PendingTurn`: one user turn (the user's message and the one before it, when it was
      said, the run context) as it waits for extract + reconcile.
    - `PendingThread`: everything waiting for one conversation thread, when it is due, and
      who is working on it (a lease).
    - `add_turn`, `claim`, `complete`, `release`, `pending_threads`, `forget_pending`: the
      queue's operations.

The queue lives in the memory store itself, one item per thread in `("formation", <user>)`,
so a turn is as durable as a memory the moment `add_turn` returns, on every backend, and a
process that stops with work pending leaves it for the next one (`pending_threads` finds
it). The items are not memories: they have no vectors, and they are written outside the
audit trail (`history_paused`), so no history row keeps a pending turn's text; erasing a
user removes theirs (`forget_pending`).

Turns are removed only after they were formed (`complete`), so a crash in between forms a
turn again; reconcile then finds what that turn already wrote (an exact duplicate merges
its provenance, nothing is added twice). A lease (owner and deadline) keeps two workers —
threads or processes — off one thread; a lease whose owner process is gone on this host, or
whose deadline passed, is free. Like thread ownership (`hippograph.store.threads`), a claim
is a write followed by a re-read, since `BaseStore` has no compare-and-set on every
backend: two processes claiming in the same instant both see the later write, and only its
owner proceeds.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict
from langgraph.store.base import BaseStore, PutOp

from hippograph.store.history import history_paused
from hippograph.store.memory import encode_label

PENDING_ROOT = "formation"
"""First label of the pending-turn namespaces: `("formation", <encoded user id>)`."""

NO_THREAD = "-"
"""The key of turns that ran without a thread id."""

LEASE = timedelta(minutes=10)
"""How long a worker may hold a thread before others may take it over."""

_PAGE = 500
_LOCK = threading.Lock()  # one read-modify-write of the queue at a time in this process

HOST = socket.gethostname()
"""This machine, as written in the leases this process takes."""


def _now() -> datetime:
    return datetime.now(UTC)


def owner_id() -> str:
    """An identity for this worker: host, process id and a random part."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(owner: str) -> bool:
    """False only for an owner that ran on this host in a process that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """One user turn waiting for memory formation.

    Attributes:
        id: Identifies the turn in the queue.
        messages: The message before the user's (if any) and the user's message.
        turn_at: When it was said (ISO-8601); the memories formed later carry this time.
        context: The run context to form it with (at least `user_id`).
    """

    id: str
    messages: list[BaseMessage]
    turn_at: str
    context: dict[str, Any]

    def to_value(self) -> dict[str, Any]:
        """The JSON-ready form kept in the store."""
        return {
            "id": self.id,
            "messages": messages_to_dict(self.messages),
            "turn_at": self.turn_at,
            "context": self.context,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> PendingTurn:
        """Read a turn back from its stored form."""
        return cls(
            id=str(value["id"]),
            messages=list(messages_from_dict(value["messages"])),
            turn_at=str(value["turn_at"]),
            context=dict(value.get("context") or {}),
        )


@dataclass(frozen=True, slots=True)
class PendingThread:
    """The turns of one thread still to be formed, and when.

    Attributes:
        user_id: Whose turns.
        thread_id: The conversation (`None` for turns run without a thread).
        turns: Oldest first.
        due_at: When they should be formed (the last turn's time plus the debounce delay).
        owner: The worker holding the thread, if any, until `lease_until`.
    """

    user_id: str
    thread_id: str | None
    turns: list[PendingTurn] = field(default_factory=list)
    due_at: datetime = field(default_factory=_now)
    owner: str | None = None
    lease_until: datetime | None = None

    def leased(self, now: datetime | None = None) -> bool:
        """True while another worker may be forming these turns."""
        if self.owner is None or self.lease_until is None:
            return False
        return self.lease_until > (now or _now()) and _alive(self.owner)

    def to_value(self) -> dict[str, Any]:
        """The JSON-ready form kept in the store."""
        return {
            "user_id": self.user_id,
            "thread_id": self.thread_id,
            "turns": [turn.to_value() for turn in self.turns],
            "due_at": self.due_at.isoformat(),
            "owner": self.owner,
            "lease_until": None if self.lease_until is None else self.lease_until.isoformat(),
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> PendingThread:
        """Read a thread's queue back from its stored form."""
        lease = value.get("lease_until")
        return cls(
            user_id=str(value["user_id"]),
            thread_id=value.get("thread_id"),
            turns=[PendingTurn.from_value(turn) for turn in value.get("turns") or []],
            due_at=datetime.fromisoformat(str(value["due_at"])),
            owner=value.get("owner"),
            lease_until=None if lease is None else datetime.fromisoformat(str(lease)),
        )


def pending_namespace(user_id: str) -> tuple[str, str]:
    """Where `user_id`'s pending turns live."""
    return (PENDING_ROOT, encode_label(user_id))


def _key(thread_id: str | None) -> str:
    return NO_THREAD if thread_id is None else str(thread_id)


def read_thread(store: BaseStore, user_id: str, thread_id: str | None) -> PendingThread | None:
    """The pending turns of one thread, or `None` when nothing waits."""
    item = store.get(pending_namespace(user_id), _key(thread_id), refresh_ttl=False)
    return None if item is None else PendingThread.from_value(item.value)


def _write(store: BaseStore, pending: PendingThread) -> None:
    namespace, key = pending_namespace(pending.user_id), _key(pending.thread_id)
    with history_paused():
        if pending.turns:
            store.put(namespace, key, pending.to_value(), index=False)
        else:
            store.delete(namespace, key)


def add_turn(
    store: BaseStore,
    user_id: str,
    thread_id: str | None,
    turn: PendingTurn,
    *,
    delay: float,
) -> PendingThread:
    """Queue `turn` and make the thread due `delay` seconds from now (a later turn moves the
    time again: that is the debounce). Durable when it returns."""
    with _LOCK:
        pending = read_thread(store, user_id, thread_id) or PendingThread(user_id, thread_id)
        if all(queued.id != turn.id for queued in pending.turns):
            pending.turns.append(turn)
        due = _now() + timedelta(seconds=max(0.0, delay))
        updated = PendingThread(
            user_id, thread_id, pending.turns, due, pending.owner, pending.lease_until
        )
        _write(store, updated)
        return updated


def claim(
    store: BaseStore, user_id: str, thread_id: str | None, owner: str, *, lease: timedelta = LEASE
) -> PendingThread | None:
    """Take the thread's pending turns for `owner`; `None` when nothing waits or another
    live worker holds them."""
    with _LOCK:
        pending = read_thread(store, user_id, thread_id)
        if pending is None or not pending.turns or pending.leased():
            return None
        mine = PendingThread(
            user_id, thread_id, pending.turns, pending.due_at, owner, _now() + lease
        )
        _write(store, mine)
    confirmed = read_thread(store, user_id, thread_id)
    return confirmed if confirmed is not None and confirmed.owner == owner else None


def complete(
    store: BaseStore, user_id: str, thread_id: str | None, owner: str, done: Sequence[str]
) -> PendingThread | None:
    """Drop the turns `done` (formed) and the lease; turns queued meanwhile stay. Returns
    what is left, or `None`."""
    finished = set(done)
    with _LOCK:
        pending = read_thread(store, user_id, thread_id)
        if pending is None:
            return None
        left = [turn for turn in pending.turns if turn.id not in finished]
        keeps_lease = pending.owner not in (None, owner)
        rest = PendingThread(
            user_id,
            thread_id,
            left,
            pending.due_at,
            pending.owner if keeps_lease else None,
            pending.lease_until if keeps_lease else None,
        )
        _write(store, rest)
        return rest if left else None


def release(
    store: BaseStore, user_id: str, thread_id: str | None, owner: str, *, retry_in: float
) -> None:
    """Give the thread back without forming it (a failure): due again in `retry_in` s."""
    with _LOCK:
        pending = read_thread(store, user_id, thread_id)
        if pending is None or pending.owner != owner:
            return
        due = _now() + timedelta(seconds=retry_in)
        _write(store, PendingThread(user_id, thread_id, pending.turns, due))


def pending_threads(store: BaseStore) -> Iterator[PendingThread]:
    """Every thread with turns waiting, of every user (what a restarted worker resumes)."""
    offset = 0
    while True:
        page = store.search((PENDING_ROOT,), limit=_PAGE, offset=offset)
        for item in page:
            if len(item.namespace) == 2 and item.namespace[0] == PENDING_ROOT:
                yield PendingThread.from_value(item.value)
        if len(page) < _PAGE:
            return
        offset += _PAGE


def forget_pending(store: BaseStore, user_id: str) -> int:
    """Erase `user_id`'s pending turns (right to erasure); returns how many threads."""
    namespace = pending_namespace(user_id)
    keys: list[str] = []
    while True:
        page = store.search(namespace, limit=_PAGE, offset=len(keys))
        keys += [item.key for item in page]
        if len(page) < _PAGE:
            break
    with history_paused():
        for start in range(0, len(keys), _PAGE):
            store.batch([PutOp(namespace, key, None) for key in keys[start : start + _PAGE]])
    return len(keys)
