"""Scripted reconcile answers that look at the prompt, the way a real model must."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage


def prompt_text(messages: list[BaseMessage]) -> str:
    """All the text the model was shown."""
    return "\n".join(m.text for m in messages)


def handle_of(content: str, messages: list[BaseMessage]) -> int:
    """The handle the reconcile prompt gave the memory whose text is `content`."""
    for line in prompt_text(messages).splitlines():
        match = re.match(r"\[(\d+)\] \([a-z]+\) (.*)$", line.strip())
        if match and match.group(2) == content:
            return int(match.group(1))
    raise AssertionError(f"{content!r} was not shown to the model")


def act_on(op: str, content: str, new: str | None = None) -> Callable[[list[BaseMessage]], Any]:
    """A scripted reconcile answer: `op` on the memory shown with text `content`."""

    def answer(messages: list[BaseMessage]) -> dict[str, Any]:
        action: dict[str, Any] = {"op": op, "handle": handle_of(content, messages)}
        if new is not None:
            action["content"] = new
        return {"actions": [action]}

    return answer


def facts(*items: tuple[str, str, float] | tuple[str, str, float, str]) -> dict[str, Any]:
    """A scripted extraction answer."""
    out = []
    for item in items:
        fact = {"content": item[0], "category": item[1], "importance": item[2]}
        if len(item) == 4:
            fact["intent"] = item[3]
        out.append(fact)
    return {"facts": out}


ADD = {"actions": [{"op": "ADD"}]}


def turn_candidates(agent: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The facts extract pulled from the thread's latest turn: scratch state, kept in the
    checkpoint but not in what a run returns (the agent's `output_schema`)."""
    return list(agent.get_state(config).values.get("candidates") or [])
