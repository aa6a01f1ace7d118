"""Reports of the store benchmark: JSON (everything), Markdown (tables) and a PNG plot.

Core pieces:
    - `summarize(report)`: ratios against the same-run baselines and the targets, met or not.
    - `write_store_report(report, out_dir, name)`: `<name>.json`, `<name>.md`, `<name>.png`.
    - `markdown_table`, `fmt`, `write_json`, `run_report`, `pyplot`, `save_figure`: shared
      by every benchmark's report.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hippograph.bench.measure import size_label

OURS = "faiss-sqlite"
BASELINE = "inmemory"
POSTGRES = "postgres"
FLOOR = "faiss-flat"


def fmt(value: float | None, digits: int = 2) -> str:
    """A number for a table: `—` for missing, thousands separators for large values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio such as `12.3×` (two significant digits below 1)."""
    if value is None:
        return "—"
    return f"{value:.2g}×" if value < 1 else f"{value:.1f}×"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    """Write `report` as indented JSON (NaN becomes null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    path.write_text(json.dumps(clean(report), indent=2) + "\n")


def run_report(
    benchmark: str,
    started: datetime,
    machine: dict[str, Any],
    config: Any,
    *,
    skip: Iterable[str] = ("out_dir", "workdir"),
    **body: Any,
) -> dict[str, Any]:
    """A benchmark's report: what ran, when, for how long, on what (the load average at
    the end added to `machine`), with which settings (a dataclass, paths as text, `skip`
    left out), then `body`."""
    machine["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    left_out = set(skip)
    return {
        "benchmark": benchmark,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": machine,
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(config).items()
            if k not in left_out
        },
        **body,
    }


def pyplot() -> Any:
    """`matplotlib.pyplot` on the non-interactive Agg backend (benchmarks run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Lay out `fig`, write it as a PNG and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def _value(report: dict[str, Any], backend: str, size: int, *path: str) -> float | None:
    """`results[backend, size][path…]` of a run that measured searches, else `None`."""
    for row in report["results"]:
        if row["backend"] == backend and row["size"] == size and row.get("search_ms"):
            value: Any = row
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            return float(value) if isinstance(value, (int, float)) else None
    return None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return numerator / denominator


_Measure = tuple[str, ...]
"""`(backend, key, subkey…)` of a value in the results, e.g. `(OURS, "search_ms", "p95")`."""

RATIOS: list[tuple[str, str, _Measure, _Measure]] = [
    (
        "search_p95_speedup_vs_inmemory",
        "search p95 speed-up vs InMemoryStore",
        (BASELINE, "search_ms", "p95"),
        (OURS, "search_ms", "p95"),
    ),
    (
        "put_speedup_vs_inmemory",
        "put speed-up vs InMemoryStore",
        (OURS, "put_per_s"),
        (BASELINE, "put_per_s"),
    ),
    (
        "get_p50_speedup_vs_inmemory",
        "get p50 speed-up vs InMemoryStore",
        (BASELINE, "get_ms", "p50"),
        (OURS, "get_ms", "p50"),
    ),
    (
        "search_p95_speedup_vs_postgres",
        "search p95 speed-up vs PostgresStore",
        (POSTGRES, "search_ms", "p95"),
        (OURS, "search_ms", "p95"),
    ),
    (
        "put_speedup_vs_postgres",
        "put speed-up vs PostgresStore",
        (OURS, "put_per_s"),
        (POSTGRES, "put_per_s"),
    ),
    (
        "search_p95_vs_faiss_flat",
        "search p95 / FAISS flat floor",
        (OURS, "search_ms", "p95"),
        (FLOOR, "search_ms", "p95"),
    ),
]
"""`(key, title, numerator, denominator)` of every ratio the report gives per size."""


def summarize(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ratios of our store against the baselines of the same run, and the targets."""
    ratios = []
    for size in report["config"]["sizes"]:
        if _value(report, OURS, size, "search_ms", "p95") is None:
            continue
        row: dict[str, Any] = {"size": size}
        for key, _, numerator, denominator in RATIOS:
            row[key] = _ratio(
                _value(report, numerator[0], size, *numerator[1:]),
                _value(report, denominator[0], size, *denominator[1:]),
            )
        ratios.append(row)
    return ratios, _targets(report, ratios)


def _targets(report: dict[str, Any], ratios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def ours(size: int, *path: str) -> float | None:
        return _value(report, OURS, size, *path)

    def ratio(size: int, key: str) -> float | None:
        return next((r[key] for r in ratios if r["size"] == size), None)

    checks: list[tuple[str, float | None, float, bool]] = [
        ("search p95 at 100k (ms)", ours(100_000, "search_ms", "p95"), 5.0, False),
        (
            "search p95 speed-up vs InMemoryStore at 100k",
            ratio(100_000, "search_p95_speedup_vs_inmemory"),
            10.0,
            True,
        ),
        ("bulk put at 100k (items/s, via batch)", ours(100_000, "put_per_s"), 20_000, True),
        ("search p95 at 1M (ms)", ours(1_000_000, "search_ms", "p95"), 30.0, False),
        ("open at 1M, from snapshot (s)", ours(1_000_000, "open_snapshot_s"), 10.0, False),
    ]
    return [
        {
            "target": name,
            "goal": (">= " if higher else "<= ") + fmt(goal),
            "measured": measured,
            "met": None if measured is None else (measured >= goal if higher else measured <= goal),
        }
        for name, measured, goal, higher in checks
    ]


def _results_table(report: dict[str, Any]) -> str:
    rows = []
    for r in sorted(report["results"], key=lambda r: (r["size"], r["backend"])):
        search, get = r.get("search_ms") or {}, r.get("get_ms") or {}
        rows.append(
            [
                size_label(r["size"]),
                r["backend"],
                r.get("index") or "—",
                fmt(r.get("put_per_s"), 0),
                fmt(search.get("p50")),
                fmt(search.get("p95")),
                fmt(search.get("p99")),
                fmt(get.get("p50"), 3),
                fmt(r.get("recall_at_10"), 3),
                fmt(r.get("open_rebuild_s")),
                fmt(r.get("open_snapshot_s")),
                fmt(r.get("memory_mb"), 0),
                fmt(r.get("disk_mb"), 0),
                "; ".join(r.get("notes") or []),
            ]
        )
    headers = [
        "size",
        "backend",
        "index",
        "put/s",
        "search p50 ms",
        "p95 ms",
        "p99 ms",
        "get p50 ms",
        "recall@10",
        "open, no snapshot s",
        "open snapshot s",
        "memory MiB",
        "disk MiB",
        "notes",
    ]
    return markdown_table(headers, rows)


def _ratios_table(ratios: list[dict[str, Any]]) -> str:
    """One column per ratio that some size has (baselines that did not run are left out)."""
    shown = [(key, title) for key, title, _, _ in RATIOS if any(r[key] for r in ratios)]
    return markdown_table(
        ["size", *(title for _, title in shown)],
        [[size_label(r["size"]), *(fmt_ratio(r[key]) for key, _ in shown)] for r in ratios],
    )


def store_markdown(report: dict[str, Any]) -> str:
    """The Markdown report: results, ratios, targets, the real-embedder run."""
    ratios, targets = summarize(report)
    machine, config = report["machine"], report["config"]
    parts = [
        f"# Store benchmark ({report['started']})",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, FAISS {machine['faiss']}; "
        f"load average at start {machine.get('load_average')} (shared machine: compare rows "
        "of the same run, not absolute numbers across runs).",
        f"Data: {config['vectors']} unit vectors ({config['dims']}-d), one namespace per run, "
        f"{config['queries']} queries (fewer for slow baselines), batches of "
        f"{config['batch_size']} puts; put/s excludes time inside the (pre-computed) embedder.",
        "## Results",
        _results_table(report),
        "## Ratios (same run)",
        _ratios_table(ratios),
        "## Targets",
        markdown_table(
            ["target", "goal", "measured", "met"],
            [
                [
                    t["target"],
                    t["goal"],
                    fmt(t["measured"]),
                    "not run" if t["met"] is None else ("yes" if t["met"] else "**no**"),
                ]
                for t in targets
            ],
        ),
    ]
    from hippograph.bench.tenant_report import tenant_markdown  # imports this module

    parts += tenant_markdown(report)
    real = report.get("real_embedder")
    if real:
        parts += [
            f"## Real embedder ({real['model']}, LoCoMo turns as memories, questions as queries)",
            markdown_table(
                [
                    "backend",
                    "texts",
                    "put/s end-to-end",
                    "put/s store only",
                    "embedding share",
                    "search p50 ms (e2e)",
                    "p95 ms (e2e)",
                    "search p95 ms store only",
                    "recall@10",
                ],
                [
                    [
                        r["backend"],
                        str(r["texts"]),
                        fmt(r["put_per_s_end_to_end"], 0),
                        fmt(r["put_per_s_store_only"], 0),
                        f"{r['embedding_share_of_put']:.0%}",
                        fmt(r["search_ms_end_to_end"]["p50"]),
                        fmt(r["search_ms_end_to_end"]["p95"]),
                        fmt(r["search_ms_store_only"]["p95"]),
                        fmt(r["recall_at_10"], 3),
                    ]
                    for r in real["runs"]
                ],
            ),
        ]
    return "\n\n".join(parts) + "\n"


def plot_store(report: dict[str, Any], path: Path) -> None:
    """Search p95, put throughput, memory and recall against size, one line per backend."""
    plt = pyplot()
    panels = [
        ("search p95 (ms)", lambda r: (r.get("search_ms") or {}).get("p95"), True),
        ("put throughput (items/s)", lambda r: r.get("put_per_s"), True),
        ("memory added (MiB)", lambda r: r.get("memory_mb"), True),
        ("recall@10 vs exact", lambda r: r.get("recall_at_10"), False),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    backends = sorted({r["backend"] for r in report["results"]})
    for ax, (title, value, log) in zip(axes.flat, panels, strict=True):
        for backend in backends:
            points = sorted(
                (r["size"], value(r))
                for r in report["results"]
                if r["backend"] == backend and value(r) is not None and value(r) == value(r)
            )
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=backend)
        ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(top=1.01)
        ax.set_title(title)
        ax.set_xlabel("items")
        ax.grid(True, which="both", alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"hippograph store benchmark — {report['started']}")
    save_figure(fig, path)


def write_store_report(report: dict[str, Any], out_dir: Path, name: str) -> None:
    """Add ratios and targets to `report`, then write `<name>.json`, `.md` and `.png`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report["ratios"], report["targets"] = summarize(report)
    write_json(report, out_dir / f"{name}.json")
    (out_dir / f"{name}.md").write_text(store_markdown(report))
    plot_store(report, out_dir / f"{name}.png")
    if report.get("tenants"):
        from hippograph.bench.tenant_report import plot_tenants  # imports this module

        plot_tenants(report, out_dir / f"{name}_tenants.png")
