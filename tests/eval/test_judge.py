"""The LLM-judge path, driven by a scripted chat model (no network, no key)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from hippograph.eval.judge import LLMJudge
from hippograph.eval.report import build_report
from hippograph.eval.runner import OURS, EvalConfig, run_locomo
from hippograph.scripted import ScriptedChatModel
from hippograph.store import LocalEmbeddings


def answer_judge_or_decline(messages: list[BaseMessage]) -> Any:
    """Answers from the memories in its prompt; judges by substring; declines unknowns.

    Its dict replies become tool calls, parsed by LangChain's structured-output machinery.
    """
    text = "\n".join(str(m.content) for m in messages)
    if "Generated answer:" in text:
        answer = text.split("Generated answer:")[1].split("\n")[0].lower()
        gold = text.split("Gold answer:")[1].split("\n")[0].strip().lower()
        label = "CORRECT" if gold and gold.split()[0] in answer else "WRONG"
        return {"reasoning": "compared", "label": label}
    if "decline to answer" in text:
        return {"declined": "don't know" in text.lower()}
    question, memories = str(messages[-1].content), str(messages[0].content)
    if "dog" in question and "Biscuit" in memories:
        return "Biscuit"
    if "kayaking" in question and "Tahoe" in memories:
        return "Lake Tahoe"
    return "I don't know."


def test_judge_grades_answers_and_counts_declined_adversarial(
    data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    config = EvalConfig(data=data_dir, embeddings=embeddings, model="scripted", progress=False)
    results = run_locomo(config, LLMJudge(ScriptedChatModel(default=answer_judge_or_decline)))
    ours = {r.question: r for r in results.results[OURS]}
    dog = ours["What is the name of Alice's dog?"]
    assert (dog.answer, dog.judge) == ("Biscuit", True)
    assert ours["Where did Bob go kayaking?"].judge is True
    assert ours["When did Bob start learning the violin?"].judge is False
    assert dog.context_tokens is not None and dog.context_tokens > 20
    [adversarial] = results.adversarial
    assert adversarial.answer == "I don't know." and adversarial.abstained is True
    judge = build_report(results)["judge"]
    assert judge["graded"] == 6
    assert judge["accuracy"] == round(2 / 6, 4)
    assert judge["adversarial_says_unknown_rate"] == 1.0
    assert judge["context_tokens_mean"] > 20
