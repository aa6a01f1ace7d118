"""Crash durability at scale: 1,000 SIGKILLs of a writer process, each followed by full checks.

The harness is `tests.harness.reliability.crash` (the CI test `tests/reliability/test_crash.py`
runs the same with 60 kills). Each kill point starts a writer on one database file, kills
it with SIGKILL — at a random moment or aimed at a WAL checkpoint, a close-and-reopen or an
erasure — then reopens the store and checks every acknowledged step, the all-or-nothing
step in flight, vectors, history, FTS rows, FAISS indexes (fresh and in an observer process
that lives across kills) and `PRAGMA integrity_check`.

Vectors: the real local MiniLM embeds the corpus once; writers serve those vectors from a
file (see `tests.harness.reliability.corpus` for why). Writes
`benchmarks/results/crash/crash_durability.json` and `.md`. Run it `nice`d: it keeps a core busy.

    python -m benchmarks.crash_durability [--kill-points 1000] [--seed 1] [--durability full]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console
from tqdm import tqdm

from hippograph.store.embeddings import shared_local_embeddings
from tests.harness.reliability.corpus import precompute, sentences
from tests.harness.reliability.crash import CrashConfig, KillPoint, run_crash_test, write_report

RESULTS = Path(__file__).resolve().parent / "results" / "crash"
CORPUS_SIZE = 2_000


def main() -> None:
    """Parse arguments, run the kills, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-points", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=0.5)
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="hippograph-crash-") as tmp:
        directory = Path(tmp)
        console.print(f"embedding a corpus of {CORPUS_SIZE} sentences with the local model")
        corpus = precompute(
            sentences(CORPUS_SIZE), shared_local_embeddings(), directory / "corpus.npz"
        )
        config = CrashConfig(
            directory / "run",
            corpus,
            kill_points=args.kill_points,
            seed=args.seed,
            max_delay=args.max_delay,
            durability=args.durability,
        )
        bar = tqdm(total=args.kill_points, desc="kill points", unit="kill")
        failed = 0

        def progress(point: KillPoint) -> None:
            nonlocal failed
            failed += bool(point.problems)
            bar.set_postfix(items=point.items, problems=failed)
            bar.update()

        result = run_crash_test(config, progress)
        bar.close()
        stem = "crash_durability" if args.durability == "full" else "crash_durability_normal"
        summary = write_report(result, args.out / f"{stem}.json", args.out / f"{stem}.md")
    console.print(summary)
    if summary["kill_points_with_problems"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
