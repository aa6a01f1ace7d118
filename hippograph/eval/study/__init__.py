"""The retrieval study: memory search's constants chosen by leave-one-conversation-out CV.

Core pieces:
    - `corpus.load_corpus`: the conversations' memories, ingested once through the agent's
      remember graph (cached), with vectors and keyword indexes in memory.
    - `scoring.Scorer`: ranks questions with the store's own ranking code for any
      `StudyParams`; `cv.cross_validate` tunes them per fold.
    - `extensions`, `query_signals`: neighbourhood, reply, session-level, name-match,
      pseudo-relevance-feedback and learned-reranker signals, measured the same way; `gain`
      judges each against fold-to-fold noise.
    - `run_study` (here): all of it, as one JSON-able report (`report.write_study`).

`benchmarks/locomo_study.py` runs it and writes `benchmarks/results/locomo/study.*`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from hippograph.eval.dataset import CATEGORY_NAMES, load_conversations
from hippograph.eval.study.corpus import StudyConversation, load_corpus
from hippograph.eval.study.cv import CVResult, cross_validate, extension_study
from hippograph.eval.study.extensions import STUDIED, learned_reranker
from hippograph.eval.study.scoring import Scorer, StudyParams

logger = logging.getLogger(__name__)

CANDIDATES = 50
"""Pool size studied (`HybridSearch.candidates`): a cost knob, compared separately."""


def summary(ranks: np.ndarray) -> dict[str, float]:
    """R@1/5/10/20 (any evidence turn) and MRR of first-hit ranks."""
    if not len(ranks):
        return {}
    out = {f"R@{k}": round(float((ranks < k).mean()), 4) for k in (1, 5, 10, 20)}
    out["MRR"] = round(float(np.where(ranks < 10_000, 1.0 / (ranks + 1.0), 0.0).mean()), 4)
    out["questions"] = len(ranks)
    return out


def _breakdown(corpus: list[StudyConversation], result: CVResult) -> dict[str, Any]:
    categories = np.asarray([q.category for c in corpus for q in c.questions])
    convs = np.asarray([c.id for c in corpus for _ in c.questions])
    row: dict[str, Any] = {
        "overall": {
            "in_sample": summary(result.in_sample),
            "cross_validated": summary(result.cross_validated),
        },
        "by_category": {},
        "by_conversation": {},
    }
    for category in sorted(set(categories.tolist())):
        mask = categories == category
        row["by_category"][f"{category} {CATEGORY_NAMES[category]}"] = {
            "in_sample": summary(result.in_sample[mask]),
            "cross_validated": summary(result.cross_validated[mask]),
        }
    for conv in [c.id for c in corpus]:
        mask = convs == conv
        row["by_conversation"][conv] = {
            "in_sample": summary(result.in_sample[mask]),
            "cross_validated": summary(result.cross_validated[mask]),
        }
    return row


def gain(corpus: list[StudyConversation], base: CVResult, other: CVResult) -> dict[str, Any]:
    """How much `other` beats `base` cross-validated, judged against fold-to-fold noise:
    per metric, the mean over conversations of the held-out difference and its standard
    error (a gain within about two standard errors of 0 is noise)."""
    sizes = np.cumsum([0] + [len(c.questions) for c in corpus])
    out: dict[str, Any] = {}
    for k in (1, 5, 10):
        deltas = [
            float((other.cross_validated[a:b] < k).mean() - (base.cross_validated[a:b] < k).mean())
            for a, b in pairwise(sizes)
        ]
        error = float(np.std(deltas, ddof=1) / np.sqrt(len(deltas))) if len(deltas) > 1 else 0.0
        out[f"R@{k}"] = {"mean": round(float(np.mean(deltas)), 4), "se": round(error, 4)}
    return out


def _ablations(scorer: Scorer, result: CVResult) -> dict[str, Any]:
    """The shipped ranking with one part switched off (each fold keeps its other values)."""
    every = list(range(len(scorer.corpus)))
    switches = {
        "no keyword signal (alpha 1)": {"alpha": 1.0},
        "no context field in BM25": {"context_weight": 0.0},
        "no date match": {"time_weight": 0.0},
        "no thread lift": {"group_weight": 0.0},
        "cosine only": {"alpha": 1.0, "time_weight": 0.0, "group_weight": 0.0},
    }
    rows = {}
    for name, change in switches.items():
        in_sample = scorer.first_ranks(every, result.params.with_(**change))
        held = [
            scorer.first_ranks([c], result.fold_params[scorer.corpus[c].id].with_(**change))
            for c in every
        ]
        rows[name] = {
            "in_sample": summary(in_sample),
            "cross_validated": summary(np.concatenate(held)),
        }
    return rows


def _pool_sizes(corpus: list[StudyConversation], result: CVResult) -> dict[str, Any]:
    rows = {}
    every = list(range(len(corpus)))
    for size in (20, 30, 50, 100):
        scorer = Scorer(corpus, size)
        held = [scorer.first_ranks([c], result.fold_params[corpus[c].id]) for c in every]
        rows[str(size)] = {
            "in_sample": summary(scorer.first_ranks(every, result.params)),
            "cross_validated": summary(np.concatenate(held)),
        }
    return rows


def run_study(
    data: Path,
    embeddings: Any,
    *,
    cache: Path | None,
    conversations: tuple[str, ...] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole study (see the package docstring); returns the report as plain data."""
    say = progress or (lambda _: None)
    started = time.perf_counter()
    corpus = load_corpus(load_conversations(data, conversations), embeddings, cache)
    say(
        f"corpus: {sum(len(c.memories) for c in corpus)} memories, "
        f"{sum(len(c.questions) for c in corpus)} questions"
    )
    scorer = Scorer(corpus, CANDIDATES)
    start = StudyParams()
    before = summary(scorer.first_ranks(list(range(len(corpus))), start))
    result = cross_validate(scorer, start, progress=say)
    report: dict[str, Any] = {
        "candidates": CANDIDATES,
        "previous_in_sample": before,
        "shipped": {
            name: getattr(result.params, name) for name in StudyParams.__dataclass_fields__
        },
        "folds": {
            conv: {name: getattr(p, name) for name in StudyParams.__dataclass_fields__}
            for conv, p in result.fold_params.items()
        },
        "tuned": _breakdown(corpus, result),
    }
    say("ablations")
    report["ablations"] = _ablations(scorer, result)
    report["extensions"] = {}
    for name, (make, weights) in STUDIED.items():
        say(f"extension: {name}")
        studied = extension_study(scorer, result, make, weights)
        report["extensions"][name] = {
            **_breakdown(corpus, studied),
            "weights": studied.extra,
            "gain": gain(corpus, result, studied),
        }
    say("extension: learned reranker")
    learned = learned_reranker(scorer, result)
    report["extensions"]["learned reranker (logistic, per fold)"] = {
        **_breakdown(corpus, learned),
        "gain": gain(corpus, result, learned),
    }
    say("pool sizes")
    report["pool_sizes"] = _pool_sizes(corpus, result)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
