"""One chat turn through the memory agent, streamed: what the CLI and the UI chats share.

Core pieces:
    - `TurnStream`: iterate it for the answer's text as the model produces it; afterwards
      `state` holds the turn's final state (`messages`, `recalled`, `ops`).
    - `chat_context`: the run context the chat surfaces use for a user.
    - `stream_modes`: the LangGraph stream modes a turn of an agent asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessageChunk
from langgraph.types import Durability

from hippograph.graph.thread_check import ThreadCheckedGraph
from hippograph.store.threads import claim_thread


def chat_context(user_id: str) -> dict[str, Any]:
    """Run context of an interactive chat: `user_id`, and questions are not stored verbatim."""
    return {"user_id": user_id, "store_questions": False}


CHAT_DURABILITY: Durability = "exit"
"""Chat turns (`TurnStream`, `answer_with_memory`) checkpoint once, when the turn ends
(LangGraph's `durability="exit"`, also when it raises): the thread holds whole turns only,
and a turn skips the per-node checkpoint writes and commits (`offline` against `chat` in
`benchmarks/results/agent_overhead.md`). A process killed mid-turn keeps none of that turn:
the caller, who got no answer either, runs it again."""


def stream_modes(agent: Any) -> list[str]:
    """LangGraph stream modes for a turn of `agent`: `values` (the turn's state), and
    `messages` (the answer's tokens) unless the agent is known to answer without a chat
    model (`AgentBuilder.streams_tokens`), where that mode would only cost time: it runs
    every node on a worker thread (issue 16, `chat_stream` in
    `benchmarks/results/agent_overhead.md`)."""
    builder = getattr(agent, "builder", None)
    if getattr(builder, "streams_tokens", None) is False:
        return ["values"]
    return ["messages", "values"]


class TurnStream:
    """A turn of `agent` on `text`, streamed token by token.

    With a model, the respond node's tokens arrive as the model produces them; offline
    (or with a model that does not stream) the whole answer arrives at the end. Errors of
    the run (e.g. `ModelCallError`) are raised from the iteration, and so is
    `ThreadOwnerError` for a thread of another user, before the run touches it.

    Example:
        ```python
        turn = TurnStream(agent, "I switched to Java", thread_id="t1", user_id="alice")
        for token in turn:
            print(token, end="")
        turn.state["ops"]  # [{"op": "UPDATE", ...}]
        ```
    """

    def __init__(self, agent: Any, text: str, *, thread_id: str, user_id: str) -> None:
        self.agent = agent
        self.text = text
        self.config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
        self.context = chat_context(user_id)
        self.state: dict[str, Any] = {}

    def __iter__(self) -> Iterator[str]:
        store = getattr(self.agent, "store", None)
        if store is not None and not isinstance(self.agent, ThreadCheckedGraph):
            # refuse another user's thread before the run touches it (our agent's runs do)
            claim_thread(store, self.context["user_id"], self.config["configurable"]["thread_id"])
        streamed = False
        for mode, payload in self.agent.stream(
            {"messages": [{"role": "user", "content": self.text}]},
            config=self.config,
            context=self.context,
            stream_mode=stream_modes(self.agent),
            durability=CHAT_DURABILITY,
        ):
            if mode == "values":
                self.state = payload
                continue
            chunk, meta = payload
            is_answer = meta.get("langgraph_node") == "respond"
            if is_answer and isinstance(chunk, AIMessageChunk) and chunk.text:
                streamed = True
                yield chunk.text
        if not streamed and self.state.get("messages"):
            yield self.state["messages"][-1].text

    @property
    def answer(self) -> str:
        """The final answer's text (after iteration)."""
        messages = self.state.get("messages") or []
        return str(messages[-1].text) if messages else ""
