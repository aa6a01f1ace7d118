"""The benchmarks run end to end at a tiny size, so they cannot rot between real runs.

These check what the reports contain and that the measurements are sane (exact search has
recall 1.0, every stored item is found); they never assert on speed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hippograph.bench.cli import app
from hippograph.bench.measure import parse_sizes, size_label
from hippograph.bench.real_embedder import find_locomo, locomo_texts
from hippograph.bench.vectors import make_vectors
from tests.harness.pgserver import PgServer

PNG = b"\x89PNG\r\n\x1a\n"


def plain(output: str) -> str:
    """CLI output without rich's box drawing and line wrapping."""
    return " ".join(output.replace("│", " ").split())


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "locomo"


def test_store_bench_end_to_end(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "store", "--sizes", "300", "--backends", "faiss-sqlite,inmemory", "--queries", "20",
            "--real-texts", "40", "--real-queries", "10", "--out", str(tmp_path),
            "--name", "tiny", "--workdir", str(tmp_path), "--no-isolate", "--locomo", str(FIXTURES),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "tiny.json").read_text())
    rows = {row["backend"]: row for row in report["results"]}
    assert set(rows) == {"faiss-flat", "faiss-sqlite", "inmemory"}
    ours = rows["faiss-sqlite"]
    assert ours["size"] == 300 and ours["index"] == "flat" and ours["queries"] == 20
    assert ours["recall_at_10"] == 1.0  # exact search below the HNSW threshold
    assert ours["put_per_s"] > 0 and ours["open_rebuild_s"] > 0 and ours["disk_mb"] > 0
    assert ours["open_snapshot_s"] is None  # 300 vectors: below the snapshot threshold
    assert 0 < ours["search_ms"]["p50"] <= ours["search_ms"]["p95"] <= ours["search_ms"]["p99"]
    assert rows["inmemory"]["recall_at_10"] == 1.0 and rows["inmemory"]["open_rebuild_s"] is None
    assert report["ratios"][0]["search_p95_speedup_vs_inmemory"] > 0
    assert {t["target"] for t in report["targets"]} >= {"search p95 at 100k (ms)"}
    real = report["real_embedder"]
    assert real is not None and {r["backend"] for r in real["runs"]} == {"faiss-sqlite", "inmemory"}
    turns, _ = locomo_texts(FIXTURES)
    expected = min(40, len(dict.fromkeys(turns)))
    assert all(r["texts"] == expected and r["recall_at_10"] == 1.0 for r in real["runs"])
    markdown = (tmp_path / "tiny.md").read_text()
    assert "| 300 | faiss-sqlite | flat |" in markdown and "## Targets" in markdown
    assert (tmp_path / "tiny.png").read_bytes().startswith(PNG)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("hippograph-bench")] == []


def test_hippograph_bench_store_runs_every_backend_through_the_main_cli(
    tmp_path: Path, pg_server: PgServer
) -> None:
    from hippograph.cli import app as hippograph_app

    result = CliRunner().invoke(
        hippograph_app,
        [
            "bench", "store", "--sizes", "200", "--backends", "faiss-sqlite,postgres,inmemory",
            "--queries", "20", "--real-texts", "0", "--out", str(tmp_path), "--name", "all",
            "--workdir", str(tmp_path), "--no-isolate", "--postgres-url", pg_server.url,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "all.json").read_text())
    rows = {row["backend"]: row for row in report["results"]}
    assert set(rows) == {"faiss-flat", "faiss-sqlite", "postgres", "inmemory"}
    assert all(not any("failed" in note for note in row["notes"]) for row in rows.values())
    postgres = rows["postgres"]
    assert postgres["size"] == 200 and postgres["queries"] == 20
    assert postgres["recall_at_10"] == 1.0  # pgvector's exact search, scoped to the namespace
    assert postgres["put_per_s"] > 0 and postgres["open_rebuild_s"] > 0
    assert postgres["disk_mb"] > 0 and postgres["open_snapshot_s"] is None
    assert 0 < postgres["search_ms"]["p50"] <= postgres["search_ms"]["p95"]
    assert postgres["get_ms"]["p50"] > 0
    ratios = report["ratios"][0]
    assert ratios["search_p95_speedup_vs_postgres"] > 0 and ratios["put_speedup_vs_postgres"] > 0
    markdown = (tmp_path / "all.md").read_text()
    assert "| 200 | postgres | — |" in markdown
    assert "search p95 speed-up vs PostgresStore" in markdown
    assert (tmp_path / "all.png").read_bytes().startswith(PNG)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("hippograph-bench")] == []
    import psycopg

    with psycopg.connect(pg_server.url) as conn:
        names = conn.execute("SELECT datname FROM pg_database").fetchall()
    # each run's database is dropped after it
    assert not [n for (n,) in names if n.startswith("hippograph_bench")]


