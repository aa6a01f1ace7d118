"""Lock scope and tail latency: one user's searches while another user's index is rebuilt
or snapshotted, against the same user idle, in the same run.

User A (`user_size` memories) searches back to back on one thread the whole time, in three
kinds of period:

- `idle`: nothing else happens in the store (measured before and after, pooled);
- `rebuild`: user B (`rebuild_size` memories, no snapshot) is searched for the first time:
  B's group is read from SQLite (`B loading`) and its HNSW graph built in the background
  (`B graph build`);
- `snapshot`: user C (`snapshot_size` memories, exact index) is loaded (`C loading`) and
  its index snapshot written in the background (`C snapshot write`, one large payload).

Each period reports A's search latency p50 / p95 / p99 / max and its ratio to idle. The
two scenarios use two stores (the snapshot one keeps every group exact, so C is snapshotted
without first building a 1M-vector graph, which takes many minutes on two cores; the write
is the same size either way). Query embedding is served from pre-computed vectors and its
time taken out.

Core pieces: `ContentionConfig`, `run_contention_bench(config)` (writes
`<name>.json|.md|.png`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hippograph.bench.embedders import PrecomputedEmbeddings
from hippograph.bench.ingest import memory_value
from hippograph.bench.measure import (
    check_names,
    latency_ms,
    machine_info,
    progress,
    scratch_dir,
    size_label,
)
from hippograph.bench.report import (
    fmt,
    fmt_ratio,
    markdown_table,
    pyplot,
    run_report,
    save_figure,
    write_json,
)
from hippograph.bench.vectors import make_vectors

USER_A = ("memories", "user-a")
USER_B = ("memories", "user-b")
USER_C = ("memories", "user-c")
SCENARIOS = ("rebuild", "snapshot")
TARGET_RATIO = 2.0
_QUERIES = 200


@dataclass(slots=True)
class ContentionConfig:
    """What `run_contention_bench` runs.

    Attributes:
        user_size: Memories of user A, the one searching.
        rebuild_size: Memories of user B, whose HNSW graph is built.
        snapshot_size: Memories of user C, whose index snapshot is written.
        idle_seconds: Length of each idle period.
        scenarios: From `SCENARIOS`.
        dims: Vector dimension.
        out_dir: Where the report goes.
        name: Report file stem.
        workdir: Scratch space for the databases (several GB at 1M).
        seed: Seed for the vectors.
    """

    user_size: int = 10_000
    rebuild_size: int = 100_000
    snapshot_size: int = 1_000_000
    idle_seconds: float = 20.0
    scenarios: Sequence[str] = SCENARIOS
    dims: int = 384
    out_dir: Path = Path("benchmarks/results")
    name: str = "lock_scope"
    workdir: Path | None = None
    seed: int = 0


class _Searcher:
    """User A searching back to back; every search's start time and latency."""

    def __init__(self, store: Any, embed: PrecomputedEmbeddings) -> None:
        self.store = store
        self.embed = embed
        self.samples: list[tuple[float, float]] = []
        self._n = 0

    def search(self) -> None:
        query = f"query {self._n % _QUERIES}"
        self._n += 1
        embedded = self.embed.seconds
        started = time.perf_counter()
        hits = self.store.search(USER_A, query=query, limit=10)
        seconds = time.perf_counter() - started - (self.embed.seconds - embedded)
        if len(hits) != 10:
            raise RuntimeError(f"user A's search returned {len(hits)} results")
        self.samples.append((started, seconds))

    def run_for(self, seconds: float) -> tuple[float, float]:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.search()
        return start, time.perf_counter()

    def run_while(self, busy: Callable[[], bool]) -> None:
        while busy():
            self.search()

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.samples if start <= t < end]


def _fill(store: Any, namespace: tuple[str, ...], vectors: np.ndarray, offset: int) -> float:
    from hippograph.store.bulk import BulkItem

    started = time.perf_counter()
    with progress(len(vectors), f"load   {namespace[-1]} {size_label(len(vectors))}") as bar:
        done = [0]

        def report(written: int) -> None:
            bar(written - done[0])
            done[0] = written

        store.bulk_put(
            (
                BulkItem(namespace, f"m{i}", memory_value(offset + i), {"content": vectors[i]})
                for i in range(len(vectors))
            ),
            on_progress=report,
        )
    return time.perf_counter() - started


def _open(path: Path, embed: PrecomputedEmbeddings, dims: int, **policy: Any) -> Any:
    from hippograph.store import FaissSqliteStore, IndexPolicy

    return FaissSqliteStore(
        str(path),
        index={"dims": dims, "embed": embed, "fields": ["content"]},
        index_policy=IndexPolicy(**policy),
        hybrid=None,
    )


