"""`--compare-links`: every question asked with link expansion off and on over the same
stores, and the report's `link_expansion` section (per category, with what links reached)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hippograph.eval.cli import app
from hippograph.eval.links import LINKS_OFF, LINKS_ON
from hippograph.eval.report import REPORT_MD, write_report
from hippograph.eval.runner import OURS, EvalConfig, run_locomo
from hippograph.store.links import LinkExpansion


@pytest.fixture
def linked_data(data_dir: Path, tmp_path: Path) -> Path:
    """The tiny conversation plus a later turn naming Alice's dog again (an entity link)."""
    conversation = json.loads((data_dir / "tiny.json").read_text())
    conversation["session_3_date_time"] = "9:00 am on 1 July, 2023"
    conversation["session_3"] = [
        {"speaker": "Alice", "dia_id": "D3:1", "text": "Guess what, our Biscuit learned to sit!"},
    ]
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "tiny.json").write_text(json.dumps(conversation))
    return folder


def test_compare_links_reports_both_variants(linked_data: Path, embeddings, tmp_path: Path):
    config = EvalConfig(data=linked_data, embeddings=embeddings, compare_links=True, progress=False)
    results = run_locomo(config)
    assert results.links == {"tiny": 1}
    off, on = results.results[LINKS_OFF], results.results[LINKS_ON]
    assert (
        [r.question for r in off]
        == [r.question for r in on]
        == [r.question for r in results.results[OURS]]
    )
    assert [[h.key for h in r.hits] for r in off] == [
        [h.key for h in r.hits] for r in results.results[OURS]
    ]  # links off is what ships
    dog = next(r for r in on if r.question == "What is the name of Alice's dog?")
    reached = [h for h in dog.hits if h.via is not None]
    assert reached and "D3:1" in reached[0].message_ids

    report = write_report(results, tmp_path / "out", plots=False)
    assert set(report["baselines"]) == set()  # the variants are not baselines
    section = report["link_expansion"]
    assert section["shipped"] is False and section["links"] == {"tiny": 1}
    assert section["settings"] == {"hops": 1, "decay": 0.5, "seeds": 5, "per_seed": 5}
    assert (
        set(section["off"]["by_category"])
        == set(section["on"]["by_category"])
        == {
            "1",
            "2",
            "3",
            "4",
        }
    )
    assert section["on"]["questions_with_reached@10"] >= 1
    assert set(section["delta_recall_any@10"]) == {"overall", "1", "2", "3", "4"}
    row = next(q for q in report["questions"] if q["question"] == dog.question)
    assert "via" not in row["retrieved"][0]
    markdown = (tmp_path / "out" / REPORT_MD).read_text()
    assert "## Link expansion (same stores, same questions)" in markdown
    assert "| 4 single-hop |" in markdown.split("## Link expansion")[1]
    assert "| tiny | 1 | " in markdown.split("## Link expansion")[1]  # per conversation


def test_without_compare_there_is_no_section(data_dir: Path, embeddings, tmp_path: Path):
    config = EvalConfig(data=data_dir, embeddings=embeddings, progress=False)
    report = write_report(run_locomo(config), tmp_path, plots=False)
    assert "link_expansion" not in report and report["config"]["expand_links"] is None


def test_expand_links_changes_what_ships(linked_data: Path, embeddings):
    config = EvalConfig(
        data=linked_data, embeddings=embeddings, expand_links=LinkExpansion(), progress=False
    )
    results = run_locomo(config)
    dog = next(r for r in results.results[OURS] if r.question == "What is the name of Alice's dog?")
    assert any(h.via is not None for h in dog.hits)


def test_cli_compare_links(linked_data: Path, tmp_path: Path):
    out = tmp_path / "report"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app,
        [
            "locomo",
            "--data",
            str(linked_data),
            "--out",
            str(out),
            "--compare-links",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Link expansion: R@10 off → on" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["link_expansion"]["links"] == {"tiny": 1}
