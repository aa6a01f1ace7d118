"""LoCoMo on both backends in one run: the same evaluation on SQLite and on PostgreSQL.

Runs `hippograph eval locomo`'s evaluation on each backend in one process, with one shared
embedding cache (same texts, same vectors):
    - `sqlite-hybrid`: SQLite as shipped (`MEMORY_SEARCH`), a fresh file per conversation;
    - `postgres-hybrid`: PostgreSQL as shipped (`--store URL`, each conversation in its own
      namespace, erased after) — the same ranking code, so it should match SQLite;
    - `sqlite-vector`, `postgres-vector`: vector search only on each (`--variants` picks).
Writes each variant's `report.json` (without the per-question rows) / `report.md` under
`--out/<variant>/` and a comparison
(`report.md`, `report.json`: R@k and MRR overall and per category, latencies, the gaps).
Never asserts.

    python -m benchmarks.locomo_backends [--store postgresql://…] [--conversations 26,30]
        [--variants sqlite-hybrid,postgres-hybrid]

Without `--store` it starts a throwaway server (`tests.harness.pgserver`, from a checkout).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from hippograph.eval.report import write_report
from hippograph.eval.runner import EvalConfig, SharedEmbeddings, run_locomo
from hippograph.store import LocalEmbeddings

ROOT = Path(__file__).resolve().parent
METRICS = ("recall_any@1", "recall_any@5", "recall_any@10", "recall_any@20", "mrr")
VARIANTS = ("sqlite-hybrid", "postgres-hybrid", "sqlite-vector", "postgres-vector")
CATEGORIES = {"1": "multi-hop", "2": "temporal", "3": "open-domain", "4": "single-hop"}


@contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.harness.pgserver import pgserver

    with pgserver() as server:
        yield server.create_database("locomo")


def _drop_question_rows(path: Path) -> None:
    """Keep each variant's report small enough to commit: everything but the per-question
    rows (`hippograph eval locomo --store URL` writes them in full)."""
    report = json.loads(path.read_text())
    report.pop("questions", None)
    path.write_text(json.dumps(report, indent=1) + "\n")


def _row(report: dict[str, Any]) -> dict[str, Any]:
    return {
        **{m: report["overall"][m] for m in METRICS},
        "questions": report["overall"]["questions"],
        "by_category": {c: report["by_category"][c]["recall_any@10"] for c in CATEGORIES},
        "ingest_p50_ms": report["latency"]["ingest"]["p50_ms"],
        "search_p50_ms": report["latency"]["search"]["p50_ms"],
        "search_p95_ms": report["latency"]["search"]["p95_ms"],
        "backend": report["config"]["backend"],
        "search": "hybrid" if report["config"]["hybrid"] else "vector",
    }


def _markdown(rows: dict[str, dict[str, Any]]) -> str:
    header = "| variant | backend | search | " + " | ".join(
        m.replace("recall_any", "R") for m in METRICS
    )
    header += " | " + " | ".join(f"R@10 {n}" for n in CATEGORIES.values())
    header += " | ingest p50 ms | search p50 / p95 ms |"
    lines = [
        "# LoCoMo on both backends (one run, verbatim ingest, categories 1–4)",
        "",
        header,
        "|---" * (3 + len(METRICS) + len(CATEGORIES) + 2) + "|",
    ]
    for name, row in rows.items():
        cells = [name, row["backend"], row["search"]]
        cells += [f"{row[m]:.3f}" for m in METRICS]
        cells += [f"{row['by_category'][c]:.3f}" for c in CATEGORIES]
        cells += [
            f"{row['ingest_p50_ms']:.0f}",
            f"{row['search_p50_ms']:.1f} / {row['search_p95_ms']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "R@10 differences (same run):", ""]
    for search in ("hybrid", "vector"):
        a, b = f"postgres-{search}", f"sqlite-{search}"
        if a in rows and b in rows:
            delta = rows[a]["recall_any@10"] - rows[b]["recall_any@10"]
            lines.append(f"- {a} − {b}: {delta:+.3f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the variants and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--conversations", default=None)
    parser.add_argument("--store", default=None, help="postgresql:// URL (default: throwaway)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "locomo_backends")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    args = parser.parse_args()
    embeddings = SharedEmbeddings(LocalEmbeddings())
    base = EvalConfig(
        data=args.data,
        conversations=tuple(args.conversations.split(",")) if args.conversations else None,
        embeddings=embeddings,
        progress=False,
    )
    rows: dict[str, dict[str, Any]] = {}
    with _server(args.store) as url:
        variants = {
            "sqlite-hybrid": base,
            "postgres-hybrid": replace(base, store=url),
            "sqlite-vector": replace(base, hybrid=None),
            "postgres-vector": replace(base, store=url, hybrid=None),
        }
        for name in args.variants.split(","):
            config = variants[name]
            report = write_report(run_locomo(config), args.out / name)
            _drop_question_rows(args.out / name / "report.json")
            rows[name] = _row(report)
            print(name, " ".join(f"{m}={rows[name][m]:.3f}" for m in METRICS), flush=True)
    (args.out / "report.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "report.md").write_text(_markdown(rows))
    print(_markdown(rows))


if __name__ == "__main__":
    main()
