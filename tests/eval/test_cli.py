"""`hippograph eval locomo` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hippograph.eval.cli import app


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HIPPOGRAPH_MODEL", "OPENAI_API_KEY", "LANGSMITH_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_locomo_writes_the_report(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["locomo", "--data", str(data_dir), "--out", str(out), "--k", "3,5", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "No model configured" in result.output
    report = json.loads((out / "report.json").read_text())
    assert {"recall_any@3", "recall_any@1", "recall_any@20", "recall_all@10"} <= set(
        report["overall"]
    )
    assert report["baselines"] == {}
    assert (out / "report.md").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "0,5"], "positive"),
        (["--k", "a"], "integers"),
        (["--mode", "nonsense"], "verbatim or extract"),
        (["--mode", "extract"], "needs a model"),
        (["--conversations", "missing"], "no conversation files"),
    ],
)
def test_bad_options_fail_clearly(
    data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app, ["locomo", "--data", str(data_dir), "--out", str(tmp_path), "--no-progress", *args]
    )
    assert result.exit_code != 0
    assert message in result.output


def test_locomo_on_a_postgres_url_writes_the_same_report(
    data_dir: Path, tmp_path: Path, pg_url: str
) -> None:
    """`--store URL` ingests each conversation into its own namespace of that database,
    writes the same report (naming the backend), and leaves the database as it found it."""
    from hippograph.backends import open_store
    from hippograph.store.extras import ExtendedStore

    base = ["locomo", "--data", str(data_dir), "--k", "3,5", "--no-progress"]
    on_sqlite = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "sqlite")])
    on_postgres = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "pg"), "--store", pg_url])
    assert on_sqlite.exit_code == 0 and on_postgres.exit_code == 0, on_postgres.output
    reports = [json.loads((tmp_path / d / "report.json").read_text()) for d in ("sqlite", "pg")]
    assert set(reports[0]) == set(reports[1]) and set(reports[0]["overall"]) == set(
        reports[1]["overall"]
    )
    assert reports[0]["overall"]["questions"] == reports[1]["overall"]["questions"] > 0
    assert [r["config"]["backend"] for r in reports] == ["SQLite", "PostgreSQL"]
    # Hybrid search on both (issue 15.1), ranked by the same code: the same figures.
    assert reports[1]["config"]["hybrid"] == reports[0]["config"]["hybrid"] is not None
    metrics = [m for m in reports[0]["overall"] if m.startswith(("recall", "mrr"))]
    assert metrics and reports[1]["overall"]["recall_any@20"] > 0
    for metric in metrics:
        assert reports[1]["overall"][metric] == pytest.approx(reports[0]["overall"][metric])
    assert "store PostgreSQL (hybrid search)" in (tmp_path / "pg" / "report.md").read_text()
    with open_store(pg_url) as store:
        assert isinstance(store, ExtendedStore)
        assert store.count() == 0 and store.links(()) == []
        assert store.list_namespaces() == []
        assert {e["op"] for e in store.history(limit=100)} == {"ERASE"}  # content-free audit
