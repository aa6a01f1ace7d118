"""Measuring helpers shared by the benchmarks: latency percentiles, memory, disk, sizes, progress.

Core pieces:
    - `latency_ms`: p50 / p95 / p99 / mean of timings, in milliseconds.
    - `anon_rss_mb` / `disk_mb`: memory (anonymous resident pages) and bytes on disk.
    - `parse_sizes` / `size_label`: `"1k,10k,1M"` ↔ `[1000, 10000, 1000000]`.
    - `progress`: a rich progress bar for long loops.
    - `call`: run a measurement in a fresh process.
    - `scratch_dir` / `machine_info`: a temporary directory; what the run ran on.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000}
T = TypeVar("T")


def call(func: Callable[..., T], *args: object, isolate: bool) -> T:
    """`func(*args)`, in a fresh (spawned) process when `isolate`, so that what it measures
    — memory above all — is its own and not left over from earlier runs."""
    if not isolate:
        return func(*args)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """`{"p50", "p95", "p99", "mean"}` of `seconds`, in milliseconds (NaN when empty)."""
    if not len(seconds):
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "mean": math.nan}
    import numpy as np  # here, so that parsing sizes for the CLI does not load numpy

    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(ms.mean())}


def anon_rss_mb() -> float:
    """Anonymous resident memory of this process in MiB (Linux; NaN elsewhere).

    Anonymous pages are what a process allocates (indexes, Python objects), without the
    file pages it maps (SQLite's mmap, input arrays loaded with `mmap_mode`).
    """
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return math.nan
    match = re.search(r"^RssAnon:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else math.nan


def disk_mb(path: Path) -> float:
    """Bytes of the files under `path` (or of the file `path`), in MiB."""
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def parse_size(text: str) -> int:
    """`"300"`, `"10k"`, `"1M"` → 300, 10_000, 1_000_000.

    Raises:
        ValueError: not a positive count with an optional k/M suffix.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 300, 10k, 1M)")
    value = round(float(match.group(1)) * _SUFFIXES[match.group(2).lower()])
    if value < 1:
        raise ValueError(f"size must be at least 1, got {text!r}")
    return value


def check_names(names: Sequence[str], available: Sequence[str], what: str) -> list[str]:
    """`names` as a list, if each is one of `available`.

    Raises:
        ValueError: naming the unknown ones and what is available.
    """
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(
            f"unknown {what}(s) {', '.join(unknown)}; available: {', '.join(available)}"
        )
    return list(names)


def parse_sizes(text: str) -> list[int]:
    """Comma-separated sizes, e.g. `"1k,10k,100k,1M"`."""
    return [parse_size(part) for part in text.split(",") if part.strip()]


def size_label(n: int) -> str:
    """1_000_000 → "1M", 10_000 → "10k", 300 → "300"."""
    for suffix, factor in (("M", 1_000_000), ("k", 1_000)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


class Advance(Protocol):
    """Something to report progress to."""

    def __call__(self, steps: int = 1) -> None:
        """Record `steps` more units of work done."""


@contextmanager
def progress(total: int, description: str) -> Iterator[Advance]:
    """A progress bar for `total` steps; yields `advance(steps=1)`."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(steps: int = 1) -> None:
            bar.advance(task, steps)

        yield advance


@contextmanager
def scratch_dir(parent: Path | None, prefix: str) -> Iterator[Path]:
    """A fresh temporary directory under `parent` (the system's by default), removed after."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def machine_info() -> dict[str, Any]:
    """CPUs, Python, platform, FAISS version and load average, for a report's header."""
    import faiss

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "faiss": faiss.__version__,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
