"""respond: answer the user with the recalled memories in the system prompt (streams)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from hippograph.memory.chat_models import call_model, pick_model
from hippograph.memory.context import Context, memory_context
from hippograph.memory.state import RecalledMemory, State
from hippograph.prompts import respond as prompts

RESPOND_MAX_TOKENS = 1024
"""Completion bound of an answer."""


def render_memories(recalled: list[RecalledMemory]) -> str:
    """One line per memory for the system prompt: `- [category] text (stated 2024-05-08)`."""
    if not recalled:
        return prompts.NO_MEMORIES
    lines = []
    for memory in recalled:
        stated = str(memory.get("timestamp", ""))[:10]
        when = f" (stated {stated})" if stated else ""
        lines.append(f"- [{memory['category']}] {memory['content']}{when}")
    return "\n".join(lines)


def offline_answer(recalled: list[RecalledMemory]) -> str:
    """The offline reply: what was recalled, with scores (there is no model to answer)."""
    if not recalled:
        return prompts.OFFLINE_NOTHING
    lines = [f"- {m['content']} (score {m['score']:.2f})" for m in recalled]
    return "\n".join([prompts.OFFLINE_HEADER, *lines])


def respond(
    state: State, runtime: Runtime[Context], *, model: BaseChatModel | None = None
) -> dict[str, Any]:
    """Answer the latest turn. With a model, its tokens stream through LangGraph's
    `messages` stream mode; offline, the reply lists the recalled memories."""
    context = memory_context(runtime)
    chat = pick_model(context.model, model)
    recalled = list(state.get("recalled") or [])
    if chat is None:
        return {"messages": [AIMessage(offline_answer(recalled))]}
    prompt = prompts.PROMPT.format_messages(
        memories=render_memories(recalled), messages=state["messages"]
    )
    return {"messages": [call_model("respond", chat, prompt, max_tokens=RESPOND_MAX_TOKENS)]}
