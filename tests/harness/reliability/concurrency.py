"""Concurrency: threads, asyncio tasks and processes hammer one store; every read is checked.

Each worker owns keys no one else writes, in namespaces it shares with others (so FAISS
groups and SQLite pages are contended), and mixes writes and reads:

    - counters `c-<worker>-<i>`: puts with ever-increasing `version`;
    - pairs `p-<worker>-<n>-a|b`: both keys written (or updated) in one batch with the same
      version — a batch that reads both must see equal versions;
    - tombstones `t-<worker>-<n>`: put once, deleted once, never written again — no read
      that starts after the delete returned may see them;
    - reads of anyone's keys: batched gets of a pair, gets of counters, semantic searches
      (with and without filters), namespace listings.

Every write's invocation and acknowledgement time (CLOCK_MONOTONIC, shared by processes)
and every read's start, end and observations are recorded; `check` then proves each read
consistent with the acknowledged history: nothing older than what was acknowledged before
the read began, nothing not yet written when it ended, nothing deleted, pairs never torn,
and each worker's reads of a key never going back in time. Any exception a store call
raises is an error — `database is locked` included.

Core pieces: `Worker` (one actor's logic, shared by the sync and async loops), `run_sync`
/ `run_async` / `process_main`, `Events`, `check`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore, GetOp, ListNamespacesOp, Op, PutOp, SearchOp

ROOT = "conc"
USERS = ("u0", "u1", "u2")
_COUNTERS = 6


@dataclass(slots=True)
class Events:
    """What one worker did: acknowledged writes, reads with observations, errors, counts."""

    worker: str
    writes: list[tuple[str, int | None, float, float]] = field(default_factory=list)
    """`(key, version or None for a delete, invoked at, acknowledged at)`."""
    reads: list[tuple[str, float, float, list[tuple[str, int | None]]]] = field(
        default_factory=list
    )
    """`(kind, started, ended, [(key, version or None)])`; kind "pair" / "get" / "search"."""
    errors: list[str] = field(default_factory=list)
    ops: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (processes send their events back this way)."""
        return {
            "worker": self.worker,
            "writes": self.writes,
            "reads": self.reads,
            "errors": self.errors,
            "ops": dict(self.ops),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Events:
        """Inverse of `to_json`."""
        events = cls(data["worker"], errors=list(data["errors"]))
        events.writes = [tuple(w) for w in data["writes"]]
        events.reads = [(k, s, e, [tuple(o) for o in obs]) for k, s, e, obs in data["reads"]]
        events.ops.update(data["ops"])
        return events


@dataclass(slots=True)
class _Planned:
    kind: str
    ops: list[Op]
    writes: list[tuple[str, int | None]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def _namespace(key: str) -> tuple[str, str]:
    return (ROOT, USERS[sum(map(ord, key)) % len(USERS)])


class Worker:
    """One actor: plans its next batch and records what came back (no I/O of its own).

    Args:
        name: Unique among the workers of a run (keys are named after it).
        peers: Names of every worker (reads target anyone's keys).
        texts: Contents to write and queries to search with.
        seed: Seeds its choices.
    """

    def __init__(self, name: str, peers: list[str], texts: list[str], seed: int) -> None:
        self.name = name
        self.peers = peers
        self.texts = texts
        self.rng = random.Random(seed)
        self.events = Events(name)
        self.version = 0
        self.pairs = 0
        self.tombstones: list[str] = []
        self.next_tombstone = 0

    def _put(self, key: str, version: int) -> PutOp:
        value = {
            "content": self.rng.choice(self.texts),
            "version": version,
            "owner": self.name,
        }
        return PutOp(_namespace(key), key, value)

    def plan(self) -> _Planned:
        """The next batch to run."""
        roll = self.rng.random()
        self.version += 1
        v = self.version
        if roll < 0.2:
            key = f"c-{self.name}-{self.rng.randrange(_COUNTERS)}"
            return _Planned("put", [self._put(key, v)], [(key, v)])
        if roll < 0.32:
            n = self.rng.randrange(self.pairs + 1)
            self.pairs = max(self.pairs, n + 1)
            a, b = f"p-{self.name}-{n}-a", f"p-{self.name}-{n}-b"
            return _Planned("pair-put", [self._put(a, v), self._put(b, v)], [(a, v), (b, v)])
        if roll < 0.4:
            key = f"t-{self.name}-{self.next_tombstone}"
            self.next_tombstone += 1
            self.tombstones.append(key)
            return _Planned("put", [self._put(key, v)], [(key, v)])
        if roll < 0.48 and self.tombstones:
            key = self.tombstones.pop(self.rng.randrange(len(self.tombstones)))
            return _Planned("delete", [PutOp(_namespace(key), key, None)], [(key, None)])
        return self._plan_read()

    def _plan_read(self) -> _Planned:
        peer = self.rng.choice(self.peers)
        roll = self.rng.random()
        if roll < 0.3:
            n = self.rng.randrange(8)
            keys = [f"p-{peer}-{n}-a", f"p-{peer}-{n}-b"]
            return _Planned("pair", [GetOp(_namespace(k), k) for k in keys], keys=keys)
        if roll < 0.5:
            keys = [f"c-{peer}-{i}" for i in range(_COUNTERS)] + [
                f"t-{peer}-{self.rng.randrange(max(1, self.next_tombstone))}"
            ]
            return _Planned("get", [GetOp(_namespace(k), k) for k in keys], keys=keys)
        if roll < 0.95:
            user = self.rng.choice(USERS)
            query = self.rng.choice(self.texts)
            filter = {"owner": peer} if self.rng.random() < 0.3 else None
            op = SearchOp((ROOT, user), filter=filter, limit=10, query=query)
            return _Planned("search", [op])
        return _Planned("list", [ListNamespacesOp(limit=100)])

    def record(self, planned: _Planned, results: list[Any], started: float, ended: float) -> None:
        """Note the outcome of `planned`, run from `started` to `ended`."""
        self.events.ops[planned.kind] += 1
        if planned.writes:
            for key, version in planned.writes:
                self.events.writes.append((key, version, started, ended))
            return
        if planned.kind in ("pair", "get"):
            seen = [
                (key, None if item is None else int(item.value["version"]))
                for key, item in zip(planned.keys, results, strict=True)
            ]
            self.events.reads.append((planned.kind, started, ended, seen))
        elif planned.kind == "search":
            seen = [(item.key, int(item.value["version"])) for item in results[0]]
            self.events.reads.append(("search", started, ended, seen))

    def error(self, exc: BaseException) -> None:
        """Note an exception that escaped a store call."""
        self.events.errors.append(f"{type(exc).__name__}: {exc}")


def run_sync(store: BaseStore, worker: Worker, deadline: float) -> Events:
    """Run `worker`'s batches with `store.batch` until `deadline` (monotonic seconds)."""
    while time.monotonic() < deadline:
        planned = worker.plan()
        started = time.monotonic()
        try:
            results = store.batch(planned.ops)
        except Exception as exc:
            worker.error(exc)
            continue
        worker.record(planned, results, started, time.monotonic())
    return worker.events


async def run_async(store: BaseStore, worker: Worker, deadline: float) -> Events:
    """Async twin of `run_sync`, with `store.abatch`."""
    while time.monotonic() < deadline:
        planned = worker.plan()
        started = time.monotonic()
        try:
            results = await store.abatch(planned.ops)
        except Exception as exc:
            worker.error(exc)
            continue
        worker.record(planned, results, started, time.monotonic())
    return worker.events


def run_tasks(store: BaseStore, workers: list[Worker], deadline: float) -> list[Events]:
    """Run `workers` as concurrent asyncio tasks on one event loop (in this thread)."""

    async def main() -> list[Events]:
        return list(await asyncio.gather(*(run_async(store, w, deadline) for w in workers)))

    return asyncio.run(main())


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """What a worker process does and where it reports."""

    open_store: Any
    """A picklable callable returning the store (opened in the process)."""
    worker: str
    peers: list[str]
    texts: list[str]
    seed: int
    deadline: float
    report: str


def process_main(spec: ProcessSpec) -> None:
    """Open the store, run one worker until the deadline, write its events to `spec.report`."""
    store = spec.open_store()
    worker = Worker(spec.worker, spec.peers, spec.texts, spec.seed)
    try:
        events = run_sync(store, worker, spec.deadline)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    Path(spec.report).write_text(json.dumps(events.to_json()))


@dataclass(slots=True)
class Verdict:
    """What `check` found across every worker's events."""

    reads: int = 0
    writes: int = 0
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        """Record a violation (the first 50 are kept)."""
        if len(self.violations) < 50:
            self.violations.append(message)


@dataclass(frozen=True, slots=True)
class _Read:
    worker: str
    kind: str
    started: float
    ended: float


class _History:
    """The acknowledged writes of one key, in acknowledgement order."""

    def __init__(self, entries: list[tuple[float, float, int | None]]) -> None:
        self.entries = sorted(entries)  # (acknowledged, invoked, version)
        self.times = [entry[0] for entry in self.entries]

    def before(self, moment: float) -> tuple[bool, int | None]:
        """Whether a write was acknowledged before `moment`, and the version of the last."""
        n = bisect_left(self.times, moment)
        return (n > 0, self.entries[n - 1][2] if n else None)

    def invoked_by(self, moment: float) -> set[int | None]:
        """Versions whose write had started by `moment`."""
        return {version for _, invoked, version in self.entries if invoked <= moment}


def check(all_events: list[Events]) -> Verdict:
    """Prove every read consistent with the acknowledged writes (see the module docstring)."""
    verdict = Verdict()
    entries: dict[str, list[tuple[float, float, int | None]]] = defaultdict(list)
    for events in all_events:
        verdict.errors += [f"{events.worker}: {e}" for e in events.errors]
        for key, version, invoked, acked in events.writes:
            entries[key].append((acked, invoked, version))
            verdict.writes += 1
    histories = {key: _History(found) for key, found in entries.items()}
    empty = _History([])
    for events in all_events:
        latest: dict[str, int] = {}
        for kind, started, ended, seen in events.reads:
            verdict.reads += 1
            read = _Read(events.worker, kind, started, ended)
            if kind == "pair" and seen[0][1] != seen[1][1]:
                verdict.add(f"{events.worker}: torn pair {seen}")
            for key, version in seen:
                _check_observation(verdict, read, key, version, histories.get(key, empty))
                if version is not None:
                    if version < latest.get(key, 0):
                        verdict.add(f"{events.worker}: {key} went back to v{version}")
                    latest[key] = max(latest.get(key, 0), version)
    return verdict


def _check_observation(
    verdict: Verdict, read: _Read, key: str, version: int | None, history: _History
) -> None:
    acknowledged, floor = history.before(read.started)
    where = f"{read.worker}: {read.kind}"
    if version is None:
        # A delete already under way when the read ended may have committed before it.
        deleting = None in history.invoked_by(read.ended)
        if read.kind != "search" and acknowledged and floor is not None and not deleting:
            verdict.add(f"{where} missed {key}, though v{floor} was acknowledged before")
        return
    if acknowledged and floor is None:
        verdict.add(f"{where} returned {key} v{version} after its delete returned")
    elif floor is not None and version < floor:
        verdict.add(f"{where} saw {key} v{version}, v{floor} acknowledged before")
    if version not in history.invoked_by(read.ended):
        verdict.add(f"{where} saw {key} v{version}, never written before it ended")
