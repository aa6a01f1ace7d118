"""Graphs `tests/test_studio.py` adds to the `langgraph dev` it starts: the memory agent
with a `ScriptedChatModel` that answers every call (respond, extract, reconcile) the way a
cooperative model would, so the SDK tests see what a client sees with a model."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import BaseMessage

from hippograph.graph.agent import build_agent_graph
from hippograph.scripted import ScriptedChatModel

ANSWER = "Noted, I will keep that in mind."
"""What the scripted agent answers every turn (it streams token by token)."""


def _latest_message(prompt: str) -> str:
    match = re.search(r"<message>\s*(.*?)\s*</message>", prompt, re.S)
    return match.group(1) if match else ""


def _answer(messages: list[BaseMessage]) -> Any:
    """Answer like a model would, reading which node asks from its prompt."""
    system = messages[0].text if messages else ""
    if system.startswith("You extract durable facts"):
        said = _latest_message("\n".join(m.text for m in messages))
        if not said or said.rstrip().endswith("?"):
            return {"facts": []}
        return {"facts": [{"content": said, "category": "personal", "importance": 0.8}]}
    if system.startswith("You keep a user's long-term memory consistent"):
        return {"actions": [{"fact": 1, "op": "ADD"}]}
    return ANSWER


graph = build_agent_graph(model=ScriptedChatModel(default=_answer)).compile(name="scripted")
