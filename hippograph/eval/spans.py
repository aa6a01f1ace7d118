"""The evaluation as OpenTelemetry spans, when tracing is on (`HIPPOGRAPH_TRACING=otlp`).

Core pieces:
    - `Experiment.start(config)`: names this run (`hippograph-locomo-<time>-<id>`); a no-op
      when tracing is off.
    - `Experiment.ask(run, question, ...)`: asks one question inside a `locomo question`
      span (its own trace) that carries the question, what was retrieved and its scores;
      the search's embedder call and any answer / judge model calls are its children.
    - `Experiment.finish(results)`: one `locomo experiment` span with the overall scores.

Every span of the experiment has `session.id` = the experiment name, so a backend that
groups by session (Phoenix's Sessions) shows the experiment as one list of questions.
Ingesting the conversations is traced too, through the remember graph (one trace per turn,
`user.id` = the conversation's pseudonym). Scores are the report's own (`summarize`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hippograph.eval.dataset import Question
from hippograph.eval.metrics import QuestionResult, summarize

if TYPE_CHECKING:
    from hippograph.eval.runner import Answerer, ConversationRun, EvalConfig, EvalResults
    from hippograph.tracing import Tracing

QUESTION_SPAN = "locomo question"
EXPERIMENT_SPAN = "locomo experiment"
PREFIX = "hippograph.eval."
EXPERIMENT = PREFIX + "experiment"


def experiment_name() -> str:
    """A fresh experiment name: `hippograph-locomo-<UTC time>-<6 hex>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"hippograph-locomo-{stamp}-{uuid.uuid4().hex[:6]}"


def question_scores(result: QuestionResult, ks: tuple[int, ...]) -> dict[str, float]:
    """The question's scores, as the report computes them: recall_any@k, recall_all@k and
    MRR when it has evidence, the judge's verdict and abstention when a model answered."""
    scores: dict[str, float] = {}
    if result.evidence:
        summary = summarize([result], ks)
        scores.update({k: float(v) for k, v in summary.items() if k != "questions"})
    if result.judge is not None:
        scores["judge_correct"] = float(result.judge)
    if result.abstained is not None:
        scores["abstained"] = float(result.abstained)
    return scores


def _evaluations(scores: dict[str, float]) -> dict[str, Any]:
    """The scores in OpenInference's span-evaluation convention (`evaluation.N.*`)."""
    from openinference.instrumentation import get_evaluation_attributes

    return get_evaluation_attributes(
        evaluations=[
            {"name": name, "score": score, "annotator_kind": "CODE"}
            for name, score in scores.items()
        ]
    )


@dataclass(slots=True)
class Experiment:
    """One evaluation run's spans (`tracing is None`: tracing is off, nothing is sent)."""

    name: str
    ks: tuple[int, ...]
    tracing: Tracing | None
    started_ns: int

    @classmethod
    def start(cls, config: EvalConfig) -> Experiment:
        """The experiment of this run; spans only if tracing is active in the process."""
        from hippograph.tracing import active_tracing

        return cls(experiment_name(), config.all_ks, active_tracing(), time.time_ns())

    @property
    def traced(self) -> bool:
        """True when this run's spans are exported."""
        return self.tracing is not None

    @contextmanager
    def _span(
        self,
        name: str,
        user: str | None,
        attributes: dict[str, Any],
        start_time: int | None = None,
    ) -> Iterator[Any]:
        assert self.tracing is not None
        from openinference.instrumentation import using_attributes
        from opentelemetry.context import Context

        shown = self.tracing.pseudonym(user) if user else None
        with (
            using_attributes(session_id=self.name, user_id=shown or ""),
            self.tracing.tracer.start_as_current_span(
                name,
                context=Context(),  # a trace of its own, whatever the caller runs in
                start_time=start_time,
                attributes={"openinference.span.kind": "CHAIN", EXPERIMENT: self.name} | attributes,
            ) as span,
        ):
            yield span

    def ask(
        self,
        run: ConversationRun,
        question: Question,
        limit: int,
        answerer: Answerer | None,
    ) -> dict[str, QuestionResult]:
        """`runner.ask`, inside a `locomo question` span carrying the question's scores."""
        from hippograph.eval.runner import OURS, ask

        if self.tracing is None:
            return ask(run, question, limit, answerer)
        conversation = run.conversation
        attributes = {
            "input.value": question.question,
            PREFIX + "conversation": conversation.id,
            PREFIX + "question_index": conversation.questions.index(question),
            PREFIX + "category": question.category,
            PREFIX + "evidence": list(question.evidence),
        }
        if question.answer is not None:
            attributes[PREFIX + "reference"] = str(question.answer)
        with self._span(QUESTION_SPAN, run.user_id, attributes) as span:
            answered = ask(run, question, limit, answerer)
            ours = answered[OURS]
            scores = question_scores(ours, self.ks)
            retrieved = [{"key": h.key, "score": h.score} for h in ours.hits]
            span.set_attributes(
                {
                    "output.value": json.dumps({"retrieved": retrieved, "answer": ours.answer}),
                    "output.mime_type": "application/json",
                    "hippograph.recall.count": len(ours.hits),
                    "hippograph.recall.scores": [float(h.score or 0.0) for h in ours.hits],
                    "hippograph.recall.keys": [h.key for h in ours.hits],
                    **{PREFIX + name: score for name, score in scores.items()},
                    **_evaluations(scores),
                }
            )
        return answered

    def finish(self, results: EvalResults) -> None:
        """One `locomo experiment` span with the overall scores, then flush the spans."""
        from hippograph.eval.runner import OURS

        if self.tracing is None:
            return
        overall = summarize(results.results.get(OURS, []), self.ks)
        attributes = {PREFIX + name: value for name, value in overall.items()}
        attributes[PREFIX + "conversations"] = [c["id"] for c in results.conversations]
        attributes[PREFIX + "mode"] = results.config.mode
        with self._span(EXPERIMENT_SPAN, None, attributes, start_time=self.started_ns):
            pass
        self.tracing.flush()
