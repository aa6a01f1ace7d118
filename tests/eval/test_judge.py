"""The LLM-judge path, driven by a scripted chat model (no network, no key)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from hippograph.eval.judge import LLMJudge
from hippograph.eval.report import build_report
from hippograph.eval.runner import OURS, EvalConfig, run_locomo
from hippograph.store import LocalEmbeddings


class ScriptedChat(BaseChatModel):
    """Answers from the memories in its prompt; judges by substring; declines unknowns.

    A real `BaseChatModel`: structured output goes through `bind_tools` and tool calls.
    """

    tool_name: str | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.model_copy(update={"tool_name": tools[0].__name__})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "\n".join(str(m.content) for m in messages)
        if self.tool_name == "Verdict":
            answer = text.split("Generated answer:")[1].split("\n")[0].lower()
            gold = text.split("Gold answer:")[1].split("\n")[0].strip().lower()
            label = "CORRECT" if gold and gold.split()[0] in answer else "WRONG"
            call = {"name": "Verdict", "args": {"reasoning": "compared", "label": label}}
        elif self.tool_name == "Declined":
            call = {"name": "Declined", "args": {"declined": "don't know" in text.lower()}}
        else:
            question = str(messages[-1].content)
            memories = str(messages[0].content)
            if "dog" in question and "Biscuit" in memories:
                reply = "Biscuit"
            elif "kayaking" in question and "Tahoe" in memories:
                reply = "Lake Tahoe"
            else:
                reply = "I don't know."
            return ChatResult(generations=[ChatGeneration(message=AIMessage(reply))])
        message = AIMessage("", tool_calls=[{**call, "id": "call-1", "type": "tool_call"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_judge_grades_answers_and_counts_declined_adversarial(
    data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    config = EvalConfig(data=data_dir, embeddings=embeddings, model="scripted", progress=False)
    results = run_locomo(config, LLMJudge(ScriptedChat()))
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
