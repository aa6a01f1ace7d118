"""Crash durability: SIGKILL a writer at random moments and prove nothing was lost or torn.

Each kill point starts a writer process (`processes.writer_main`) on the same database,
lets it run, and kills it with SIGKILL — at a random moment, or aimed at a WAL checkpoint,
a close-and-reopen (where index snapshots are written) or an erasure (purge + VACUUM).
Then the harness reopens the store and checks:

    - every acknowledged step is there with its exact values, and the step in flight is
      there completely or not at all (the store equals one of two models);
    - every indexed item has exactly the vector the real embedder gives its text, and
      items put with `index=False` have none;
    - the newest history row of every item is the write that produced its value;
    - `FaissSqliteStore.verify()`: `PRAGMA integrity_check`, vectors, keyword rows and the
      FAISS indexes agree with the items — both in the freshly opened store and in an
      observer process that kept its indexes across every kill and caught up by log replay.

Core pieces: `CrashConfig`, `KillPoint`, `CrashResult` (`summary()` for the report) and
`run_crash_test`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from hippograph.store.codec import to_unit_vectors
from hippograph.store.connections import Durability
from tests.harness.reliability import processes
from tests.harness.reliability.corpus import PrecomputedEmbeddings
from tests.harness.reliability.processes import SLOT_ACKED, SLOT_CHECKPOINTING, SLOT_PHASE, Phase
from tests.harness.reliability.workload import Model, Workload, model_items, partial_models

TARGETS: dict[str, float] = {
    "random": 0.5,
    "checkpoint": 0.2,
    "reopen": 0.1,
    "erase": 0.1,
    "load": 0.1,
}
"""Where kills are aimed, and how often: anywhere, during a WAL checkpoint, during a
close-and-reopen (index snapshots), during an erasure (purge, VACUUM), during a bulk load
(`bulk_put`, between or inside its chunk transactions)."""
_AIM_TIMEOUT = 3.0
_POLL = 0.0002


@dataclass(frozen=True, slots=True)
class CrashConfig:
    """How to run the crash test.

    Attributes:
        directory: Where the database, the acknowledgement log and results go.
        corpus: The `.npz` of precomputed vectors (`corpus.precompute`).
        kill_points: How many times the writer is killed.
        seed: Seeds every writer's workload and every kill's timing.
        max_delay: Longest a writer runs before a random kill (seconds after it starts).
        durability: The store's `durability` ("full" or "normal").
        targets: Weights of the kill targets (see `TARGETS`).
    """

    directory: Path
    corpus: Path
    kill_points: int
    seed: int = 0
    max_delay: float = 0.5
    durability: Durability = "full"
    targets: dict[str, float] = field(default_factory=lambda: dict(TARGETS))


@dataclass(slots=True)
class KillPoint:
    """One kill and what the checks found."""

    number: int
    target: str
    phase: str
    checkpointing: bool
    acked: int
    in_flight: str
    """`"committed"`, `"rolled back"` or `"none"` (the step in flight changed nothing)."""
    items: int
    problems: list[str]
    seconds: float


@dataclass(slots=True)
class CrashResult:
    """Every kill point of a run."""

    config: CrashConfig
    points: list[KillPoint] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        """Every problem found, prefixed with its kill point."""
        return [f"kill {p.number} ({p.target}): {msg}" for p in self.points for msg in p.problems]

    def summary(self) -> dict[str, Any]:
        """Counts for the report: kills by target, by writer phase, in-flight outcomes."""
        return {
            "kill_points": len(self.points),
            "kill_points_with_problems": sum(1 for p in self.points if p.problems),
            "problems": self.problems[:20],
            "acknowledged_steps": sum(p.acked for p in self.points),
            "final_items": self.points[-1].items if self.points else 0,
            "by_target": dict(Counter(p.target for p in self.points)),
            "by_phase": dict(Counter(p.phase for p in self.points)),
            "during_checkpoint": sum(p.checkpointing for p in self.points),
            "in_flight": dict(Counter(_outcome_kind(p.in_flight) for p in self.points)),
            "seconds": round(self.seconds, 1),
            "seconds_per_kill_point": round(self.seconds / max(1, len(self.points)), 3),
            "durability": self.config.durability,
            "seed": self.config.seed,
            "embeddings": "precomputed all-MiniLM-L6-v2 int8 vectors of the corpus",
        }


def _outcome_kind(outcome: str) -> str:
    """`"chunks N"` (a bulk load cut between chunks) counted as one kind of outcome."""
    return "some chunks committed" if outcome.startswith("chunks ") else outcome


def run_crash_test(
    config: CrashConfig, progress: Callable[[KillPoint], None] | None = None
) -> CrashResult:
    """Kill a writer `config.kill_points` times and check the store after each kill."""
    config.directory.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([processes.__name__])
    harness = _Harness(config, ctx)
    result = CrashResult(config)
    model: Model = {}
    observer = ctx.Process(
        target=processes.observer_main,
        args=(str(harness.database), str(config.corpus), config.durability, harness.pipe[1]),
        daemon=True,
    )
    observer.start()
    started = time.monotonic()
    try:
        for number in range(config.kill_points):
            point, model = harness.kill_point(number, model)
            result.points.append(point)
            if progress is not None:
                progress(point)
        harness.pipe[0].send("stop")
        harness.pipe[0].recv()
    finally:
        observer.join(timeout=30)
        if observer.is_alive():
            observer.kill()
    result.seconds = time.monotonic() - started
    return result


class _Harness:
    """The state kill points share: the database, the observer's pipe, the expected vectors."""

    def __init__(self, config: CrashConfig, ctx: Any) -> None:
        self.config = config
        self.ctx = ctx
        self.database = config.directory / "crash.db"
        self.pipe: tuple[Connection, Connection] = ctx.Pipe()
        self.rng = random.Random(config.seed)
        embeddings = PrecomputedEmbeddings(config.corpus)
        self.texts = embeddings.texts
        self.expected = {
            text: to_unit_vectors([embeddings.vector(text)], embeddings.dims, 1)[0]
            for text in self.texts
        }

    def kill_point(self, number: int, model: Model) -> tuple[KillPoint, Model]:
        """Start a writer, kill it, check the store; returns the result and the new model."""
        started = time.monotonic()
        config, observer = self.config, self.pipe[0]
        spec = processes.WriterSpec(
            path=str(self.database),
            corpus=str(config.corpus),
            durability=config.durability,
            model=model,
            seed=config.seed * 1_000_003 + number,
            run=f"p{number}",
            log_path=str(config.directory / "acked.log"),
        )
        Path(spec.log_path).unlink(missing_ok=True)
        shared = self.ctx.RawArray("i", processes.SLOTS)
        writer = self.ctx.Process(target=processes.writer_main, args=(spec, shared), daemon=True)
        target = self.rng.choices(list(config.targets), list(config.targets.values()))[0]
        delay = self.rng.uniform(0.0, config.max_delay)
        writer.start()
        time.sleep(min(delay, self.rng.uniform(0.0, 0.1)))
        observer.send("sync")  # the observer replays the log while the writer runs
        _wait_for(target, shared, writer, delay)
        phase = Phase(shared[SLOT_PHASE]).name.lower()
        checkpointing = bool(shared[SLOT_CHECKPOINTING])
        if writer.pid is not None:
            os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        problems = [] if writer.exitcode == -9 else [f"writer exited by itself ({writer.exitcode})"]
        problems += observer.recv()
        acked = _acknowledged(Path(spec.log_path))
        if len(acked) not in (shared[SLOT_ACKED], shared[SLOT_ACKED] + 1):
            problems.append(f"log holds {len(acked)} steps, writer counted {shared[SLOT_ACKED]}")
        steps = Workload(spec.seed, self.texts, spec.run).steps(model)
        before = model
        for n in acked:
            step, before = next(steps)
            if step.number != n:
                problems.append(f"acknowledgement log out of order: {n} after {step.number}")
        in_flight, after = next(steps)
        found, outcome, check = check_store(
            self.database,
            config,
            before,
            after,
            self.expected,
            partial=partial_models(before, in_flight),
        )
        problems += check
        observer.send("verify")
        problems += [f"observer: {p}" for p in observer.recv()]
        point = KillPoint(
            number=number,
            target=target,
            phase=phase,
            checkpointing=checkpointing,
            acked=len(acked),
            in_flight=outcome,
            items=len(found),
            problems=problems,
            seconds=time.monotonic() - started,
        )
        return point, _model_after(outcome, before, after, partial_models(before, in_flight))


