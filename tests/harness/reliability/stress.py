"""Run the concurrency workers on one store file: threads, asyncio tasks and processes at once.

Core pieces:
    - `StressConfig`: how many sync threads, event-loop threads (each running several
      tasks) and processes, and for how long.
    - `run_stress`: start them all on one database, collect every worker's events, check
      them (`concurrency.check`) and the store (`verify()`); returns a `StressResult`.
    - `open_stress_store`: the store every worker opens (picklable, for processes).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hippograph.store import FaissSqliteStore
from tests.harness.reliability import concurrency
from tests.harness.reliability.concurrency import Events, ProcessSpec, Verdict, Worker
from tests.harness.reliability.corpus import PrecomputedEmbeddings


def open_stress_store(path: str, corpus: str) -> FaissSqliteStore:
    """The store under test: hybrid search on, `content` embedded (precomputed vectors)."""
    embeddings = PrecomputedEmbeddings(corpus)
    return FaissSqliteStore(
        path,
        index={"dims": embeddings.dims, "embed": embeddings, "fields": ["content"]},
        hybrid=True,
    )


@dataclass(frozen=True, slots=True)
class StressConfig:
    """How to run the stress test.

    Attributes:
        directory: Where the database and the processes' reports go.
        corpus: The `.npz` of precomputed vectors (`corpus.precompute`).
        seconds: How long every worker runs.
        threads: Threads calling `store.batch`.
        loops: Threads each running an event loop of `tasks_per_loop` tasks on `abatch`.
        tasks_per_loop: Concurrent asyncio tasks per loop thread.
        processes: Worker processes, each with a store of its own on the same file.
        seed: Seeds every worker.
    """

    directory: Path
    corpus: Path
    seconds: float = 10.0
    threads: int = 6
    loops: int = 2
    tasks_per_loop: int = 2
    processes: int = 2
    seed: int = 0


@dataclass(slots=True)
class StressResult:
    """Every worker's events, the verdict on them, and the store's own check."""

    config: StressConfig
    events: list[Events] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)
    store_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def operations(self) -> int:
        """Store calls (batches) made by all workers."""
        return sum(sum(e.ops.values()) for e in self.events)

    def summary(self) -> dict[str, Any]:
        """Counts and rates for the report."""
        kinds: Counter[str] = Counter()
        for events in self.events:
            kinds.update(events.ops)
        c = self.config
        return {
            "threads": c.threads + c.loops,
            "sync_threads": c.threads,
            "event_loop_threads": c.loops,
            "async_tasks": c.loops * c.tasks_per_loop,
            "processes": c.processes,
            "seconds": round(self.seconds, 2),
            "operations": self.operations,
            "operations_per_second": round(self.operations / max(self.seconds, 1e-9), 1),
            "by_kind": dict(kinds),
            "reads_checked": self.verdict.reads,
            "writes_acknowledged": self.verdict.writes,
            "errors": len(self.verdict.errors),
            "error_samples": self.verdict.errors[:10],
            "violations": self.verdict.violations[:20],
            "store_problems": self.store_problems[:20],
        }


def run_stress(config: StressConfig) -> StressResult:
    """Run every worker on one database for `config.seconds`; check what they saw."""
    config.directory.mkdir(parents=True, exist_ok=True)
    path = str(config.directory / "stress.db")
    opener = functools.partial(open_stress_store, path, str(config.corpus))
    texts = PrecomputedEmbeddings(config.corpus).texts
    names = [f"t{n}" for n in range(config.threads)]
    names += [f"a{n}-{m}" for n in range(config.loops) for m in range(config.tasks_per_loop)]
    names += [f"p{n}" for n in range(config.processes)]
    workers = {
        name: Worker(name, names, texts, config.seed * 7919 + i) for i, name in enumerate(names)
    }
    store = opener()
    store.setup()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([concurrency.__name__, __name__])
    results: list[Events] = []
    lock = threading.Lock()

    def collect(events: list[Events]) -> None:
        with lock:
            results.extend(events)

    started = time.monotonic()
    deadline = started + config.seconds + 0.5 * bool(config.processes)
    processes = []
    for n in range(config.processes):
        spec = ProcessSpec(
            opener,
            f"p{n}",
            names,
            texts,
            config.seed * 7919 + len(names) + n,
            deadline,
            str(config.directory / f"p{n}.json"),
        )
        process = ctx.Process(target=concurrency.process_main, args=(spec,), daemon=True)
        process.start()
        processes.append(process)
    threads = [
        threading.Thread(
            target=lambda w=workers[f"t{n}"]: collect([concurrency.run_sync(store, w, deadline)])
        )
        for n in range(config.threads)
    ]
    threads += [
        threading.Thread(
            target=lambda n=n: collect(
                concurrency.run_tasks(
                    store,
                    [workers[f"a{n}-{m}"] for m in range(config.tasks_per_loop)],
                    deadline,
                )
            )
        )
        for n in range(config.loops)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, process in enumerate(processes):
        process.join(timeout=max(60.0, config.seconds * 3))
        report = config.directory / f"p{n}.json"
        if process.exitcode != 0 or not report.exists():
            results.append(Events(f"p{n}", errors=[f"process exited with {process.exitcode}"]))
        else:
            results.append(Events.from_json(json.loads(report.read_text())))
    result = StressResult(config, results, concurrency.check(results), seconds=deadline - started)
    result.store_problems = store.verify().problems
    store.close()
    return result
