"""Leave-one-conversation-out cross-validation of memory search's constants.

Core pieces:
    - `tune`: coordinate ascent over `scoring.GRID` on some conversations' questions.
    - `cross_validate`: for each conversation, tune on the others and rank its questions
      with what was chosen; also tune on all (the in-sample figure) — both per question.
    - `CVResult`: the ranks per question in both settings, and the parameters of each fold.
    - `extension_study`: the same for an extra signal with its own weight grid.

A question's result in the cross-validated figure never depends on a parameter chosen with
its own conversation; the in-sample figure is what tuning on everything gives, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hippograph.eval.study.scoring import GRID, Extension, Scorer, StudyParams, objective

logger = logging.getLogger(__name__)


def tune(
    scorer: Scorer,
    convs: list[int],
    start: StudyParams,
    *,
    rounds: int = 2,
    grid: dict[str, tuple[float, ...]] = GRID,
) -> tuple[StudyParams, float]:
    """Coordinate ascent: each parameter in turn takes its best grid value (ties keep the
    current one), `rounds` times over; returns the parameters and their objective."""
    best = start
    best_value = objective(scorer.first_ranks(convs, best))
    for _ in range(rounds):
        changed = False
        for name, values in grid.items():
            for value in values:
                if getattr(best, name) == value:
                    continue
                candidate = best.with_(**{name: value})
                found = objective(scorer.first_ranks(convs, candidate))
                if found > best_value + 1e-9:
                    best, best_value, changed = candidate, found, True
        if not changed:
            break
    return best, best_value


@dataclass(slots=True)
class CVResult:
    """Per-question ranks (scorer question order) in-sample and cross-validated."""

    in_sample: np.ndarray
    cross_validated: np.ndarray
    params: StudyParams
    """Tuned on every conversation (what ships)."""
    fold_params: dict[str, StudyParams] = field(default_factory=dict)
    """Tuned without the named conversation."""
    extra: dict[str, float] = field(default_factory=dict)
    """Tuned extension weights, when an extension was studied (`"all"` and per fold)."""


def cross_validate(
    scorer: Scorer, start: StudyParams, *, progress: Callable[[str], None] | None = None
) -> CVResult:
    """Leave-one-conversation-out: see the module docstring."""
    every = list(range(len(scorer.corpus)))
    params, _ = tune(scorer, every, start)
    in_sample = scorer.first_ranks(every, params)
    held_out: list[np.ndarray] = []
    folds = {}
    for conv in every:
        others = [c for c in every if c != conv]
        chosen, _ = tune(scorer, others, params)
        folds[scorer.corpus[conv].id] = chosen
        held_out.append(scorer.first_ranks([conv], chosen))
        if progress:
            progress(f"fold {scorer.corpus[conv].id}: {chosen}")
    return CVResult(in_sample, np.concatenate(held_out), params, folds)


def extension_study(
    scorer: Scorer,
    result: CVResult,
    make: Callable[[float], Extension],
    weights: Sequence[float],
) -> CVResult:
    """An extra signal on top of the tuned ranking: its weight is chosen from `weights`
    on the training conversations of each fold (the base parameters of that fold kept)."""
    every = list(range(len(scorer.corpus)))

    def best_weight(convs: list[int], params: StudyParams) -> float:
        scored = [
            (objective(scorer.first_ranks(convs, params, make(w))), -i)
            for i, w in enumerate(weights)
        ]
        return weights[-max(scored)[1]]

    weight = best_weight(every, result.params)
    in_sample = scorer.first_ranks(every, result.params, make(weight))
    held_out = []
    extra = {"all": weight}
    for conv in every:
        conv_id = scorer.corpus[conv].id
        params = result.fold_params[conv_id]
        chosen = best_weight([c for c in every if c != conv], params)
        extra[conv_id] = chosen
        held_out.append(scorer.first_ranks([conv], params, make(chosen)))
    return CVResult(in_sample, np.concatenate(held_out), result.params, result.fold_params, extra)
