"""The LangSmith path: the evaluation as a `langsmith.evaluate` experiment.

Core pieces:
    - `enabled(config)`: run as an experiment? (`config.langsmith`, else `LANGSMITH_API_KEY`).
    - `examples(runs)`: one LangSmith example per question (inputs: conversation, question;
      reference: evidence ids, answer, category).
    - `run_experiment(...)`: `evaluate()` with our retrieval (and answerer) as the target and
      evaluators for recall@k, MRR and — with a model — the judge's verdict.

With `upload_results=False` nothing leaves the machine (no key needed): the experiment runs
locally, which is how the tests exercise this path. The target also records each answer in
the run's `EvalResults`, so the local report is the same whichever path ran.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hippograph.eval.dataset import SCORED_CATEGORIES, Question
from hippograph.eval.metrics import Hit, recall_any, reciprocal_rank

if TYPE_CHECKING:
    from langsmith import schemas

    from hippograph.eval.metrics import QuestionResult
    from hippograph.eval.runner import Answerer, ConversationRun, EvalConfig, EvalResults

    Asker = Callable[[ConversationRun, Question, int, Answerer | None], dict[str, QuestionResult]]

EXPERIMENT_PREFIX = "hippograph-locomo"
_NAMESPACE = uuid.UUID("5b0a7c1e-9f43-4c1d-8a31-2f1f0d6c4e70")


def enabled(config: EvalConfig) -> bool:
    """Whether to run as a LangSmith experiment."""
    if config.langsmith is not None:
        return config.langsmith
    return bool(os.environ.get("LANGSMITH_API_KEY", "").strip())


def _example_id(conversation: str, index: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{conversation}/{index}")


def examples(runs: Sequence[ConversationRun], with_model: bool) -> list[schemas.Example]:
    """One example per question asked (ids are stable: conversation id + question index)."""
    from langsmith import schemas

    from hippograph.eval.runner import known_evidence, questions_of

    dataset_id = uuid.uuid5(_NAMESPACE, "locomo")
    out = []
    for run in runs:
        for question in questions_of(run.conversation, with_model):
            index = run.conversation.questions.index(question)
            out.append(
                schemas.Example(
                    id=_example_id(run.conversation.id, index),
                    dataset_id=dataset_id,
                    created_at=datetime.now(UTC),
                    inputs={
                        "conversation": run.conversation.id,
                        "index": index,
                        "question": question.question,
                    },
                    outputs={
                        "evidence": list(known_evidence(run.conversation, question)),
                        "answer": question.answer,
                        "category": question.category,
                    },
                )
            )
    return out


def _hits(outputs: dict[str, Any]) -> list[Hit]:
    return [
        Hit(str(h["key"]), h.get("score"), tuple(h.get("message_ids") or ()))
        for h in outputs.get("retrieved") or []
    ]


def _scored(reference: dict[str, Any]) -> bool:
    return bool(reference.get("evidence")) and reference.get("category") in SCORED_CATEGORIES


def recall_evaluator(k: int) -> Callable[..., dict[str, Any]]:
    """A LangSmith evaluator: evidence recall_any@k of the retrieved memories."""

    def evaluate(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
        if not _scored(reference_outputs):
            return {"key": f"recall_any@{k}", "score": None, "comment": "not scored"}
        score = recall_any(reference_outputs["evidence"], _hits(outputs), k)
        return {"key": f"recall_any@{k}", "score": score}

    evaluate.__name__ = f"recall_any_at_{k}"
    return evaluate


def mrr_evaluator(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
    """A LangSmith evaluator: reciprocal rank of the first memory covering an evidence turn."""
    if not _scored(reference_outputs):
        return {"key": "mrr", "score": None, "comment": "not scored"}
    return {"key": "mrr", "score": reciprocal_rank(reference_outputs["evidence"], _hits(outputs))}


def judge_evaluator(outputs: dict[str, Any]) -> dict[str, Any]:
    """A LangSmith evaluator: the LLM judge's verdict (categories 1–4) or, for adversarial
    questions, whether the answer declined to invent one."""
    if outputs.get("category") == 5:
        return {"key": "abstained", "score": outputs.get("abstained")}
    return {"key": "judge_correct", "score": outputs.get("correct")}


def _dataset_name(runs: Sequence[ConversationRun]) -> str:
    ids = ",".join(sorted(run.conversation.id for run in runs))
    return f"locomo-{hashlib.sha1(ids.encode()).hexdigest()[:8]}"


def _upload_dataset(runs: Sequence[ConversationRun], data: list[schemas.Example]) -> str:
    from langsmith import Client

    client = Client()
    name = _dataset_name(runs)
    if not client.has_dataset(dataset_name=name):
        dataset = client.create_dataset(name, description="LoCoMo questions (hippograph eval)")
        client.create_examples(
            dataset_id=dataset.id,
            examples=[
                {"id": ex.id, "inputs": ex.inputs, "outputs": ex.outputs or {}} for ex in data
            ],
        )
    return name


def run_experiment(
    config: EvalConfig,
    runs: Sequence[ConversationRun],
    limit: int,
    answerer: Answerer | None,
    results: EvalResults,
    *,
    ask: Asker | None = None,
) -> str | None:
    """Run every question through `langsmith.evaluate`; return the experiment name.

    `ask` asks one question (default `runner.ask`; the run passes its OpenTelemetry
    experiment's, so the questions are spans too when tracing is on).
    """
    from langsmith import evaluate

    from hippograph.eval import runner
    from hippograph.eval.runner import OURS, record

    ask = ask or runner.ask

    by_id = {run.conversation.id: run for run in runs}

    def target(inputs: dict[str, Any]) -> dict[str, Any]:
        run = by_id[inputs["conversation"]]
        question: Question = run.conversation.questions[int(inputs["index"])]
        answered = ask(run, question, limit, answerer)
        record(results, answered)
        ours = answered[OURS]
        return {
            "retrieved": [
                {"key": h.key, "score": h.score, "message_ids": list(h.message_ids)}
                for h in ours.hits
            ],
            "answer": ours.answer,
            "correct": ours.judge,
            "abstained": ours.abstained,
            "category": question.category,
        }

    data = examples(runs, answerer is not None)
    evaluators: list[Callable[..., dict[str, Any]]] = [recall_evaluator(k) for k in config.all_ks]
    evaluators.append(mrr_evaluator)
    if answerer is not None:
        evaluators.append(judge_evaluator)
    source: Any = _upload_dataset(runs, data) if config.upload_results else data
    outcome = evaluate(
        target,
        data=source,
        evaluators=evaluators,
        experiment_prefix=EXPERIMENT_PREFIX,
        metadata={"mode": config.mode, "ks": list(config.all_ks)},
        max_concurrency=0,
        upload_results=config.upload_results,
    )
    return getattr(outcome, "experiment_name", None)
