"""Search latency of hybrid search (vector + per-tenant BM25) against pure vector search.

For each size (default 10k and 100k memories in one user's namespace) it builds one store of
LoCoMo turns as memories (`content`, `context`, `timestamp`, thread), then opens the same file
twice — with `MEMORY_SEARCH` and with `hybrid=None` — and times the same queries (the LoCoMo
questions, their vectors warmed so only search is timed). The keyword index is the
database's, so both opens search the very same data. It also times user 0's hybrid search
with 1 user vs 100 users of the same size in one file (the per-tenant cost).

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
    for query in queries[:20]:  # warm: index loaded, caches filled
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
        store.search(namespace, query=queries[0], limit=10)  # build the FAISS index once
    result: dict = {"memories": size, "build_s": round(build_s, 1)}
    timings: dict[str, list[float]] = {}
    for _ in range(2):  # alternate, so load drift hits both alike
        for name, hybrid in (("vector", None), ("hybrid", MEMORY_SEARCH)):
            with FaissSqliteStore(path, index=index, hybrid=hybrid) as store:
                timings.setdefault(name, []).extend(_time(store, namespace, queries))
    for name, seconds in timings.items():
        result[name] = latency_summary(seconds)
    result["p50_ratio"] = round(result["hybrid"]["p50_ms"] / result["vector"]["p50_ms"], 2)
    result["p95_ratio"] = round(result["hybrid"]["p95_ms"] / result["vector"]["p95_ms"], 2)
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


def _markdown(report: dict) -> str:
    lines = [
        "# Hybrid vs vector search latency",
        "",
        "Same store file opened with `MEMORY_SEARCH` and with `hybrid=None`, same queries "
        f"({report['queries']} LoCoMo questions, vectors warmed), both runs alternated twice. "
        "2 shared cores: compare the ratios (same run), not the absolute times.",
        "",
        "| memories (one user) | vector p50 / p95 ms | hybrid p50 / p95 ms "
        "| hybrid / vector p50 | p95 |",
        "|---|---|---|---|---|",
    ]
    for row in report["sizes"]:
        v, h = row["vector"], row["hybrid"]
        lines.append(
            f"| {row['memories']:,} | {v['p50_ms']:.2f} / {v['p95_ms']:.2f} | "
            f"{h['p50_ms']:.2f} / {h['p95_ms']:.2f} | {row['p50_ratio']}x | {row['p95_ratio']}x |"
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
    for offset, name in ((-0.2, "vector"), (0.2, "hybrid")):
        p50 = [row[name]["p50_ms"] for row in sizes]
        p95 = [row[name]["p95_ms"] for row in sizes]
        ax.bar(x + offset, p95, 0.38, alpha=0.35, label=f"{name} p95")
        ax.bar(x + offset, p50, 0.38, label=f"{name} p50")
    for i, row in enumerate(sizes):
        ax.annotate(
            f"{row['p50_ratio']}x p50", (i + 0.2, row["hybrid"]["p95_ms"]), ha="center", va="bottom"
        )
    ax.set_xticks(x, labels)
    ax.set_xlabel("memories of the searched user")
    ax.set_ylabel("search latency, ms")
    ax.set_title("Hybrid vs vector search (same run)")
    ax.legend()
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
    report: dict = {"queries": len(queries), "sizes": []}
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-") as name:
        folder = Path(name)
        for size in args.sizes:
            row = _size_run(folder, size, base, vectors, queries)
            report["sizes"].append(row)
            print(
                f"{size:>8,} memories: vector "
                f"{row['vector']['p50_ms']:.2f}/{row['vector']['p95_ms']:.2f} ms, "
                f"hybrid {row['hybrid']['p50_ms']:.2f}/{row['hybrid']['p95_ms']:.2f} ms "
                f"(p50 {row['p50_ratio']}x, p95 {row['p95_ratio']}x), built in {row['build_s']} s",
                flush=True,
            )
        report["tenants"] = _tenant_run(folder, args.tenant_size, base, vectors, queries)
        print(f"per-tenant: {json.dumps(report['tenants'])}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hybrid_search.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "hybrid_search.md").write_text(_markdown(report))
    _plot(report, args.out / "hybrid_search.png")


if __name__ == "__main__":
    main()
