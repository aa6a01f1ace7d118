"""The LangSmith paths against a local LangSmith API that records what it is sent.

A key holder's first run must not be the first time this code executes: the evaluation
experiment upload (dataset, examples, experiment, runs, feedback) and `LANGSMITH_TRACING`
of chat turns go through the real `langsmith` client to `LANGSMITH_ENDPOINT` on loopback.
"""

from __future__ import annotations

import json
from pathlib import Path

from hippograph.eval.tracing import EXPERIMENT_PREFIX
from tests.servers import free_port
from tests.tracing.conftest import clean_env, run_hippograph
from tests.tracing.fake_langsmith import FakeLangSmith, fake_langsmith

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "locomo"
EVALUATORS = {"recall_any@1", "recall_any@5", "recall_any@10", "recall_any@20", "mrr"}


def _env(fake: FakeLangSmith, **extra: str) -> dict[str, str]:
    return clean_env(LANGSMITH_ENDPOINT=fake.url, LANGSMITH_API_KEY="lsv2_pt_test", **extra)


def test_eval_uploads_its_experiment(tmp_path: Path) -> None:
    with fake_langsmith() as fake:
        run_hippograph(
            "eval", "locomo", "--data", str(FIXTURES), "--out", str(tmp_path), env=_env(fake)
        )
    report = json.loads((tmp_path / "report.json").read_text())
    questions = len(report["questions"])

    # the dataset and one example per question, with the reference evidence
    (dataset,) = fake.calls("POST", "/datasets")
    assert dataset.body["name"].startswith("locomo-")
    examples = fake.calls("POST", "/examples/bulk")[0].body
    assert len(examples) == questions == 6
    assert {e["inputs"]["question"] for e in examples} == {
        q["question"] for q in report["questions"]
    }
    assert all(e["dataset_id"] == fake.examples[0]["dataset_id"] for e in examples)

    # the experiment: a session on that dataset, named as the report says
    (session,) = fake.calls("POST", "/sessions")
    assert session.body["name"].startswith(EXPERIMENT_PREFIX)
    assert session.body["name"] == report["experiment"]
    assert session.body["reference_dataset_id"] == next(iter(fake.datasets))

    # one target run per example, linked to it, with what was retrieved
    runs = [r for r in fake.runs() if r.get("reference_example_id")]
    assert {r["reference_example_id"] for r in runs} == {e["id"] for e in examples}
    outputs = [r["outputs"] for r in runs if r.get("outputs")]
    assert outputs and all("retrieved" in o for o in outputs)

    # feedback: every evaluator scored every example, and the scores are the report's
    feedback = fake.feedback()
    assert {f["key"] for f in feedback} == EVALUATORS
    assert len(feedback) == len(EVALUATORS) * questions
    scored = [
        f["score"] for f in feedback if f["key"] == "recall_any@10" and f["score"] is not None
    ]
    assert len(scored) == report["overall"]["questions"]
    assert round(sum(scored) / len(scored), 4) == report["overall"]["recall_any@10"]


def test_langsmith_tracing_of_chat_turns(tmp_path: Path) -> None:
    """`LANGSMITH_TRACING=true` works as LangChain defines it, alongside ours — here with
    our OTLP backend down, which costs the chat one warning line and nothing else."""
    with fake_langsmith() as fake:
        env = _env(
            fake,
            LANGSMITH_TRACING="true",
            HIPPOGRAPH_DB=str(tmp_path / "m.db"),
            HIPPOGRAPH_TRACING="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        )
        done = run_hippograph(
            "chat", "--user", "dora", "--thread", "ls-thread",
            env=env, stdin="I keep bees in my garden.\n",
        )  # fmt: skip
    runs = fake.runs()
    names = {r.get("name") for r in runs}
    assert {"hippograph", "retrieve", "respond", "extract", "reconcile"} <= names
    root = next(r for r in runs if r.get("name") == "hippograph" and r.get("inputs"))
    assert root["extra"]["metadata"]["thread_id"] == "ls-thread"
    assert "+ ADDED   I keep bees in my garden." in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("tracing: spans dropped"), done.stderr
