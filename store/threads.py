"""Who owns a conversation thread: recorded when the thread first runs, checked on every turn.

A thread's checkpoints hold every message of a conversation, so a thread belongs to the user
who talks in it. The agent records that in the memory store the first time one of the user's
turns runs in a thread: one item per thread in `THREADS` = `("threads",)`, keyed by the
thread id, value `{"user_id", "started_at"}`. It lives beside the user's memories on every
backend, is written outside the audit trail (`history_paused`: it is not a memory), and so
leaves no trace once erased.

- `claim_thread` records the owner, or raises `ThreadOwnerError` when the thread is already
  another user's: nobody reads or continues someone else's conversation. One `get` per turn,
  whatever the number of threads.
- `owned_threads` lists a user's threads: erasing a user deletes the checkpoints of exactly
  these (`hippograph.erasure.erase_user`), including threads that produced no memory, and
  never a thread merely *named* by a memory's provenance (an imported `source.thread_id`);
  `forget_threads` then drops the records.

Thread ids are not rewritten per user: LangGraph addresses a thread by the exact id the
caller chose (`get_state`, `update_state`, Studio), so a clash is refused and reported, not
hidden. When two users start the same brand-new thread id at the same instant, exactly one
wins: on our stores (`ExtendedStore`) the record is an insert-if-absent (`ExpectOp` with
`updated_at=None`), so the later claim is refused with nothing written. LangGraph's own
stores have no conditional write: there the record written last wins and the other user's
next turn is refused.

`claim_thread` / `aclaim_thread` are sync and async twins (the async one for a running event
loop, e.g. `langgraph dev`).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import BaseStore, Item, PutOp

from hippograph.store.expect import ExpectOp, StaleWriteError
from hippograph.store.extras import ExtendedStore
from hippograph.store.history import history_paused

THREADS: tuple[str] = ("threads",)
"""Namespace of the thread-ownership records (one item per thread id)."""

_PAGE = 500


class ThreadOwnerError(PermissionError, ValueError):
    """The thread is another user's; start a new thread (a new `thread_id`) instead.

    Also a `ValueError` (a bad argument of the run): the LangGraph server shows the message
    of such errors to its clients, and hides that of others behind "An internal error".
    """

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"thread {thread_id!r} belongs to another user; start a new conversation "
            "(a new thread id) instead"
        )


def thread_owner(store: BaseStore, thread_id: str) -> str | None:
    """The user who owns `thread_id`, or `None` for a thread nobody has run yet."""
    return _owner(store.get(THREADS, thread_id, refresh_ttl=False))


def claim_thread(
    store: BaseStore, user_id: str, thread_id: str, *, now: datetime | None = None
) -> None:
    """Record `user_id` as the owner of `thread_id`, unless it is someone else's.

    Raises:
        ThreadOwnerError: another user owns `thread_id` (nothing is written).

    Example:
        ```python
        claim_thread(store, "alice", "t1")  # alice's now
        claim_thread(store, "bob", "t1")  # ThreadOwnerError
        ```
    """
    owner = thread_owner(store, thread_id)
    if owner == user_id:
        return
    if owner is not None:
        raise ThreadOwnerError(thread_id)
    # StaleWriteError: another first turn claimed it between our read and write (re-read)
    with history_paused(), suppress(StaleWriteError):
        store.batch(_claim_ops(store, user_id, thread_id, now))
    if thread_owner(store, thread_id) != user_id:
        raise ThreadOwnerError(thread_id)


async def aclaim_thread(
    store: BaseStore, user_id: str, thread_id: str, *, now: datetime | None = None
) -> None:
    """`claim_thread` for async callers (the same reads and writes, through `abatch`)."""
    owner = _owner(await store.aget(THREADS, thread_id, refresh_ttl=False))
    if owner == user_id:
        return
    if owner is not None:
        raise ThreadOwnerError(thread_id)
    with history_paused(), suppress(StaleWriteError):
        await store.abatch(_claim_ops(store, user_id, thread_id, now))
    if _owner(await store.aget(THREADS, thread_id, refresh_ttl=False)) != user_id:
        raise ThreadOwnerError(thread_id)


def _owner(record: Item | None) -> str | None:
    return None if record is None else str(record.value.get("user_id"))


def _claim_ops(store: BaseStore, user_id: str, thread_id: str, now: datetime | None) -> list[Any]:
    """The write of a new thread record: insert-if-absent where the store has conditional
    writes (the batch then fails with `StaleWriteError` if the record appeared meanwhile)."""
    started = (now or datetime.now(UTC)).isoformat()
    put = PutOp(THREADS, thread_id, {"user_id": user_id, "started_at": started}, index=False)
    if isinstance(store, ExtendedStore):
        return [ExpectOp(THREADS, thread_id, None), put]
    return [put]


def owned_threads(store: BaseStore, user_id: str) -> list[str]:
    """Every thread `user_id` owns, oldest first (a filter over all thread records: erasure
    reads it, turns never do)."""
    found: list[Item] = []
    while True:
        page = store.search(THREADS, filter={"user_id": user_id}, limit=_PAGE, offset=len(found))
        found += page
        if len(page) < _PAGE:
            break
    owned = [item for item in found if tuple(item.namespace) == THREADS]
    return [item.key for item in sorted(owned, key=lambda item: (item.created_at, item.key))]


def forget_threads(store: BaseStore, user_id: str) -> int:
    """Delete `user_id`'s thread records (after their checkpoints are gone), leaving no
    history row; returns how many."""
    keys = owned_threads(store, user_id)
    with history_paused():
        for start in range(0, len(keys), _PAGE):
            store.batch([PutOp(THREADS, key, None) for key in keys[start : start + _PAGE]])
    return len(keys)
