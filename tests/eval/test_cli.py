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
