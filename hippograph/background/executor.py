"""`MemoryFormer`: form memories after the reply, in this process, debounced per thread.

Core pieces:
    - `MemoryFormer(store, model=...)`: queue a turn (`submit`, durable when it returns); a
      timer makes each thread due `delay` seconds after its last turn, and a small thread
      pool runs extract + reconcile (`build_remember_graph`) on every turn waiting for it.
    - `form_thread`: form one thread's pending turns — the step shared with the scheduled
      run on a LangGraph server (`hippograph.background.server`).

Debounce: a turn arriving while its thread waits moves the thread's time back by `delay`,
so a burst of messages is formed in one run, after the burst. Nothing is lost: the queue is
in the store (`hippograph.background.pending`); a new `MemoryFormer` on the same store
resumes whatever a stopped process left, and a failed run is retried later.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from hippograph.background.pending import (
    PendingThread,
    PendingTurn,
    add_turn,
    claim,
    complete,
    owner_id,
    pending_threads,
    release,
)

logger = logging.getLogger(__name__)

DEFAULT_DELAY = 5.0
"""Seconds of quiet in a thread before its turns are formed."""

RETRY_AFTER = 30.0
"""Seconds before a thread whose formation failed is tried again."""

_Key = tuple[str, str | None]


def pending_turn(
    messages: Sequence[BaseMessage],
    context: Mapping[str, Any],
    *,
    turn_at: str | None = None,
    turn_id: str | None = None,
) -> PendingTurn | None:
    """The turn to queue from a conversation: its last user message and the message before
    it; `None` when there is no user message."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].type == "human":
            kept = list(messages[max(0, index - 1) : index + 1])
            said = turn_at or datetime.now(UTC).isoformat()
            ident = turn_id or messages[index].id or f"{said}:{index}"
            return PendingTurn(str(ident), kept, said, dict(context))
    return None


