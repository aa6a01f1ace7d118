"""When to move from the embedded SQLite store to PostgreSQL: the same workload on both.

Runs, in one process and one run (the machine is shared and noisy, so read the ratios):
    - single puts, one call per memory (what the agent does each turn);
    - semantic search scoped to one user, over users holding `--per-user` memories each;
    - the same search in one big namespace (`--big`), where pgvector's exact scan grows
      with the namespace and FAISS (flat, then HNSW) does not as much;
    - opening the store and running the first search (SQLite rebuilds its FAISS index).

Backends: `FaissSqliteStore` (file), `PostgresMemoryStore` exact (the default) and, with
`--hnsw`, with an HNSW index, on a throwaway server from `tests.harness.pgserver`. Vectors come
from a fixed table (random unit vectors per text): the store is measured, not the embedder.

    python -m benchmarks.postgres_vs_sqlite            # ~5 minutes on 2 cores
    python -m benchmarks.postgres_vs_sqlite --quick    # ~1 minute
    python -m benchmarks.postgres_vs_sqlite --hnsw     # + pgvector HNSW (loads ~4x slower)

Writes `benchmarks/results/postgres_vs_sqlite.json` and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, PutOp
from rich.console import Console
from rich.table import Table

from hippograph.store import FaissSqliteStore
from hippograph.store.postgres import PostgresMemoryStore
from tests.harness.pgserver import PgServer, pgserver

DIMS = 384
RESULTS = Path(__file__).parent / "results" / "postgres_vs_sqlite.json"


class TableEmbeddings(Embeddings):
    """A random unit vector per text, derived from its hash: free to compute, stable."""

    def _vector(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
        vector = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
        return (vector / np.linalg.norm(vector)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


INDEX: dict[str, Any] = {"dims": DIMS, "embed": TableEmbeddings(), "fields": ["content"]}
Opener = Callable[[], BaseStore]


def _openers(server: PgServer, workdir: Path, tag: str, hnsw: bool) -> dict[str, Opener]:
    sqlite_path = workdir / f"{tag}.db"
    exact_url = server.create_database(f"{tag}_exact")
    openers: dict[str, Opener] = {
        "faiss-sqlite": lambda: FaissSqliteStore(str(sqlite_path), index=INDEX),  # type: ignore[arg-type]
        "postgres-exact": lambda: PostgresMemoryStore.open(exact_url, index=INDEX),  # type: ignore[arg-type]
    }
    if hnsw:
        hnsw_url = server.create_database(f"{tag}_hnsw")
        config = {**INDEX, "ann_index_config": {"kind": "hnsw"}}
        openers["postgres-hnsw"] = lambda: PostgresMemoryStore.open(hnsw_url, index=config)  # type: ignore[arg-type]
    return openers


@contextmanager
def _opened(opener: Opener) -> Iterator[BaseStore]:
    store = opener()
    try:
        yield store
    finally:
        store.close()  # type: ignore[attr-defined]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3),
    }


def _load(store: BaseStore, users: int, per_user: int, batch: int = 1000) -> float:
    ops = [
        PutOp(("memories", f"user{u}"), f"m{i}", {"content": f"user {u} fact {i}"})
        for u in range(users)
        for i in range(per_user)
    ]
    started = time.perf_counter()
    for start in range(0, len(ops), batch):
        store.batch(ops[start : start + batch])
    return len(ops) / (time.perf_counter() - started)


def _settle(store: BaseStore) -> None:
    """What autovacuum does within a minute of a bulk load: fresh planner statistics."""
    if isinstance(store, PostgresMemoryStore):
        info = store.conn.conninfo  # type: ignore[union-attr]
        with psycopg.connect(info() if callable(info) else info, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


def _searches(store: BaseStore, users: int, count: int) -> list[float]:
    times = []
    for q in range(count):
        started = time.perf_counter()
        hits = store.search(("memories", f"user{q % users}"), query=f"question {q}", limit=10)
        times.append(time.perf_counter() - started)
        assert len(hits) == 10, f"expected 10 hits, got {len(hits)}"
    return times


def _puts(store: BaseStore, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        store.put(("memories", "writer"), f"w{i}", {"content": f"new fact {i}"})
        times.append(time.perf_counter() - started)
    return times


def run_scenario(  # noqa: PLR0917 - a script's plain function
    server: PgServer, workdir: Path, name: str, users: int, per_user: int, hnsw: bool
) -> dict[str, Any]:
    """Load `users` x `per_user` memories into every backend and measure it."""
    console = Console()
    out: dict[str, Any] = {"users": users, "per_user": per_user, "backends": {}}
    for backend, opener in _openers(server, workdir, name, hnsw).items():
        console.print(f"[bold]{name}[/bold]: {backend} loading {users * per_user:,} memories")
        with _opened(opener) as store:
            load_rate = _load(store, users, per_user)
            _settle(store)
            _searches(store, users, 5)  # warm caches / build indexes
            search = _searches(store, users, 200)
            puts = _puts(store, 100)
        started = time.perf_counter()
        with _opened(opener) as store:
            _searches(store, users, 1)
            reopen = time.perf_counter() - started
        out["backends"][backend] = {
            "bulk_load_items_per_s": round(load_rate),
            "search": _percentiles(search),
            "single_put": _percentiles(puts),
            "open_and_first_search_s": round(reopen, 3),
        }
    return out


def main() -> None:
    """Run the scenarios, print a table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~1 minute)")
    parser.add_argument(
        "--hnsw", action="store_true", help="also PostgreSQL with an HNSW index (slow loads)"
    )
    args = parser.parse_args()
    scenarios = (
        {"per-user": (20, 500), "one-namespace": (1, 5_000)}
        if args.quick
        else {"per-user": (50, 1_000), "one-namespace": (1, 20_000)}
    )
    results: dict[str, Any] = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "note": "same run, same machine; vectors from a fixed table (store cost only)",
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory() as tmp, pgserver(Path(tmp) / "pg") as server:
        for name, (users, per_user) in scenarios.items():
            results["scenarios"][name] = run_scenario(
                server, Path(tmp), name.replace("-", "_"), users, per_user, args.hnsw
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    table = Table("scenario", "backend", "load/s", "search p50", "p95", "put p50", "open s")
    for name, scenario in results["scenarios"].items():
        for backend, r in scenario["backends"].items():
            table.add_row(
                f"{name} ({scenario['users']}x{scenario['per_user']:,})",
                backend,
                f"{r['bulk_load_items_per_s']:,}",
                f"{r['search']['p50_ms']:.2f} ms",
                f"{r['search']['p95_ms']:.2f} ms",
                f"{r['single_put']['p50_ms']:.2f} ms",
                f"{r['open_and_first_search_s']:.2f}",
            )
    Console().print(table)
    Console().print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
