"""Answer questions from retrieved memories and grade the answers with an LLM judge.

Core pieces:
    - `answer_with_memory(model, question, hits)`: the answer and the context tokens it used.
    - `LLMJudge`: CORRECT/WRONG grading as in the mem0/LoCoMo protocol, and for adversarial
      questions whether the answer says it doesn't know. Called by the runner once per
      question (`LLMJudge.__call__` is the runner's `Answerer`).

Any chat model works (`init_chat_model("provider:model")`); grading uses structured output,
so a malformed verdict raises instead of silently counting as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from pydantic import BaseModel, Field

from hippograph.eval.dataset import Question
from hippograph.eval.metrics import Hit
from hippograph.memory.chat_models import bounded, structured_method
from hippograph.prompts.judge import ANSWER_WITH_MEMORY, JUDGE, SAYS_UNKNOWN

ANSWER_MAX_TOKENS = 256
JUDGE_MAX_TOKENS = 192
"""Completion bounds of an answer and of a verdict (structured output in the model's own
method: json_schema for the local model)."""


class Verdict(BaseModel):
    """The judge's grading of one answer."""

    reasoning: str = Field(description="One sentence explaining the label.")
    label: Literal["CORRECT", "WRONG"]


class Declined(BaseModel):
    """Whether an answer declines to state a fact."""

    declined: bool = Field(description="True if the answer says it does not know.")


def _memory_lines(hits: Sequence[Hit]) -> str:
    lines = [f"- [{hit.at[:10] if hit.at else 'undated'}] {hit.content}" for hit in hits]
    return "\n".join(lines) or "(no memories)"


def answer_with_memory(model: BaseChatModel, question: str, hits: Sequence[Hit]) -> tuple[str, int]:
    """Answer `question` from the retrieved memories; return the answer and the approximate
    number of tokens of the prompt (the context the memories cost)."""
    messages = [
        SystemMessage(ANSWER_WITH_MEMORY.format(memories=_memory_lines(hits))),
        HumanMessage(question),
    ]
    reply = bounded(model, ANSWER_MAX_TOKENS).invoke(messages)
    return str(reply.text).strip(), count_tokens_approximately(messages)


class LLMJudge:
    """Answers each question with `answer_with_memory`, then grades it.

    Args:
        model: The chat model that answers.
        judge: The chat model that grades (default: `model`).
    """

    def __init__(self, model: BaseChatModel, judge: BaseChatModel | None = None) -> None:
        self.model = model
        grader = judge or model
        method = structured_method(grader)
        options: dict[str, Any] = {"method": method} if method else {}
        self._grade = bounded(grader, JUDGE_MAX_TOKENS).with_structured_output(Verdict, **options)
        self._declined = bounded(grader, JUDGE_MAX_TOKENS).with_structured_output(
            Declined, **options
        )

    def grade(self, question: str, reference: str, answer: str) -> bool:
        """True when the judge labels `answer` CORRECT against `reference`."""
        verdict = self._grade.invoke(
            JUDGE.format(question=question, reference=reference, answer=answer)
        )
        if not isinstance(verdict, Verdict):
            verdict = Verdict.model_validate(verdict)
        return verdict.label == "CORRECT"

    def says_unknown(self, question: str, answer: str) -> bool:
        """True when `answer` declines to state a fact (the right reply to an adversarial
        question)."""
        result = self._declined.invoke(SAYS_UNKNOWN.format(question=question, answer=answer))
        if not isinstance(result, Declined):
            result = Declined.model_validate(result)
        return result.declined

    def __call__(self, question: Question, hits: list[Hit]) -> dict[str, Any]:
        """Answer and grade one question (adversarial ones: did it decline?)."""
        answer, tokens = answer_with_memory(self.model, question.question, hits)
        out: dict[str, Any] = {"answer": answer, "context_tokens": tokens}
        if question.category == 5:
            out["abstained"] = self.says_unknown(question.question, answer)
        else:
            out["correct"] = self.grade(question.question, question.answer or "", answer)
        return out