def test_a_measurement_runs_in_a_fresh_process(tmp_path: Path) -> None:
    from hippograph.bench.measure import call
    from hippograph.bench.store import FLOOR, StoreBenchConfig, _save_data, measure_floor

    config = StoreBenchConfig(queries=10, workdir=tmp_path)
    data = _save_data(tmp_path, 200, config)
    result = call(measure_floor, FLOOR, data, config, isolate=True)
    assert result.backend == FLOOR and result.size == 200 and result.recall_at_10 == 1.0


def test_index_study_end_to_end(tmp_path: Path) -> None:
    from hippograph.bench.index_study import run_index_study

    report = run_index_study(
        600, ["flat", "hnsw16", "ivf"], queries=20, out_dir=tmp_path, name="idx", isolate=False
    )
    results = {r["candidate"]: r for r in report["results"]}
    assert results["flat"]["settings"][0]["recall_at_10"] == 1.0
    assert [s["value"] for s in results["hnsw16"]["settings"]] == [32, 64, 128, 256]
    assert all(0 <= s["recall_at_10"] <= 1 for r in results.values() for s in r["settings"])
    assert "| hnsw16 |" in (tmp_path / "idx.md").read_text()
    assert (tmp_path / "idx.png").read_bytes().startswith(PNG)


def test_cli_rejects_unknown_backends_and_sizes(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["store", "--backends", "faiss-sqlite,nosuch", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "available: faiss-sqlite" in plain(result.output)
    result = runner.invoke(app, ["store", "--sizes", "ten", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "not a size" in plain(result.output)
    assert list(tmp_path.iterdir()) == []


def test_sizes_round_trip() -> None:
    assert parse_sizes("300, 1k,10k,1.5k,1M") == [300, 1_000, 10_000, 1_500, 1_000_000]
    assert [size_label(n) for n in (300, 1_000, 1_500, 1_000_000)] == ["300", "1k", "1500", "1M"]
    with pytest.raises(ValueError, match="not a size"):
        parse_sizes("1G")


def test_embedding_like_vectors_have_neighbours_uniform_ones_do_not() -> None:
    documents, queries = make_vectors("embedding", 3000, 50, 384, seed=1)
    nearest = (queries @ documents.T).max(axis=1).mean()
    uniform, uniform_queries = make_vectors("uniform", 3000, 50, 384, seed=1)
    assert abs(float((documents**2).sum(axis=1).mean()) - 1) < 1e-4
    assert nearest > 0.6 and (uniform_queries @ uniform.T).max(axis=1).mean() < 0.3


def test_locomo_files_are_read_as_flat_session_dicts() -> None:
    directory = find_locomo(Path(__file__))
    if directory is None:
        pytest.skip("../shared/data/locomo is not beside the repository")
    turns, questions = locomo_texts(directory)
    assert len(turns) > 1000 and len(questions) > 100
    assert turns[0].split(": ", 1)[0] in {"Caroline", "Melanie", "Jon", "Gina", "John", "Maria",
                                          "Joanna", "Nate", "Tim", "Audrey", "Andrew",
                                          "James", "Jolene", "Deborah", "Evan", "Sam", "Calvin",
                                          "Dave"}  # fmt: skip


def test_ingest_bench_end_to_end(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "ingest", "--size", "400", "--rounds", "2", "--out", str(tmp_path), "--name", "tiny",
            "--workdir", str(tmp_path), "--no-isolate",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "tiny.json").read_text())
    rows = report["results"]
    assert [(r["variant"], r["round"]) for r in rows] == [
        (variant, round_)
        for round_ in range(2)
        for variant in ("inmemory", "batch", "bulk", "bulk-hybrid")
    ]
    assert all(r["per_s"] > 0 and r["cpu_seconds"] > 0 and not r["notes"] for r in rows)
    bulk = [r for r in rows if r["variant"].startswith("bulk")]
    assert all(r["stage_cpu_s"] and min(r["stage_cpu_s"]) > 0 for r in bulk)
    assert all(r["first_search_s"] > 0 for r in rows if r["variant"] != "inmemory")
    summary = report["summary"]
    assert set(summary["medians"]) == {"inmemory", "batch", "bulk", "bulk-hybrid"}
    assert summary["ratios"]["bulk_vs_inmemory"] > 0 and summary["ratios"]["bulk_vs_batch"] > 0
    assert summary["target"]["goal_per_s"] == 20_000
    assert "| bulk |" in (tmp_path / "tiny.md").read_text()
    assert (tmp_path / "tiny.png").read_bytes().startswith(PNG)


def test_contention_bench_end_to_end(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "contention", "--user-size", "300", "--rebuild-size", "500", "--snapshot-size",
            "500", "--idle-seconds", "1", "--out", str(tmp_path), "--name", "tiny",
            "--workdir", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "tiny.json").read_text())
    rebuild, snapshot = report["scenarios"]["rebuild"], report["scenarios"]["snapshot"]
    assert set(rebuild["periods"]) == {"idle", "B loading", "B graph build"}
    assert set(snapshot["periods"]) == {"idle", "C loading", "C snapshot write"}
    for scenario in (rebuild, snapshot):
        idle = scenario["periods"]["idle"]
        assert idle["searches"] > 10 and idle["p99_vs_idle"] == 1.0
        assert scenario["events"]["first_search_other_s"] > 0
    assert "## A while B's 500-vector group" in (tmp_path / "tiny.md").read_text()
    assert (tmp_path / "tiny.png").read_bytes().startswith(PNG)


def test_many_tenants_per_backend_with_a_projection(tmp_path: Path, pg_server: PgServer) -> None:
    """`--tenant-sizes`: both backends filled with many users at two totals, searches timed
    per user size with exact recall, and the figures carried to 1M on paper."""
    result = CliRunner().invoke(
        app,
        [
            "store", "--sizes", "250,500", "--backends", "faiss-sqlite,postgres",
            "--tenant-sizes", "10,50", "--queries", "5", "--real-texts", "0",
            "--out", str(tmp_path), "--name", "tenants", "--workdir", str(tmp_path),
            "--no-isolate", "--postgres-url", pg_server.url,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "tenants.json").read_text())
    runs = {(r["backend"], r["total"]): r for r in report["tenants"]}
    # 250: 12 users of 10 and 2 of 50 (the sizes share the total evenly)
    assert set(runs) == {(b, n) for b in ("faiss-sqlite", "postgres") for n in (220, 500)}
    small, large = runs["postgres", 220], runs["postgres", 500]
    assert small["layout"] == {"10": 12, "50": 2} and large["layout"] == {"10": 25, "50": 5}
    for run in runs.values():
        assert not run["notes"] and run["put_per_s"] > 0 and run["open_s"] > 0
        assert run["recall_at_10"] == {"10": 1.0, "50": 1.0}  # exact within each user
        assert 0 < run["search_ms"]["50"]["p50"] <= run["search_ms"]["50"]["p95"]
    projected = {p["backend"]: p for p in report["projection"]}
    assert set(projected) == {"faiss-sqlite", "postgres"}
    assert projected["postgres"]["total"] == 1_000_000
    assert projected["postgres"]["from"] == [220, 500]
    assert projected["postgres"]["bulk_load_s"] >= 1_000_000 / large["put_per_s"]
    assert projected["postgres"]["search_ms"]["50"]["p50"] >= large["search_ms"]["50"]["p50"]
    markdown = (tmp_path / "tenants.md").read_text()
    assert "## Many users in one store" in markdown and "## 1M items, on paper" in markdown
    assert (tmp_path / "tenants_tenants.png").read_bytes().startswith(PNG)


def test_tenant_layouts() -> None:
    from hippograph.bench.tenants import tenant_layout

    assert tenant_layout(100_000, (100, 1_000, 10_000)) == {100: 333, 1_000: 33, 10_000: 3}
    assert tenant_layout(10_000, (100, 1_000, 10_000)) == {100: 50, 1_000: 5}
    with pytest.raises(ValueError, match="no tenant size fits"):
        tenant_layout(1_000, (10_000,))
