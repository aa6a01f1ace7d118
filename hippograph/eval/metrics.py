"""Retrieval metrics over provenance: evidence recall@k (any / all), MRR, latency percentiles.

Core pieces:
    - `Hit`: one retrieved memory (or raw turn): key, score, the `dia_id`s it came from.
    - `QuestionResult`: a question, its evidence, and what one system retrieved for it.
    - `summarize`: recall_any@k, recall_all@k and MRR over a set of results.
    - `latency_summary`: p50 / p95 / mean of a list of durations.

A memory "covers" an evidence turn when the turn's id is in its provenance
(`source.message_ids`). recall_any@k is 1 when the top k cover at least one evidence turn,
recall_all@k when they cover every one; the reciprocal rank is that of the first memory
covering any evidence turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)
"""The k of recall@k that every report carries (DESIGN §7)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved record and the dialogue turns it derives from."""

    key: str
    score: float | None
    message_ids: tuple[str, ...]
    content: str = ""
    at: str | None = None
    """When it was said (ISO-8601), if known."""
    via: str | None = None
    """Key of the result it was reached from through a link (link expansion), if so."""


@dataclass(slots=True)
class QuestionResult:
    """What one system retrieved for one question.

    Attributes:
        conversation: Conversation id.
        question: The question text.
        category: LoCoMo category (1–5).
        evidence: Evidence `dia_id`s that exist in the conversation.
        hits: Retrieved records, best first.
        latency_s: Seconds the search took.
        answer / judge / abstained / context_tokens: Filled when a model answers.
    """

    conversation: str
    question: str
    category: int
    evidence: tuple[str, ...]
    hits: list[Hit]
    latency_s: float = 0.0
    reference: str | None = None
    answer: str | None = None
    judge: bool | None = None
    abstained: bool | None = None
    context_tokens: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _covered(hits: Sequence[Hit], k: int) -> set[str]:
    return {mid for hit in hits[:k] for mid in hit.message_ids}


def recall_any(evidence: Iterable[str], hits: Sequence[Hit], k: int) -> float:
    """1.0 if the top `k` hits cover at least one evidence turn."""
    return float(bool(set(evidence) & _covered(hits, k)))


def recall_all(evidence: Iterable[str], hits: Sequence[Hit], k: int) -> float:
    """1.0 if the top `k` hits cover every evidence turn."""
    wanted = set(evidence)
    return float(bool(wanted) and wanted <= _covered(hits, k))


def reciprocal_rank(evidence: Iterable[str], hits: Sequence[Hit]) -> float:
    """1 / rank of the first hit covering an evidence turn (0.0 when none does)."""
    wanted = set(evidence)
    for rank, hit in enumerate(hits, start=1):
        if wanted & set(hit.message_ids):
            return 1.0 / rank
    return 0.0


def summarize(results: Sequence[QuestionResult], ks: Sequence[int] = DEFAULT_KS) -> dict:
    """`{"recall_any@k", "recall_all@k" for each k, "mrr", "questions"}` over `results`
    (questions without evidence are skipped)."""
    scored = [r for r in results if r.evidence]
    summary: dict[str, float | int] = {}
    for k in sorted(set(ks)):
        summary[f"recall_any@{k}"] = _mean(recall_any(r.evidence, r.hits, k) for r in scored)
    for k in sorted(set(ks)):
        summary[f"recall_all@{k}"] = _mean(recall_all(r.evidence, r.hits, k) for r in scored)
    summary["mrr"] = _mean(reciprocal_rank(r.evidence, r.hits) for r in scored)
    summary["questions"] = len(scored)
    return summary


def _mean(values: Iterable[float]) -> float:
    array = np.fromiter(values, dtype=np.float64)
    return round(float(array.mean()), 4) if len(array) else 0.0


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50, p95 and mean in milliseconds, and the count."""
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "mean_ms": 0.0, "n": 0}
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "n": len(ms),
    }