def _model_after(outcome: str, before: Model, after: Model, partial: list[Model]) -> Model:
    """What the store holds after a kill point, by the outcome `check_store` found."""
    if outcome == "committed":
        return after
    if outcome.startswith("chunks "):
        return partial[int(outcome.split()[1]) - 1]
    return before


def _wait_for(target: str, shared: Any, writer: Any, delay: float) -> None:
    """Return at the moment to kill: `delay` after the writer starts opening the store for a
    random kill (a kill during interpreter start-up tests nothing), a fifth of `delay` into
    a bulk load (so kills land between and inside its chunks), else when the writer enters
    the aimed phase (or `_AIM_TIMEOUT` passed)."""
    deadline = time.monotonic() + _AIM_TIMEOUT
    if target == "random":
        while (
            shared[SLOT_PHASE] == Phase.STARTING
            and writer.is_alive()
            and time.monotonic() < deadline
        ):
            time.sleep(_POLL)
        time.sleep(delay)
        return
    opened = False
    while time.monotonic() < deadline and writer.is_alive():
        phase = shared[SLOT_PHASE]
        opened = opened or phase == Phase.WRITING
        if target == "load" and phase == Phase.LOADING:
            time.sleep(delay / 5)
            return
        if (
            (target == "checkpoint" and shared[SLOT_CHECKPOINTING])
            or (target == "erase" and phase == Phase.ERASING)
            or (target == "reopen" and opened and phase in (Phase.CLOSING, Phase.OPENING))
        ):
            return
        time.sleep(_POLL)