def _upkeep_busy(store: Any) -> Callable[[], bool]:
    """Whether the store's background index work is still going (benchmark-only access)."""
    upkeep = store._index._upkeep
    return lambda: not upkeep.wait_idle(0)


def _scenario(
    kind: str, directory: Path, config: ContentionConfig, documents: np.ndarray
) -> dict[str, Any]:
    """Run one scenario; `{periods: {name: samples}, events: {...}}`."""
    other_size = config.rebuild_size if kind == "rebuild" else config.snapshot_size
    other = USER_B if kind == "rebuild" else USER_C
    policy: dict[str, Any] = (
        {"snapshot_threshold": None}
        if kind == "rebuild"
        else {"hnsw_threshold": None, "snapshot_threshold": 20_000}
    )
    user, rest = documents[: config.user_size], documents[config.user_size :][:other_size]
    _, queries = make_vectors("embedding", 1, _QUERIES, config.dims, config.seed + 1)
    embed = PrecomputedEmbeddings(documents, queries)
    path = directory / f"{kind}.db"
    store = _open(path, embed, config.dims, **policy)
    events: dict[str, Any] = {"load_a_s": _fill(store, USER_A, user, 0)}
    events["load_other_s"] = _fill(store, other, rest, config.user_size)
    events["load_other_per_s"] = other_size / events["load_other_s"]
    store.close()  # nothing was searched: no index is loaded, no snapshot written

    store = _open(path, embed, config.dims, **policy)
    searcher = _Searcher(store, embed)
    for _ in range(50):
        searcher.search()  # A's group loaded and warm
    searcher.samples.clear()
    periods: dict[str, tuple[float, float]] = {"idle": searcher.run_for(config.idle_seconds)}
    label = "B" if kind == "rebuild" else "C"
    first: dict[str, float] = {}

    def first_search() -> None:
        started = time.perf_counter()
        store.search(other, query="query 0", limit=10)
        first.update(start=started, end=time.perf_counter())

    loader = threading.Thread(target=first_search)
    loader.start()
    searcher.run_while(loader.is_alive)
    loader.join()
    searcher.run_while(_upkeep_busy(store))
    done = time.perf_counter()
    periods[f"{label} loading"] = (first["start"], first["end"])
    second = "graph build" if kind == "rebuild" else "snapshot write"
    periods[f"{label} {second}"] = (first["end"], done)
    periods["idle after"] = searcher.run_for(config.idle_seconds)
    events["first_search_other_s"] = first["end"] - first["start"]
    events[f"{second.replace(' ', '_')}_s"] = done - first["end"]
    events["index_kinds"] = store.index_stats()
    snapshots = Path(f"{path}-index")
    events["snapshot_mb"] = (
        sum(p.stat().st_size for p in snapshots.glob("*.faiss")) / 2**20
        if snapshots.is_dir()
        else 0.0
    )
    store.close()
    samples = {name: searcher.between(*span) for name, span in periods.items()}
    samples["idle"] = samples["idle"] + samples.pop("idle after")
    return {"samples": samples, "events": events, "series": searcher.samples, "spans": periods}


def _summarize(samples: dict[str, list[float]]) -> dict[str, Any]:
    idle = latency_ms(samples["idle"])
    periods = {}
    for name, values in samples.items():
        stats = latency_ms(values)
        stats["max"] = max(values) * 1e3 if values else float("nan")
        stats["searches"] = len(values)
        stats["p99_vs_idle"] = stats["p99"] / idle["p99"] if idle["p99"] else float("nan")
        stats["p95_vs_idle"] = stats["p95"] / idle["p95"] if idle["p95"] else float("nan")
        stats["p50_vs_idle"] = stats["p50"] / idle["p50"] if idle["p50"] else float("nan")
        periods[name] = stats
    return periods


