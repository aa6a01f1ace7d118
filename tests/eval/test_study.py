"""The cross-validated retrieval study on a slice: two tiny conversations (CI-sized).

Checks that the study ranks exactly as the store does, that a held-out conversation is only
ever ranked with constants tuned without it, and that the report is written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hippograph.backends import open_store
from hippograph.eval.dataset import load_conversations
from hippograph.eval.ingest import TurnIngestor
from hippograph.eval.runner import ingest_conversation
from hippograph.eval.study import run_study
from hippograph.eval.study.corpus import load_corpus
from hippograph.eval.study.cv import cross_validate
from hippograph.eval.study.extensions import reply_lift
from hippograph.eval.study.query_signals import (
    keyword_feedback,
    name_match,
    query_names,
    vector_feedback,
)
from hippograph.eval.study.report import write_study
from hippograph.eval.study.scoring import Scorer, StudyParams
from hippograph.store import LocalEmbeddings, memory_namespace
from hippograph.store.ranking.fusion import fuse

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "locomo" / "tiny.json"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny conversation twice (as conversations "a" and "b"), so one can be held out."""
    folder = tmp_path_factory.mktemp("study-data")
    shutil.copy(FIXTURE, folder / "a.json")
    raw = json.loads(FIXTURE.read_text())
    raw["qa"] = raw["qa"][::-1]
    (folder / "b.json").write_text(json.dumps(raw))
    return folder


@pytest.fixture(scope="module")
def corpus(data: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    cache = tmp_path_factory.mktemp("study-cache")
    return load_corpus(load_conversations(data), LocalEmbeddings(), cache)


def test_the_study_ranks_exactly_as_the_store(corpus: list, data: Path, tmp_path: Path) -> None:
    params = StudyParams(alpha=0.4, context_weight=0.75, group_weight=1.0, group_top=2)
    scorer = Scorer(corpus, candidates=50)
    conversation = load_conversations(data, ["a"])[0]
    settings = params.settings(50)
    with open_store(tmp_path / "a.db", embeddings=LocalEmbeddings(), hybrid=settings) as store:
        ingest_conversation(conversation, TurnIngestor(store), progress=False)
        study = corpus[0]
        for n, question in enumerate(study.questions):
            hits = store.search(memory_namespace("a"), query=question.question, limit=10)
            ranking = scorer.rank(0, n, params)
            expected = [study.memories[i].content for i in ranking.order[:10]]
            assert [h.value["content"] for h in hits] == expected  # keys are new uuids
            assert [h.score for h in hits] == pytest.approx(ranking.scores[:10].tolist())


def test_a_held_out_conversation_is_ranked_with_constants_tuned_without_it(corpus: list) -> None:
    scorer = Scorer(corpus, candidates=50)
    result = cross_validate(scorer, StudyParams())
    assert set(result.fold_params) == {"a", "b"}
    held = [scorer.first_ranks([c], result.fold_params[corpus[c].id]) for c in (0, 1)]
    assert np.array_equal(result.cross_validated, np.concatenate(held))
    assert np.array_equal(result.in_sample, scorer.first_ranks([0, 1], result.params))


def test_the_report_is_written(data: Path, tmp_path: Path) -> None:
    report = run_study(data, LocalEmbeddings(), cache=tmp_path / "cache")
    assert set(report["tuned"]["overall"]) == {"in_sample", "cross_validated"}
    assert set(report["folds"]) == {"a", "b"}
    assert {"no date match", "no thread lift"} <= set(report["ablations"])
    write_study(report, tmp_path)
    markdown = (tmp_path / "study.md").read_text()
    assert "| hippograph (shipped) |" in markdown and (tmp_path / "study.png").is_file()
    # Every extra signal is judged against fold-to-fold noise, per held-out conversation.
    for row in report["extensions"].values():
        assert set(row["gain"]) == {"R@1", "R@5", "R@10"}
    assert "| name match (names in the question) | " in markdown and "ΔR@10" in markdown


def test_query_signals_rescore_the_same_pool_and_do_nothing_at_weight_zero(corpus: list) -> None:
    scorer = Scorer(corpus, candidates=50)
    params = StudyParams()
    study = corpus[0]
    for n in range(len(study.questions)):
        ranking = scorer.rank(0, n, params)
        # Re-fusing the ranking's own signals gives back its scores: feedback is exact.
        assert fuse(ranking.settings, ranking.signals)[0] == pytest.approx(ranking.scores)
        for make in (name_match, vector_feedback, keyword_feedback, reply_lift):
            order, scores = make(0.0)(study, n, ranking)
            assert np.array_equal(order, ranking.order)
            assert np.array_equal(scores, ranking.scores)
        order, _ = keyword_feedback(0.5)(study, n, ranking)
        assert sorted(order.tolist()) == sorted(ranking.order.tolist())


def test_name_match_puts_the_memory_naming_the_person_first(corpus: list) -> None:
    assert query_names("Where did Bob go kayaking on Lake Tahoe?") == ["bob", "lake", "taho"]
    assert query_names("What is the name of Alice's dog?") == ["alic"]
    study = corpus[0]
    n = next(i for i, q in enumerate(study.questions) if q.question.startswith("What is the name"))
    ranking = Scorer(corpus, candidates=50).rank(0, n, StudyParams())
    order, scores = name_match(0.5)(study, n, ranking)
    best = order[np.argsort(-scores, kind="stable")][:3]
    assert all("Alice" in study.memories[i].content for i in best)
