"""Ablations of memory search on LoCoMo, each run end to end through the real store.

Every variant ingests the conversations into fresh `FaissSqliteStore`s and asks the same
questions; only the store's search settings change, from pure vector search to the shipped
`MEMORY_SEARCH`. Embeddings are computed once and shared by all variants (same texts, same
vectors), so the run takes minutes. Prints a table and writes `ablations.json` and
`ablations.md` beside the main report. Never asserts.

    python benchmarks/locomo_ablations.py [--data DIR] [--conversations 26,30] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from hippograph.backends import MEMORY_SEARCH
from hippograph.eval.metrics import summarize
from hippograph.eval.runner import OURS, EvalConfig, SharedEmbeddings, run_locomo
from hippograph.store import HybridSearch, LocalEmbeddings

ROOT = Path(__file__).resolve().parent

VARIANTS: dict[str, HybridSearch | None] = {
    "vector only (cosine on content)": None,
    "+ FTS5 BM25 on content (alpha 0.5)": HybridSearch(fields=("content",)),
    "+ BM25 on context at weight 0.5": HybridSearch(
        fields=("content", "context"), field_weights={"context": 0.5}
    ),
    "+ date named in the query vs timestamp": HybridSearch(
        fields=("content", "context"), field_weights={"context": 0.5}, time_field="timestamp"
    ),
    "+ thread lift (shipped MEMORY_SEARCH)": MEMORY_SEARCH,
    "shipped, alpha 0.3": replace(MEMORY_SEARCH, alpha=0.3),
    "shipped, alpha 0.7": replace(MEMORY_SEARCH, alpha=0.7),
}

METRICS = ("recall_any@1", "recall_any@5", "recall_any@10", "recall_any@20", "mrr")


def main() -> None:
    """Run every variant and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--conversations", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "locomo")
    args = parser.parse_args()
    embeddings = SharedEmbeddings(LocalEmbeddings())
    conversations = tuple(args.conversations.split(",")) if args.conversations else None
    rows = {}
    for name, hybrid in VARIANTS.items():
        config = EvalConfig(
            data=args.data,
            conversations=conversations,
            embeddings=embeddings,
            hybrid=hybrid,
            progress=False,
        )
        results = run_locomo(config)
        summary = summarize(results.results[OURS])
        by_conversation = {
            cid: summarize([r for r in results.results[OURS] if r.conversation == cid])
            for cid in sorted({r.conversation for r in results.results[OURS]})
        }
        rows[name] = {
            **summary,
            "recall_any@10_by_conversation": {
                cid: s["recall_any@10"] for cid, s in by_conversation.items()
            },
        }
        print(name, " ".join(f"{m}={summary[m]:.3f}" for m in METRICS), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablations.json").write_text(json.dumps(rows, indent=1) + "\n")
    ids = list(next(iter(rows.values()))["recall_any@10_by_conversation"])
    lines = [
        "# Memory search ablations (LoCoMo, verbatim ingest, categories 1–4)",
        "",
        "| variant | R@1 | R@5 | R@10 | R@20 | MRR | R@10 per conversation ("
        + ", ".join(ids)
        + ") |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        per = " / ".join(f"{v:.2f}" for v in row["recall_any@10_by_conversation"].values())
        lines.append(f"| {name} | " + " | ".join(f"{row[m]:.3f}" for m in METRICS) + f" | {per} |")
    (args.out / "ablations.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