def contention_markdown(report: dict[str, Any]) -> str:
    """The Markdown report."""
    config, machine = report["config"], report["machine"]
    parts = [
        f"# Search latency while other users' indexes are rebuilt or snapshotted "
        f"({report['started']})",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, FAISS "
        f"{machine['faiss']}; load average {machine['load_average']} at start, "
        f"{machine.get('load_average_end')} at the end (a shared machine: periods of one "
        "scenario ran back to back and are compared with each other).",
        f"User A: {size_label(config['user_size'])} memories (exact index), searching "
        "back to back on one thread (k=10, pre-computed query vectors). Idle = "
        f"{config['idle_seconds']:.0f} s before and {config['idle_seconds']:.0f} s after "
        "the other user's work, pooled.",
    ]
    for kind, result in report["scenarios"].items():
        events = result["events"]
        rows = [
            [
                name,
                str(s["searches"]),
                fmt(s["p50"]),
                fmt(s["p95"]),
                fmt(s["p99"]),
                fmt(s["max"]),
                fmt_ratio(s["p50_vs_idle"]),
                fmt_ratio(s["p95_vs_idle"]),
                fmt_ratio(s["p99_vs_idle"]),
            ]
            for name, s in result["periods"].items()
        ]
        if kind == "rebuild":
            title = (
                f"## A while B's {size_label(config['rebuild_size'])}-vector group is "
                "loaded cold and its HNSW graph built"
            )
            detail = (
                f"B's first search answered in {fmt(events['first_search_other_s'])} s "
                "(exact, from SQLite); its graph was built in the background in "
                f"{fmt(events['graph_build_s'])} s (indexes after: {events['index_kinds']})."
            )
        else:
            title = (
                f"## A while C's {size_label(config['snapshot_size'])}-vector group is "
                "loaded and its snapshot written"
            )
            detail = (
                f"C's first search answered in {fmt(events['first_search_other_s'])} s; the "
                f"snapshot ({fmt(events['snapshot_mb'], 0)} MiB) was written in the "
                f"background in {fmt(events['snapshot_write_s'])} s."
            )
        event = "B graph build" if kind == "rebuild" else "C snapshot write"
        worst = result["periods"][event]["p99_vs_idle"]
        loading = result["periods"]["B loading" if kind == "rebuild" else "C loading"]
        parts += [
            title,
            markdown_table(
                [
                    "period",
                    "searches",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "max ms",
                    "p50 / idle",
                    "p95 / idle",
                    "p99 / idle",
                ],
                rows,
            ),
            detail,
            f"Target: A's p99 within {TARGET_RATIO:.0f}× idle during the {event[2:]} — "
            f"{fmt_ratio(worst)}: **{'met' if worst <= TARGET_RATIO else 'not met'}**. "
            f"While the group was read from SQLite (the other user's first search, on its "
            f"own thread: CPU work competing for the two cores) A's p99 was "
            f"{fmt_ratio(loading['p99_vs_idle'])} idle.",
        ]
    return "\n\n".join(parts) + "\n"


def plot_contention(
    report: dict[str, Any], timelines: dict[str, dict[str, Any]], path: Path
) -> None:
    """A's latency over time per scenario (dots), periods shaded with their p99.

    `timelines[scenario]` holds `series` (every search's start and seconds) and `spans`
    (period name → start, end), which the JSON report leaves out."""
    plt = pyplot()

    scenarios = report["scenarios"]
    fig, axes = plt.subplots(len(scenarios), 1, figsize=(10, 3.8 * len(scenarios)), squeeze=False)
    colors = ["#55A868", "#C44E52", "#8172B2", "#CCB974"]
    for ax, (kind, result) in zip(axes[:, 0], scenarios.items(), strict=True):
        series, spans = timelines[kind]["series"], timelines[kind]["spans"]
        t0 = series[0][0] if series else 0.0
        ax.scatter([t - t0 for t, _ in series], [s * 1e3 for _, s in series], s=2, color="black")
        for (name, (start, end)), color in zip(spans.items(), colors, strict=False):
            p99 = result["periods"][name if name != "idle after" else "idle"]["p99"]
            label = f"{name} (p99 {p99:.1f} ms)"
            ax.axvspan(start - t0, end - t0, alpha=0.15, color=color, label=label)
        ax.set_yscale("log")
        ax.set_ylabel("A's search latency (ms)")
        ax.set_xlabel("seconds")
        ax.set_title(f"{kind}: user A's searches while another user's index is worked on")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(True, alpha=0.3)
    save_figure(fig, path)


def run_contention_bench(config: ContentionConfig) -> dict[str, Any]:
    """Run the scenarios and write `<name>.json`, `.md` and `.png` into `out_dir`."""
    check_names(config.scenarios, SCENARIOS, "scenario")
    started = datetime.now(UTC)
    machine = machine_info()
    largest = max(
        config.rebuild_size if "rebuild" in config.scenarios else 0,
        config.snapshot_size if "snapshot" in config.scenarios else 0,
    )
    documents, _ = make_vectors(
        "embedding", config.user_size + largest, 1, config.dims, config.seed
    )
    scenarios: dict[str, Any] = {}
    timelines: dict[str, dict[str, Any]] = {}
    with scratch_dir(config.workdir, "hippograph-contention-") as directory:
        for kind in config.scenarios:
            result = _scenario(kind, directory, config, documents)
            scenarios[kind] = {
                "events": result["events"],
                "periods": _summarize(result["samples"]),
            }
            timelines[kind] = {"series": result["series"], "spans": result["spans"]}
    report = run_report("lock_scope", started, machine, config, scenarios=scenarios)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    write_json(report, config.out_dir / f"{config.name}.json")
    (config.out_dir / f"{config.name}.md").write_text(contention_markdown(report))
    plot_contention(report, timelines, config.out_dir / f"{config.name}.png")
    return report
