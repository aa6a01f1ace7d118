"""What hybrid search costs on PostgreSQL, beside vector search and SQLite, in one run.

Loads the same memories (LoCoMo turns, spread over `--users` users of `--per-user` each,
in batches of 1,000 — PostgreSQL's `COPY` path) into three fresh stores:
    - `postgres-vector`: `PostgresMemoryStore` without a keyword index (`hybrid=None`);
    - `postgres-hybrid`: the same with `MEMORY_SEARCH` (keyword rows written with the items);
    - `sqlite-hybrid`: `FaissSqliteStore` with `MEMORY_SEARCH`, the baseline it must match;
then times `--searches` searches of one user each (LoCoMo questions) and counts how many
hybrid top-10s are identical (keys, order, scores within 1e-6) on both backends. Vectors
are the real local MiniLM's, cached on disk (`DiskCachedEmbeddings`; the first run embeds
the ~6k LoCoMo turns once), so loads time the stores, not the model. The box is shared:
read the same-run ratios.

    python -m benchmarks.pg_hybrid [--users 40 --per-user 1000 --searches 300]

Writes `benchmarks/results/pg_hybrid.{json,md}`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore, PutOp

from hippograph.eval.embedding_cache import DiskCachedEmbeddings
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.store.postgres import PostgresMemoryStore
from hippograph.store.ranking import MEMORY_SEARCH
from tests.harness.pgserver import pgserver

ROOT = Path(__file__).resolve().parent
LOCOMO = ROOT.parent.parent / "shared" / "data" / "locomo"


def _corpus() -> tuple[list[str], list[str]]:
    """Every LoCoMo turn's text and every question."""
    texts: list[str] = []
    questions: list[str] = []
    for path in sorted(LOCOMO.glob("*.json")):
        data = json.loads(path.read_text())
        for name, turns in data.items():
            if name.startswith("session_") and isinstance(turns, list):
                texts += [f"{t['speaker']}: {t['text']}" for t in turns]
        questions += [qa["question"] for qa in data["qa"]]
    return texts, questions


def _load(store: BaseStore, users: int, per_user: int, texts: list[str]) -> float:
    """Bulk-load `users` x `per_user` memories (a user's are distinct turns); items/s."""
    n = len(texts)
    ops = [
        PutOp(("memories", f"user{u}"), f"m{i}", {"content": texts[(u * per_user + i) % n]})
        for u in range(users)
        for i in range(per_user)
    ]
    started = time.perf_counter()
    for start in range(0, len(ops), 1000):
        store.batch(ops[start : start + 1000])
    return len(ops) / (time.perf_counter() - started)


def _search(store: BaseStore, users: int, questions: list[str], count: int) -> tuple[Any, ...]:
    times, results = [], []
    for q in range(count):
        namespace = ("memories", f"user{q % users}")
        started = time.perf_counter()
        hits = store.search(namespace, query=questions[q % len(questions)], limit=10)
        times.append((time.perf_counter() - started) * 1000)
        results.append([(h.key, h.score) for h in hits])
    times.sort()
    p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
    return round(p50, 2), round(p95, 2), results


def _same(a: list[Any], b: list[Any]) -> bool:
    return [k for k, _ in a] == [k for k, _ in b] and all(
        abs(x - y) <= 1e-6 for (_, x), (_, y) in zip(a, b, strict=True)
    )


def main() -> None:
    """Run the three stores and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--per-user", type=int, default=1000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "pg_hybrid")
    args = parser.parse_args()
    texts, questions = _corpus()
    embeddings = DiskCachedEmbeddings(LocalEmbeddings())
    embeddings.embed_documents(texts)  # warm the cache outside the timed loads
    index: Any = {"dims": 384, "embed": embeddings, "fields": ["content"]}
    rows: dict[str, dict[str, Any]] = {}
    results: dict[str, list[Any]] = {}
    with pgserver() as server, tempfile.TemporaryDirectory() as folder:
        openers = {
            "postgres-vector": lambda: PostgresMemoryStore.open(
                server.create_database(), index=index, hybrid=None
            ),
            "postgres-hybrid": lambda: PostgresMemoryStore.open(
                server.create_database(), index=index, hybrid=MEMORY_SEARCH
            ),
            "sqlite-hybrid": lambda: FaissSqliteStore(
                str(Path(folder) / "m.db"), index=index, hybrid=MEMORY_SEARCH
            ),
        }
        for name, opener in openers.items():
            store: Any = opener()
            try:
                rate = _load(store, args.users, args.per_user, texts)
                if isinstance(store, PostgresMemoryStore):
                    with store._connection() as conn:  # what autovacuum does after a load
                        conn.execute("VACUUM ANALYZE")
                p50, p95, results[name] = _search(store, args.users, questions, args.searches)
            finally:
                store.close()
            rows[name] = {"load_items_per_s": round(rate), "search_p50_ms": p50}
            rows[name]["search_p95_ms"] = p95
            print(name, rows[name], flush=True)
    pairs = zip(results["postgres-hybrid"], results["sqlite-hybrid"], strict=True)
    identical = sum(_same(a, b) for a, b in pairs)
    summary = {
        "items": args.users * args.per_user,
        "users": args.users,
        "searches": args.searches,
        "identical_top10": identical,
        "stores": rows,
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(summary))
    print(_markdown(summary))


def _markdown(summary: dict[str, Any]) -> str:
    rows = summary["stores"]
    base = rows["postgres-vector"]
    lines = [
        f"# Hybrid search on PostgreSQL: {summary['items']:,} memories in "
        f"{summary['users']} users, one run",
        "",
        "| store | bulk load items/s | search p50 / p95 ms | load vs postgres-vector "
        "| search p50 vs postgres-vector |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['load_items_per_s']:,} | {row['search_p50_ms']} / "
            f"{row['search_p95_ms']} | {row['load_items_per_s'] / base['load_items_per_s']:.2f}x "
            f"| {row['search_p50_ms'] / base['search_p50_ms']:.2f}x |"
        )
    lines += [
        "",
        f"Hybrid top-10 identical on PostgreSQL and SQLite (keys, order, scores within 1e-6): "
        f"{summary['identical_top10']} of {summary['searches']} searches.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
