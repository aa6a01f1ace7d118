"""The whole evaluation on the tiny hand-made conversation: results, report, LangSmith path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hippograph.eval.baselines import BM25Turns, DenseTurns, reciprocal_rank_fusion
from hippograph.eval.dataset import Turn, load_conversations
from hippograph.eval.metrics import Hit
from hippograph.eval.report import REPORT_JSON, REPORT_MD, write_report
from hippograph.eval.runner import OURS, EvalConfig, EvalResults, run_locomo
from hippograph.eval.tracing import recall_evaluator
from hippograph.store import LocalEmbeddings

KEYS = ("recall_any@1", "recall_any@5", "recall_any@10", "recall_any@20", "recall_all@10", "mrr")


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> EvalResults:
    data = Path(__file__).resolve().parent.parent / "fixtures" / "locomo"
    embeddings = LocalEmbeddings()
    config = EvalConfig(data=data, baselines=True, embeddings=embeddings, progress=False)
    return run_locomo(config)


def test_every_answerable_question_is_found(results: EvalResults) -> None:
    ours = {r.question: r for r in results.results[OURS]}
    assert len(ours) == 6  # categories 1–4; the adversarial one needs a model
    dog = [h.message_ids for h in ours["What is the name of Alice's dog?"].hits[:3]]
    # The reply sharing a dog photo (context: D1:3) and "Thanks!" after it (context: that
    # reply; BM25 reads context at full weight, as cross-validated on LoCoMo) compete.
    assert ("D1:3",) in dog
    assert ours["Where did Bob go kayaking?"].hits[0].message_ids == ("D1:2",)
    composer = ours["What is Bob's favourite composer likely to be?"]
    assert composer.evidence == ("D2:3",)  # the unknown id D9:9 is dropped
    assert ours["What colour is the blanket?"].evidence == ()
    assert set(results.results) == {OURS, "bm25", "dense", "rrf"}
    assert results.ops["ADD"] + results.ops["NOOP"] == 10
    assert len(results.ingest_latency_s) == 10 and len(results.search_latency_s) == 6


def test_report_has_design_keys_files_and_plots(results: EvalResults, tmp_path: Path) -> None:
    report = write_report(results, tmp_path)
    on_disk = json.loads((tmp_path / REPORT_JSON).read_text())
    assert on_disk["overall"] == report["overall"]
    assert set(KEYS) | {"questions"} <= set(report["overall"])
    assert report["overall"]["questions"] == 5
    assert report["overall"]["recall_any@5"] == 1.0
    assert set(report["by_category"]) == {"1", "2", "3", "4"}
    assert set(KEYS) <= set(report["by_category"]["4"])
    assert set(report["baselines"]) == {"bm25", "dense", "rrf"}
    assert set(KEYS) <= set(report["baselines"]["bm25"])
    assert "by_category" in report["baselines"]["rrf"]
    row = report["questions"][0]
    assert {"conversation", "question", "evidence", "retrieved", "baselines"} <= set(row)
    assert {"key", "score", "message_ids"} <= set(row["retrieved"][0])
    markdown = (tmp_path / REPORT_MD).read_text()
    assert "| hippograph |" in markdown and "| bm25 |" in markdown
    assert "![recall_at_k](recall_at_k.png)" in markdown
    for png in ("recall_at_k.png", "latency.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_langsmith_path_runs_locally_without_a_key(
    results: EvalResults, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    config = EvalConfig(
        data=results.config.data,
        embeddings=results.config.embeddings,
        langsmith=True,
        upload_results=False,
        progress=False,
    )
    traced = run_locomo(config)
    assert traced.experiment is not None and traced.experiment.startswith("hippograph-locomo")
    plain = {r.question: [h.key for h in r.hits] for r in results.results[OURS]}
    assert {r.question: len(r.hits) for r in traced.results[OURS]} == {
        q: len(keys) for q, keys in plain.items()
    }
    found = {r.question: r.hits[0].message_ids for r in traced.results[OURS]}
    assert found["Where did Bob go kayaking?"] == ("D1:2",)


def test_langsmith_evaluators_score_outputs() -> None:
    outputs = {"retrieved": [{"key": "a", "score": 0.9, "message_ids": ["D1:1", "D2:2"]}]}
    scored = recall_evaluator(1)(outputs, {"evidence": ["D2:2"], "category": 4})
    assert scored == {"key": "recall_any@1", "score": 1.0}
    assert recall_evaluator(1)(outputs, {"evidence": [], "category": 4})["score"] is None


def test_baselines_bm25_and_rrf(data_dir: Path) -> None:
    [conv] = load_conversations(data_dir)
    bm25 = BM25Turns(conv.turns)
    assert bm25.search("kayaking lake", 1)[0].key == "D1:2"
    assert bm25.search("what is the", 5) == []  # only stop words
    a = [Hit("x", 1, ("x",)), Hit("y", 1, ("y",))]
    b = [Hit("y", 1, ("y",)), Hit("z", 1, ("z",))]
    fused = reciprocal_rank_fusion([a, b], 3)
    assert [h.key for h in fused] == ["y", "x", "z"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_dense_baseline_handles_repeated_turns(embeddings: LocalEmbeddings) -> None:
    turns = [Turn("D1:1", "A", "Thanks!"), Turn("D2:1", "A", "Thanks!"), Turn("D2:2", "B", "Bye")]
    dense = DenseTurns(turns, embeddings, embeddings.dims)
    assert {h.key for h in dense.search("thank you", 2)} == {"D1:1", "D2:1"}
