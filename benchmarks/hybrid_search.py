"""Search latency of hybrid search (vector + per-tenant BM25) against pure vector search.

For each size (default 10k and 100k memories in one user's namespace) it builds one store of
LoCoMo turns as memories (`content`, `context`, `timestamp`, thread), then opens the same file
three times — `hybrid=None` (vector), `MEMORY_SEARCH` with the in-process keyword cache (the
default, `store/keyword_cache.py`) and `MEMORY_SEARCH` reading the keyword tables
(`keyword_cache_bytes=0`, the code before the cache) — and times the same queries (the
LoCoMo questions, their vectors warmed so only search is timed), alternating the opens.
The keyword index is the database's, so every open searches the very same data. It records
what the cache holds (bytes) and how long its first search took (the load). It also times
user 0's hybrid search with 1 user vs 100 users of the same size in one file (the per-tenant
cost).

Texts past the 4,124 distinct turns are copies suffixed `(#n)`; their vectors are the
original's plus a little noise (renormalised) instead of a fresh embedding, which would take
an hour at 100k and changes nothing in what is timed. Real turns and questions are embedded
by the local model once and cached (`hippograph.eval.embedding_cache`).

Prints a table, writes `benchmarks/results/hybrid_search.{json,md,png}`. Never asserts on time.

    python benchmarks/hybrid_search.py [--sizes 10000 100000] [--queries 300] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import IndexConfig, PutOp

from hippograph.eval.dataset import load_conversations
from hippograph.eval.embedding_cache import DiskCachedEmbeddings
from hippograph.eval.metrics import latency_summary
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.store.keyword_cache import DEFAULT_MAX_BYTES
from hippograph.store.ranking import MEMORY_SEARCH

ROOT = Path(__file__).resolve().parent
_BATCH = 2000


class _Lookup(Embeddings):
    """Serves vectors computed beforehand, by exact text (documents and queries alike)."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.dims = len(next(iter(vectors.values())))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[t].tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text].tolist()


def _corpus(data: Path, embeddings: Embeddings) -> tuple[list[dict], list[str], dict]:
    """LoCoMo turns as memory values, the questions, and every text's vector."""
    values: list[dict] = []
    questions: list[str] = []
    for conv in load_conversations(data):
        questions.extend(q.question for q in conv.questions)
        for session in conv.sessions:
            previous = ""
            for turn in session.turns:
                values.append(
                    {
                        "content": turn.content,
                        "context": previous,
                        "timestamp": session.at.isoformat(),
                        "source": {"thread_id": f"{conv.id}/{session.number}"},
                    }
                )
                previous = turn.content
    texts = [v["content"] for v in values]
    vectors = dict(
        zip(texts, np.asarray(embeddings.embed_documents(texts), np.float32), strict=True)
    )
    for question in questions:
        vectors[question] = np.asarray(embeddings.embed_query(question), np.float32)
    return values, questions, vectors


