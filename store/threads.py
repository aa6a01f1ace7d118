"""Who owns a conversation thread: recorded when the thread first runs, checked on every turn.

A thread's checkpoints hold every message of a conversation, so a thread belongs to the user
who talks in it. The agent records that in the memory store the first time one of the user's
turns runs in a thread — an item in `thread_namespace(user_id)` = `("threads", <user>)`, keyed
by the thread id — so the record lives and dies with the user's other data, on every backend.

- `claim_thread` records the owner, or raises `ThreadOwnerError` when the thread is already
  another user's: nobody reads or continues someone else's conversation.
- `owned_threads` lists a user's threads: erasing a user deletes the checkpoints of exactly
  these (`hippograph.erasure.erase_user`), including threads that produced no memory, and
  never a thread merely *named* by a memory's provenance (an imported `source.thread_id`);
  `forget_threads` then drops the records.

Thread ids are not rewritten per user: LangGraph addresses a thread by the exact id the
caller chose (`get_state`, `update_state`, Studio), so a clash is refused and reported, not
hidden. Two users starting the same new thread id at the same moment both write a record;
the earlier record (by `created_at`, then user id) keeps the thread and the other is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from langgraph.store.base import BaseStore, Item

from hippograph.store.memory import decode_label, encode_label

THREADS_ROOT = "threads"
"""First label of every thread-ownership namespace: `("threads", <user_id>)`."""

_PAGE = 500


class ThreadOwnerError(PermissionError):
    """The thread is another user's; start a new thread (a new `thread_id`) instead."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"thread {thread_id!r} belongs to another user; start a new conversation "
            "(a new thread id) instead"
        )


def thread_namespace(user_id: str) -> tuple[str, str]:
    """The namespace of `user_id`'s thread records: `("threads", <encoded user_id>)`."""
    return (THREADS_ROOT, encode_label(user_id))


def thread_owners(store: BaseStore, thread_id: str) -> list[str]:
    """Users holding a record of `thread_id` (normally one; none for a new thread), the
    thread's first owner first."""
    found = store.search((THREADS_ROOT,), filter={"thread_id": thread_id}, limit=_PAGE)
    records = [item for item in found if item.key == thread_id]
    records.sort(key=lambda item: (item.created_at, item.namespace[1]))
    return [decode_label(item.namespace[1]) for item in records]


def claim_thread(
    store: BaseStore, user_id: str, thread_id: str, *, now: datetime | None = None
) -> None:
    """Record `user_id` as the owner of `thread_id`, unless it is someone else's.

    Costs one `get` once the thread is the user's; the first turn of a thread also looks
    for other owners (a filter search over the thread records).

    Raises:
        ThreadOwnerError: another user owns `thread_id` (nothing is written).

    Example:
        ```python
        claim_thread(store, "alice", "t1")  # alice's now
        claim_thread(store, "bob", "t1")  # ThreadOwnerError
        ```
    """
    namespace = thread_namespace(user_id)
    if store.get(namespace, thread_id, refresh_ttl=False) is not None:
        return
    if any(owner != user_id for owner in thread_owners(store, thread_id)):
        raise ThreadOwnerError(thread_id)
    started = (now or datetime.now(UTC)).isoformat()
    store.put(namespace, thread_id, {"thread_id": thread_id, "started_at": started}, index=False)
    owners = thread_owners(store, thread_id)
    if owners and owners[0] != user_id:  # another user's first turn raced ours and won
        store.delete(namespace, thread_id)
        raise ThreadOwnerError(thread_id)


def owned_threads(store: BaseStore, user_id: str) -> list[str]:
    """Every thread `user_id` owns, oldest record first."""
    return [item.key for item in _records(store, thread_namespace(user_id))]


def forget_threads(store: BaseStore, user_id: str) -> int:
    """Remove `user_id`'s thread records (after their checkpoints are gone); returns how many.

    Stores with `purge` (ours, `PostgresMemoryStore`) drop them with their history rows, so
    no audit row keeps the user's id or thread ids; others delete the items.
    """
    namespace = thread_namespace(user_id)
    purge = getattr(store, "purge", None)
    if callable(purge):
        return int(purge(namespace, compact=False).items)
    keys = owned_threads(store, user_id)
    for key in keys:
        store.delete(namespace, key)
    return len(keys)


def _records(store: BaseStore, namespace: tuple[str, ...]) -> Iterator[Item]:
    items: list[Item] = []
    offset = 0
    while True:
        page = store.search(namespace, limit=_PAGE, offset=offset)
        items += [item for item in page if tuple(item.namespace) == namespace]
        offset += len(page)
        if len(page) < _PAGE:
            break
    yield from sorted(items, key=lambda item: (item.created_at, item.key))
