"""Cross-validated LoCoMo retrieval study: writes `benchmarks/results/locomo/study.{json,md,png}`.

Ingests each conversation once through the agent's remember graph (verbatim, no LLM; cached
under the user cache dir), then tunes memory search's constants by leave-one-conversation-out
cross-validation and measures ablations, neighbourhood / session signals, a learned
reranker and pool sizes (see `hippograph.eval.study`). Never asserts anything.

    python benchmarks/locomo_study.py [--data DIR] [--out DIR] [--conversations 26,30]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from platformdirs import user_cache_dir

from hippograph.eval.embedding_cache import DiskCachedEmbeddings
from hippograph.eval.study import run_study
from hippograph.eval.study.report import write_study
from hippograph.store import LocalEmbeddings

ROOT = Path(__file__).resolve().parent


def main() -> None:
    """Run the study and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "locomo")
    parser.add_argument("--conversations", default="")
    parser.add_argument("--cache", type=Path, default=Path(user_cache_dir("hippograph")) / "study")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    wanted = tuple(c for c in args.conversations.split(",") if c) or None
    embeddings = DiskCachedEmbeddings(LocalEmbeddings())
    report = run_study(
        args.data, embeddings, cache=args.cache, conversations=wanted, progress=print
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "study.json").write_text(json.dumps(report, indent=1) + "\n")
    write_study(report, args.out)
    print(json.dumps(report["tuned"]["overall"], indent=1))


if __name__ == "__main__":
    main()