def _memories(values: list[dict], vectors: dict, count: int, seed: int = 7) -> list[dict]:
    """`count` memory values; copies get a suffix and a slightly perturbed vector."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        value = dict(values[i % len(values)])
        if i >= len(values):
            base = vectors[value["content"]]
            value["content"] = f"{value['content']} (#{i // len(values)})"
            noisy = base + rng.normal(0.0, 0.02, base.shape).astype(np.float32)
            vectors[value["content"]] = noisy / np.linalg.norm(noisy)
        out.append(value)
    return out


def _fill(store: FaissSqliteStore, namespace: tuple[str, ...], values: list[dict]) -> None:
    for start in range(0, len(values), _BATCH):
        chunk = values[start : start + _BATCH]
        store.batch([PutOp(namespace, f"m{start + i}", v) for i, v in enumerate(chunk)])


def _time(store: FaissSqliteStore, namespace: tuple[str, ...], queries: list[str]) -> list[float]:
    for query in queries[:20]:  # warm: indexes loaded, caches filled
        store.search(namespace, query=query, limit=10)
    seconds = []
    for query in queries:
        start = time.perf_counter()
        store.search(namespace, query=query, limit=10)
        seconds.append(time.perf_counter() - start)
    return seconds


def _size_run(folder: Path, size: int, base: list[dict], vectors: dict, queries: list[str]) -> dict:
    path = str(folder / f"size-{size}.db")
    values = _memories(base, vectors, size)
    index: IndexConfig = {"embed": _Lookup(vectors), "dims": 384, "fields": ["content"]}
    namespace = ("memories", "u0")
    started = time.perf_counter()
    with FaissSqliteStore(path, index=index, hybrid=MEMORY_SEARCH, durability="normal") as store:
        _fill(store, namespace, values)
        build_s = time.perf_counter() - started
        store.search(namespace, query=queries[0], limit=10)  # load the FAISS index once
        store.save_index_snapshots()  # its HNSW graph built, snapshotted: every open alike
    result: dict = {"memories": size, "build_s": round(build_s, 1)}
    timings: dict[str, list[float]] = {}
    variants = (
        ("vector", None, 0),
        ("hybrid", MEMORY_SEARCH, DEFAULT_MAX_BYTES),
        ("hybrid_sql", MEMORY_SEARCH, 0),
    )
    for _ in range(2):  # alternate, so load drift hits all alike
        for name, hybrid, cache in variants:
            with FaissSqliteStore(
                path, index=index, hybrid=hybrid, keyword_cache_bytes=cache
            ) as store:
                started = time.perf_counter()
                store.search(namespace, query=queries[0], limit=10)  # indexes loaded
                first = result.setdefault("first_search_s", {})
                first.setdefault(name, round(time.perf_counter() - started, 2))
                if name == "hybrid":  # the keyword cache loads in the background meanwhile
                    while "memories.u0" not in store.keyword_cache_bytes():
                        time.sleep(0.01)
                    loaded = round(time.perf_counter() - started, 2)
                    result.setdefault("cache_load_s", loaded)
                    result["cache_mb"] = round(sum(store.keyword_cache_bytes().values()) / 2**20, 1)
                timings.setdefault(name, []).extend(_time(store, namespace, queries))
    for name, seconds in timings.items():
        result[name] = latency_summary(seconds)
    for name in ("hybrid", "hybrid_sql"):
        prefix = "" if name == "hybrid" else "sql_"
        for stat in ("p50", "p95"):
            ratio = result[name][f"{stat}_ms"] / result["vector"][f"{stat}_ms"]
            result[f"{prefix}{stat}_ratio"] = round(ratio, 2)
    return result


def _tenant_run(
    folder: Path, per_user: int, base: list[dict], vectors: dict, queries: list[str]
) -> dict:
    values = _memories(base, vectors, per_user)
    index: IndexConfig = {"embed": _Lookup(vectors), "dims": 384, "fields": ["content"]}
    seconds: dict[int, list[float]] = {}
    for users in (1, 100):
        path = str(folder / f"tenants-{users}.db")
        with FaissSqliteStore(
            path, index=index, hybrid=MEMORY_SEARCH, durability="normal"
        ) as store:
            for user in range(users):
                _fill(store, ("memories", f"u{user}"), values)
        seconds[users] = []
    for _ in range(2):
        for users in (1, 100):
            path = str(folder / f"tenants-{users}.db")
            with FaissSqliteStore(path, index=index, hybrid=MEMORY_SEARCH) as store:
                seconds[users].extend(_time(store, ("memories", "u0"), queries))
    one, hundred = latency_summary(seconds[1]), latency_summary(seconds[100])
    return {
        "memories_per_user": per_user,
        "one_user": one,
        "hundred_users": hundred,
        "p50_ratio": round(hundred["p50_ms"] / one["p50_ms"], 2),
        "p95_ratio": round(hundred["p95_ms"] / one["p95_ms"], 2),
    }


def _load() -> list[float]:
    """The 1/5/15-minute load averages (the box is shared: they say how busy it was)."""
    return [round(v, 2) for v in os.getloadavg()]


def _markdown(report: dict) -> str:
    lines = [
        "# Hybrid vs vector search latency",
        "",
        "Same store file opened three ways (below), same queries "
        f"({report['queries']} LoCoMo questions, vectors warmed), the opens alternated twice. "
        "2 shared cores: compare the ratios (same run), not the absolute times. Load average "
        f"(1/5/15 min) {report.get('load_start')} at the start, {report.get('load_end')} at the "
        "end.",
        "",
        "`hybrid` reads the searched tenant's keyword index from the in-process cache "
        "(default); `hybrid, tables` reads it from SQLite as before the cache "
        "(`keyword_cache_bytes=0`). The last columns: what the cache holds, the first search "
        "after opening the file (FAISS index from its snapshot; the keyword cache loads in the "
        "background meanwhile, that search reads the tables) for `hybrid` / `hybrid, tables`, "
        "and when the cache was ready (seconds after that search began).",
        "",
        "| memories (one user) | vector p50 / p95 ms | hybrid p50 / p95 ms "
        "| hybrid / vector p50 / p95 | hybrid, tables p50 / p95 ms "
        "| hybrid, tables / vector p50 / p95 | cache MB | first search s | cache ready s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["sizes"]:
        v, h, t = row["vector"], row["hybrid"], row["hybrid_sql"]
        lines.append(
            f"| {row['memories']:,} | {v['p50_ms']:.2f} / {v['p95_ms']:.2f} | "
            f"{h['p50_ms']:.2f} / {h['p95_ms']:.2f} | "
            f"**{row['p50_ratio']}x** / {row['p95_ratio']}x | "
            f"{t['p50_ms']:.2f} / {t['p95_ms']:.2f} | "
            f"{row['sql_p50_ratio']}x / {row['sql_p95_ratio']}x | "
            f"{row['cache_mb']} | {row['first_search_s']['hybrid']} / "
            f"{row['first_search_s']['hybrid_sql']} | {row['cache_load_s']} |"
        )
    tenants = report["tenants"]
    lines += [
        "",
        f"## Per-tenant cost: user 0's hybrid search, {tenants['memories_per_user']:,} memories "
        "per user",
        "",
        "| users in the file | p50 / p95 ms |",
        "|---|---|",
        f"| 1 | {tenants['one_user']['p50_ms']:.2f} / {tenants['one_user']['p95_ms']:.2f} |",
        f"| 100 | {tenants['hundred_users']['p50_ms']:.2f} / "
        f"{tenants['hundred_users']['p95_ms']:.2f} |",
        "",
        f"100 users / 1 user: p50 {tenants['p50_ratio']}x, p95 {tenants['p95_ratio']}x.",
        "",
        "![latency](hybrid_search.png)",
        "",
    ]
    return "\n".join(lines)


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    labels = [f"{row['memories']:,}" for row in sizes]
    x = np.arange(len(sizes))
    fig, ax = plt.subplots(figsize=(7, 4))
    labels_of = {"vector": "vector", "hybrid": "hybrid (cache)", "hybrid_sql": "hybrid (tables)"}
    for offset, name in ((-0.27, "vector"), (0.0, "hybrid"), (0.27, "hybrid_sql")):
        p50 = [row[name]["p50_ms"] for row in sizes]
        p95 = [row[name]["p95_ms"] for row in sizes]
        ax.bar(x + offset, p95, 0.26, alpha=0.35, label=f"{labels_of[name]} p95")
        ax.bar(x + offset, p50, 0.26, label=f"{labels_of[name]} p50")
    for i, row in enumerate(sizes):
        for offset, name, ratio in (
            (0.0, "hybrid", "p50_ratio"),
            (0.27, "hybrid_sql", "sql_p50_ratio"),
        ):
            ax.annotate(
                f"{row[ratio]}x", (i + offset, row[name]["p95_ms"]), ha="center", va="bottom"
            )
    top = max(row[name]["p95_ms"] for row in sizes for name in labels_of)
    ax.set_ylim(0, top * 1.5)  # room for the legend above the bars
    ax.set_xticks(x, labels)
    ax.set_xlabel("memories of the searched user")
    ax.set_ylabel("search latency, ms")
    ax.set_title("Hybrid vs vector search (same run); labels: p50 / vector p50")
    ax.legend(fontsize="small", ncol=3, loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run the benchmark, print and write the report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--tenant-size", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    embeddings = DiskCachedEmbeddings(LocalEmbeddings())
    base, questions, vectors = _corpus(args.data, embeddings)
    queries = questions[: args.queries]
    report: dict = {"queries": len(queries), "sizes": [], "load_start": _load()}
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-") as name:
        folder = Path(name)
        for size in args.sizes:
            row = _size_run(folder, size, base, vectors, queries)
            report["sizes"].append(row)
            print(
                f"{size:>8,} memories: vector "
                f"{row['vector']['p50_ms']:.2f}/{row['vector']['p95_ms']:.2f} ms, "
                f"hybrid {row['hybrid']['p50_ms']:.2f}/{row['hybrid']['p95_ms']:.2f} ms "
                f"(p50 {row['p50_ratio']}x, p95 {row['p95_ratio']}x), tables "
                f"{row['hybrid_sql']['p50_ms']:.2f}/{row['hybrid_sql']['p95_ms']:.2f} ms "
                f"(p50 {row['sql_p50_ratio']}x), cache {row['cache_mb']} MB ready in "
                f"{row['cache_load_s']} s, first search "
                f"{row['first_search_s']}, built in {row['build_s']} s",
                flush=True,
            )
        report["tenants"] = _tenant_run(folder, args.tenant_size, base, vectors, queries)
        print(f"per-tenant: {json.dumps(report['tenants'])}")
    report["load_end"] = _load()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hybrid_search.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "hybrid_search.md").write_text(_markdown(report))
    _plot(report, args.out / "hybrid_search.png")


if __name__ == "__main__":
    main()