def _acknowledged(path: Path) -> list[int]:
    """Step numbers in the acknowledgement log (a torn last line is not an acknowledgement)."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline was never fully written
    return [int(line) for line in complete if line]


def check_store(
    database: Path,
    config: CrashConfig,
    before: Model,
    after: Model,
    expected: dict[str, np.ndarray],
    *,
    partial: list[Model] | None = None,
) -> tuple[dict, str, list[str]]:
    """Reopen the store and compare it with the allowed models: `before` (the acknowledged
    steps), `after` (plus the step in flight) and, for a bulk load in flight, `partial`
    (plus its first chunks: each chunk is a transaction of its own).

    Returns:
        The items found, the outcome of the step in flight (`"committed"`, `"rolled back"`,
        `"chunks N"` (its first N chunks), `"none"` or `"torn"`) and every problem found.
    """
    embeddings = PrecomputedEmbeddings(config.corpus)
    problems: list[str] = []
    with processes.open_crash_store(database, embeddings, config.durability) as store:
        problems += store.verify().problems
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        found = {
            (prefix, key): json.loads(value)
            for prefix, key, value in conn.execute("SELECT prefix, key, value FROM items")
        }
        allowed_before, allowed_after = model_items(before), model_items(after)
        chunks = [n for n, m in enumerate(partial or [], 1) if model_items(m) == found]
        if found == allowed_before:
            outcome, model = ("none" if before == after else "rolled back"), before
        elif found == allowed_after:
            outcome, model = "committed", after
        elif chunks:
            outcome, model = f"chunks {chunks[0]}", (partial or [])[chunks[0] - 1]
        else:
            return found, "torn", [*problems, _difference(found, allowed_before, allowed_after)]
        problems += _check_vectors(conn, model, expected)
        problems += _check_history(conn, found)
    finally:
        conn.close()
    return found, outcome, problems


def _difference(found: dict, before: dict, after: dict) -> str:
    def describe(wanted: dict) -> str:
        missing = sorted(set(wanted) - set(found))[:3]
        extra = sorted(set(found) - set(wanted))[:3]
        changed = sorted(k for k in set(wanted) & set(found) if wanted[k] != found[k])[:3]
        return f"missing {missing}, unexpected {extra}, changed {changed}"

    return (
        "the store matches neither the acknowledged state nor it plus the step in flight: "
        f"vs acknowledged: {describe(before)}; vs with the step in flight: {describe(after)}"
    )


def _check_vectors(
    conn: sqlite3.Connection, model: Model, expected: dict[str, np.ndarray]
) -> list[str]:
    rows: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
    for prefix, key, name, blob in conn.execute(
        "SELECT i.prefix, i.key, v.field, v.blob FROM vectors v JOIN items i ON i.id = v.item_id"
    ):
        rows.setdefault((prefix, key), []).append((name, blob))
    problems = []
    for (namespace, key), (value, indexed) in model.items():
        found = rows.get((".".join(namespace), key), [])
        if not indexed:
            if found:
                problems.append(f"{namespace}/{key} was put with index=False but has vectors")
            continue
        want = expected[value["content"]].tobytes()
        if [name for name, _ in found] != ["content"] or found[0][1] != want:
            problems.append(f"{namespace}/{key}: stored vector is not the one of its content")
    return problems[:10]


def _check_history(conn: sqlite3.Connection, found: dict) -> list[str]:
    latest: dict[tuple[str, str], tuple[str, str | None]] = {}
    for prefix, key, op, new in conn.execute(
        "SELECT prefix, key, op, new FROM history WHERE prefix != '' ORDER BY id"
    ):
        latest[(prefix, key)] = (op, new)
    problems = []
    for item, value in found.items():
        op, new = latest.get(item, ("none", None))
        if op not in ("ADD", "UPDATE") or new is None or json.loads(new) != value:
            problems.append(f"{item}: newest history row ({op}) is not the write of its value")
    for item, (op, _) in latest.items():
        if item not in found and op not in ("DELETE", "EXPIRE"):
            problems.append(f"{item}: gone, but its newest history row is {op}")
    return problems[:10]


def write_report(result: CrashResult, json_path: Path, markdown_path: Path) -> dict[str, Any]:
    """Write the run's summary as JSON and Markdown; returns the summary."""
    summary = result.summary()
    summary["config"] = {
        k: str(v) if isinstance(v, Path) else v for k, v in asdict(result.config).items()
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        "# Crash durability",
        "",
        f"{summary['kill_points']} SIGKILLs of a writer process, "
        f"{summary['kill_points_with_problems']} with a problem; "
        f"{summary['acknowledged_steps']:,} acknowledged steps checked; "
        f"durability `{summary['durability']}`; {summary['seconds']} s.",
        "",
        "| kills aimed at | count |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in sorted(summary["by_target"].items())),
        "",
        "| writer was | kills |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in sorted(summary["by_phase"].items())),
        f"| (a WAL checkpoint was running) | {summary['during_checkpoint']} |",
        "",
        "| step in flight at the kill | kills |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in sorted(summary["in_flight"].items())),
        "",
        f"Vectors: {summary['embeddings']}.",
    ]
    markdown_path.write_text("\n".join(lines) + "\n")
    return summary
