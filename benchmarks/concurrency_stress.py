"""Concurrency at length: 8 threads (6 sync, 2 event loops of 2 async tasks) and 2 processes
hammer one store; every read is checked against the acknowledged writes.

The harness is `tests.harness.reliability.stress` (the CI test
`tests/reliability/test_concurrency.py` runs it for 10 s). Writes
`benchmarks/results/concurrency/concurrency_stress.json` and `.md`.

    python -m benchmarks.concurrency_stress [--seconds 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rich.console import Console

from hippograph.store.embeddings import shared_local_embeddings
from tests.harness.reliability.corpus import precompute, sentences
from tests.harness.reliability.stress import StressConfig, run_stress

RESULTS = Path(__file__).resolve().parent / "results" / "concurrency"


def main() -> None:
    """Parse arguments, run the workers, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="hippograph-stress-") as tmp:
        directory = Path(tmp)
        corpus = precompute(sentences(300), shared_local_embeddings(), directory / "c.npz")
        with console.status(f"{args.seconds:.0f} s of threads, tasks and processes"):
            result = run_stress(
                StressConfig(directory / "run", corpus, seconds=args.seconds, seed=args.seed)
            )
    summary = result.summary()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "concurrency_stress.json").write_text(json.dumps(summary, indent=2) + "\n")
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["by_kind"].items()))
    (args.out / "concurrency_stress.md").write_text(
        "# Concurrency stress\n\n"
        f"{summary['sync_threads']} sync threads + {summary['event_loop_threads']} event-loop "
        f"threads ({summary['async_tasks']} async tasks) + {summary['processes']} processes "
        f"on one SQLite + FAISS store for {summary['seconds']} s.\n\n"
        f"| figure | value |\n|---|---|\n"
        f"| store calls (batches) | {summary['operations']:,} |\n"
        f"| calls per second | {summary['operations_per_second']:,} |\n"
        f"| reads checked against acknowledged writes | {summary['reads_checked']:,} |\n"
        f"| writes acknowledged | {summary['writes_acknowledged']:,} |\n"
        f"| errors escaping to callers | {summary['errors']} |\n"
        f"| consistency violations | {len(summary['violations'])} |\n"
        f"| store problems after the run (`verify()`) | {len(summary['store_problems'])} |\n\n"
        f"By kind: {kinds}.\n"
    )
    console.print(summary)
    if summary["errors"] or summary["violations"] or summary["store_problems"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
