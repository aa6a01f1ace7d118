"""Search and put latency of hybrid search (vector + FTS5 BM25) against pure vector search.

Builds one store of N memories from LoCoMo turns (real text, real local embeddings; past
the 4,124 distinct turns, copies are suffixed so each text is new), copies it, opens the
copy with `hybrid=None`, then times the same queries (the LoCoMo questions, embeddings
warmed so only search is timed) and the same single puts on both. Prints a table and
writes `benchmarks/results/hybrid_search.json`. Never asserts on time.

    python benchmarks/hybrid_search.py [--memories 10000] [--queries 300] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import faiss
from langgraph.store.base import PutOp

from hippograph.backends import MEMORY_SEARCH, memory_index_config
from hippograph.eval.dataset import load_conversations
from hippograph.eval.metrics import latency_summary
from hippograph.store import FaissSqliteStore, LocalEmbeddings

NS = ("memories", "bench")
ROOT = Path(__file__).resolve().parent


def _memories(data: Path, count: int) -> list[dict[str, str]]:
    turns = []
    for conv in load_conversations(data):
        for session in conv.sessions:
            previous = None
            for turn in session.turns:
                turns.append((turn.content, previous.content if previous else ""))
                previous = turn
    values = []
    for i in range(count):
        content, context = turns[i % len(turns)]
        if i >= len(turns):
            content = f"{content} (#{i // len(turns)})"
        values.append({"content": content, "context": context, "timestamp": "2023-05-08"})
    return values


def _time_searches(store: FaissSqliteStore, queries: list[str]) -> tuple[list[float], list[float]]:
    """Seconds per search: first with the query embedded (cold), then cached (search alone)."""
    timings: tuple[list[float], list[float]] = ([], [])
    for seconds in timings:
        for query in queries:
            start = time.perf_counter()
            store.search(NS, query=query, limit=10)
            seconds.append(time.perf_counter() - start)
    return timings


def _time_puts(store: FaissSqliteStore, values: list[dict[str, str]]) -> list[float]:
    store.batch([PutOp(("memories", "warm"), f"w{i}", v) for i, v in enumerate(values)])
    seconds = []
    for i, value in enumerate(values):  # same texts: vectors are reused, so only writes count
        start = time.perf_counter()
        store.put(NS, f"new-{i}", value)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "hybrid_search.json")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    embeddings = LocalEmbeddings()
    index = memory_index_config(embeddings)
    values = _memories(args.data, args.memories)
    questions = [q.question for c in load_conversations(args.data) for q in c.questions]
    queries = questions[: args.queries]
    with tempfile.TemporaryDirectory() as folder:
        hybrid_db, vector_db = Path(folder) / "hybrid.db", Path(folder) / "vector.db"
        start = time.perf_counter()
        with FaissSqliteStore(str(hybrid_db), index=index, hybrid=MEMORY_SEARCH) as store:
            for offset in range(0, len(values), 500):
                chunk = values[offset : offset + 500]
                store.batch([PutOp(NS, f"m{offset + i}", v) for i, v in enumerate(chunk)])
        build_s = time.perf_counter() - start
        shutil.copy(hybrid_db, vector_db)
        results = {}
        for name, path, hybrid in (
            ("vector", vector_db, None),
            ("hybrid", hybrid_db, MEMORY_SEARCH),
        ):
            with FaissSqliteStore(str(path), index=index, hybrid=hybrid) as store:
                cold, warm = _time_searches(store, queries)
                put = latency_summary(_time_puts(store, values[:200]))
            results[name] = {
                "search_with_query_embedding": latency_summary(cold),
                "search": latency_summary(warm),
                "put": put,
            }
    ratio = {
        op: round(results["hybrid"][op]["p50_ms"] / results["vector"][op]["p50_ms"], 2)
        for op in ("search_with_query_embedding", "search", "put")
    }
    report = {
        "memories": args.memories,
        "queries": len(queries),
        "build_s": round(build_s, 1),
        "results": results,
        "p50_ratio_hybrid_over_vector": ratio,
    }
    print(f"{'p50 / p95 ms':14} {'search+embed':>16} {'search':>16} {'put':>16}")
    for name, row in results.items():
        cells = [
            f"{row[op]['p50_ms']:7.2f} /{row[op]['p95_ms']:7.2f}"
            for op in ("search_with_query_embedding", "search", "put")
        ]
        print(f"{name:14} " + " ".join(f"{c:>16}" for c in cells))
    print(f"hybrid / vector p50: {ratio}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
