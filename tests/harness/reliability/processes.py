"""The processes the crash harness starts: a writer to be killed, and an observer that lives on.

Core pieces:
    - `open_crash_store`: the store both open (hybrid search on, `content` embedded).
    - `writer_main`: executes workload steps until killed; after each step the store
      acknowledged, appends its number to an fsynced log. A thread beside it runs WAL
      checkpoints of every kind on its own connection, as a background checkpointer would.
    - `observer_main`: keeps one store open across every kill, like another agent replica:
      on request it catches up with the writer's commits (log replay) or verifies itself.
    - `Phase`, `SLOT_*`: what the writer is doing, published in shared memory so the harness
      can aim kills at checkpoints, reopens and erasures, and record where each kill landed.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import threading
import time
from collections.abc import MutableSequence
from dataclasses import dataclass
from enum import IntEnum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from langgraph.store.base import PutOp, SearchOp

from hippograph.store import FaissSqliteStore, HybridSearch
from hippograph.store.bulk import BulkItem
from hippograph.store.connections import Durability
from tests.harness.reliability.corpus import PrecomputedEmbeddings
from tests.harness.reliability.workload import LOAD_CHUNK, ROOT, USERS, Model, Step, Workload

SLOT_PHASE = 0
SLOT_CHECKPOINTING = 1
SLOT_ACKED = 2
SLOTS = 3
"""Shared int slots: the writer's `Phase`, whether a checkpoint is running, steps acked."""

_MAX_STEPS = 1_000_000


class Phase(IntEnum):
    """What the writer was doing (published before each part of a step)."""

    STARTING = 0
    OPENING = 1
    WRITING = 2
    ACKING = 3
    ERASING = 4
    CLOSING = 5
    LOADING = 6


PHASE_OF_STEP = {"erase": Phase.ERASING, "reopen": Phase.CLOSING, "load": Phase.LOADING}


def open_crash_store(
    path: str | Path, embeddings: PrecomputedEmbeddings, durability: Durability
) -> FaissSqliteStore:
    """The store under test: memory-shaped values, `content` embedded, hybrid search over
    `content` and `context` (so the full-text index is exercised too)."""
    return FaissSqliteStore(
        str(path),
        index={"dims": embeddings.dims, "embed": embeddings, "fields": ["content"]},
        hybrid=HybridSearch(fields=("content", "context")),
        durability=durability,
    )


def _ops(step: Step) -> list[PutOp]:
    return [
        PutOp(w.namespace, w.key, w.value, index=None if w.indexed else False) for w in step.writes
    ]


def _load(store: FaissSqliteStore, step: Step, embeddings: PrecomputedEmbeddings) -> None:
    """A `load` step through `bulk_put`: every other item brings its vector (pre-embedded),
    the others are embedded by the store."""
    items = [
        BulkItem(
            w.namespace,
            w.key,
            w.value,
            {"content": embeddings.vector(w.value["content"])} if n % 2 and w.indexed else None,
            index=None if w.indexed else False,
        )
        for n, w in enumerate(step.writes)
        if w.value is not None
    ]
    store.bulk_put(items, chunk_size=LOAD_CHUNK)


def execute(
    store: FaissSqliteStore,
    step: Step,
    reopen: Any,
    shared: MutableSequence[int],
    embeddings: PrecomputedEmbeddings,
) -> FaissSqliteStore:
    """Carry out `step`; returns the store to use next (a reopened one after `reopen`)."""
    if step.kind == "reopen":
        store.close()
        shared[SLOT_PHASE] = Phase.OPENING
        return reopen()
    if step.kind == "erase":
        assert step.prefix is not None
        store.purge(step.prefix)
    elif step.kind == "async":
        asyncio.run(store.abatch(_ops(step)))
    elif step.kind == "load":
        _load(store, step, embeddings)
    else:
        store.batch(_ops(step))
    return store


def _checkpoint_loop(path: str, shared: MutableSequence[int], seed: int) -> None:
    """Checkpoint the WAL at random intervals with every mode, on a connection of its own."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, timeout=0.05, isolation_level=None, check_same_thread=False)
    modes = ("PASSIVE", "FULL", "RESTART", "TRUNCATE")
    while True:
        time.sleep(rng.uniform(0.002, 0.02))
        shared[SLOT_CHECKPOINTING] = 1
        try:
            conn.execute(f"PRAGMA wal_checkpoint({rng.choice(modes)})").fetchall()
        except sqlite3.OperationalError:
            pass  # busy: the writer holds the lock; try again later
        finally:
            shared[SLOT_CHECKPOINTING] = 0


@dataclass(frozen=True, slots=True)
class WriterSpec:
    """What one writer process does: which store, which workload, where it acknowledges."""

    path: str
    corpus: str
    durability: Durability
    model: Model
    seed: int
    run: str
    log_path: str


def writer_main(spec: WriterSpec, shared: MutableSequence[int]) -> None:
    """Run workload steps on the store until killed, logging each acknowledged step's
    number to `spec.log_path` (fsynced before the next step starts)."""
    shared[SLOT_PHASE] = Phase.STARTING
    embeddings = PrecomputedEmbeddings(spec.corpus)
    log = os.open(spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    shared[SLOT_PHASE] = Phase.OPENING

    def reopen() -> FaissSqliteStore:
        return open_crash_store(spec.path, embeddings, spec.durability)

    store = reopen()
    threading.Thread(
        target=_checkpoint_loop, args=(spec.path, shared, spec.seed), daemon=True
    ).start()
    workload = Workload(spec.seed, embeddings.texts, spec.run)
    for step, _ in workload.steps(spec.model):
        if step.number >= _MAX_STEPS:
            break
        shared[SLOT_PHASE] = PHASE_OF_STEP.get(step.kind, Phase.WRITING)
        store = execute(store, step, reopen, shared, embeddings)
        shared[SLOT_PHASE] = Phase.ACKING
        os.write(log, f"{step.number}\n".encode())
        os.fsync(log)
        shared[SLOT_ACKED] += 1
    store.close()


def observer_main(path: str, corpus: str, durability: Durability, pipe: Connection) -> None:
    """Keep a store open on `path` across the writer's deaths; answer `"sync"` (search every
    user, so the FAISS caches replay the writer's log), `"verify"` (the store's
    `verify()` problems) and `"stop"`. Errors are sent back as `"error: ..."`."""
    embeddings = PrecomputedEmbeddings(corpus)
    store = open_crash_store(path, embeddings, durability)
    queries = embeddings.texts[:3]
    while True:
        command = pipe.recv()
        try:
            if command == "sync":
                store.batch(
                    [SearchOp((ROOT, user), query=q, limit=5) for user in USERS for q in queries]
                )
                pipe.send([])
            elif command == "verify":
                pipe.send(store.verify().problems)
            else:
                store.close()
                pipe.send([])
                return
        except Exception as exc:
            pipe.send([f"observer error: {exc!r}"])