def _remember_input(turn: PendingTurn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The remember graph's input and run context for `turn` (its own time: `turn_at`)."""
    context = {k: v for k, v in turn.context.items() if v is not None}
    return {"messages": turn.messages}, {**context, "turn_at": turn.turn_at}


def form_thread(
    store: BaseStore,
    remember: Any,
    user_id: str,
    thread_id: str | None,
    owner: str,
) -> list[dict[str, Any]]:
    """Form every pending turn of one thread, oldest first, with the `remember` graph;
    returns their memory ops. Nothing happens if another worker holds the thread.

    Raises:
        Exception: whatever forming a turn raised; the thread is left queued (the turns
            formed before the failure are removed).
    """
    taken = claim(store, user_id, thread_id, owner)
    if taken is None:
        return []
    ops: list[dict[str, Any]] = []
    done: list[str] = []
    try:
        for turn in taken.turns:
            state, context = _remember_input(turn)
            config = {"configurable": {"thread_id": thread_id}}
            out = remember.invoke(state, config=config, context=context)
            ops += list(out.get("ops") or [])
            done.append(turn.id)
    finally:
        complete(store, user_id, thread_id, owner, done)
    return ops


class MemoryFormer:
    """Forms memories in the background: turns are queued durably, formed after `delay`
    seconds of quiet in their thread, by a small in-process thread pool.

    `build_agent(background=...)` makes one for its graph; use one directly to add
    background memory to any graph (call `submit` after the reply, or add `node`).

    Args:
        store: The memory store (also holds the queue).
        model: Chat model or spec for extract + reconcile (`None`: the offline mode).
        delay: Debounce: seconds after a thread's last turn before it is formed.
        workers: Threads forming memories (different threads run in parallel).
        resume: Pick up turns a stopped process left in the store (default: yes).
        profile: A profile schema to patch after each turn (`hippograph.profile`).

    Example:
        ```python
        with MemoryFormer(store, model="openai:gpt-4o-mini", delay=10) as former:
            former.submit(state["messages"], context={"user_id": "alice"}, thread_id="t1")
            former.flush()  # tests: form everything now
        ```
    """

    def __init__(
        self,
        store: BaseStore,
        *,
        model: BaseChatModel | str | None = None,
        delay: float = DEFAULT_DELAY,
        workers: int = 1,
        resume: bool = True,
        profile: type[BaseModel] | None = None,
    ) -> None:
        from hippograph.graph.subgraphs import build_remember_graph

        self.store = store
        self.delay = float(delay)
        self.owner = owner_id()
        self.remember = build_remember_graph(store=store, model=model, profile=profile)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hippograph-form")
        self._due: dict[_Key, float] = {}
        self._heap: list[tuple[float, int, _Key]] = []
        self._running: set[_Key] = set()
        self._order = 0
        self._cond = threading.Condition()
        self._closed = False
        self.runs = 0
        """Formation runs completed (a debounced burst of turns is one run)."""
        self._timer = threading.Thread(target=self._loop, name="hippograph-timer", daemon=True)
        self._timer.start()
        if resume:
            self.resume()

    # ------------------------------------------------------------------ queueing

    def submit(
        self,
        messages: Sequence[BaseMessage],
        *,
        context: Mapping[str, Any],
        thread_id: str | None = None,
        turn_at: str | None = None,
    ) -> PendingTurn | None:
        """Queue the conversation's latest user turn for memory formation.

        Durable when it returns: a process that stops before the turn is formed leaves it
        in the store for the next `MemoryFormer`. Returns the queued turn (`None`: there
        was no user message).

        Raises:
            ValueError: `context` has no `user_id`.
        """
        user_id = context.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            raise ValueError("submit needs context={'user_id': ...}")
        turn = pending_turn(messages, context, turn_at=turn_at)
        if turn is None:
            return None
        add_turn(self.store, user_id, thread_id, turn, delay=self.delay)
        self.schedule(user_id, thread_id, time.time() + self.delay)
        return turn

    def schedule(self, user_id: str, thread_id: str | None, at: float) -> None:
        """Form the thread at `at` (epoch seconds), replacing any earlier plan for it."""
        key = (user_id, thread_id)
        with self._cond:
            self._due[key] = at
            self._order += 1
            heapq.heappush(self._heap, (at, self._order, key))
            self._cond.notify_all()

    def resume(self) -> int:
        """Schedule every thread with turns waiting in the store (at their due time, or
        after this former's own delay if that is sooner); returns how many."""
        found = list(pending_threads(self.store))
        for pending in found:
            at = min(pending.due_at.timestamp(), time.time() + self.delay)
            if pending.leased() and pending.lease_until is not None:
                at = max(at, pending.lease_until.timestamp())
            self.schedule(pending.user_id, pending.thread_id, at)
        if found:
            logger.info("background formation: resumed %d thread(s)", len(found))
        return len(found)

    # ------------------------------------------------------------------ running

    def _loop(self) -> None:
        while True:
            with self._cond:
                ready = self._pop_ready()
                while ready is None and not self._closed:
                    wait = self._heap[0][0] - time.time() if self._heap else None
                    self._cond.wait(timeout=wait)
                    ready = self._pop_ready()
                if ready is None or self._closed:
                    return  # closed: what waits stays queued in the store
                self._running.add(ready)
            self._pool.submit(self._form, ready)

    def _pop_ready(self) -> _Key | None:
        """The next thread due now and not already being formed (call with the lock)."""
        now = time.time()
        deferred = []
        found = None
        while self._heap and self._heap[0][0] <= now:
            at, order, key = heapq.heappop(self._heap)
            if self._due.get(key) != at:
                continue  # replaced by a later turn (debounce) or already formed
            if key in self._running:
                deferred.append((at, order, key))  # one run per thread at a time
                continue
            del self._due[key]
            found = key
            break
        for entry in deferred:
            heapq.heappush(self._heap, (max(entry[0], now + 0.05), entry[1], entry[2]))
        return found

    def _form(self, key: _Key) -> None:
        user_id, thread_id = key
        try:
            form_thread(self.store, self.remember, user_id, thread_id, self.owner)
            with self._cond:
                self.runs += 1
        except Exception:
            logger.exception("background formation failed for a thread; retrying later")
            release(self.store, user_id, thread_id, self.owner, retry_in=RETRY_AFTER)
            with self._cond:
                if key not in self._due:
                    self._order += 1
                    self._due[key] = time.time() + RETRY_AFTER
                    heapq.heappush(self._heap, (self._due[key], self._order, key))
        finally:
            with self._cond:
                self._running.discard(key)
                self._cond.notify_all()

    # ------------------------------------------------------------------ control

    def pending(self) -> int:
        """Threads waiting or being formed by this former."""
        with self._cond:
            return len(self._due) + len(self._running)

    def flush(self, timeout: float | None = 60.0) -> None:
        """Form every waiting thread now, without waiting out its delay, and return when
        done (`TimeoutError` after `timeout` seconds)."""
        with self._cond:
            now = time.time()
            for key in list(self._due):
                self._order += 1
                self._due[key] = now
                heapq.heappush(self._heap, (now, self._order, key))
            self._cond.notify_all()
            deadline = None if timeout is None else now + timeout
            while self._due or self._running:
                left = None if deadline is None else deadline - time.time()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{self.pending()} thread(s) still forming memories")
                self._cond.wait(timeout=left)

    def close(self, *, flush: bool = False) -> None:
        """Stop the timer and the workers (a run in progress finishes). Turns still waiting
        stay queued in the store for the next `MemoryFormer`, unless `flush`."""
        if flush:
            self.flush(timeout=None)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> MemoryFormer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def waiting(self) -> Iterable[PendingThread]:
        """What waits in the store (every former's turns, not only this one's)."""
        return pending_threads(self.store)
