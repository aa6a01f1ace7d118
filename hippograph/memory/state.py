"""The graph state the memory nodes read and write, and the records they put in it.

Core pieces:
    - `State`: `messages` (add_messages), `recalled`, `candidates`, `ops`, `warnings`.
    - `RecalledMemory`, `Candidate`, `MemoryOp`: the typed records in those lists.
    - `MessageVectors`: the scratch key `recent_vectors` (retrieve's per-message vectors).
    - `TurnInput`: what a run takes (`messages`); `AgentOutput`: what the agent returns
      (`messages`, `recalled`, `ops`, `warnings` — not the scratch keys `candidates` and
      `recent_vectors`).
    - `RecallOutput` / `RememberOutput`: what the recall and remember subgraphs hand back.

The `TypedDict`s come from `typing_extensions`: on Python < 3.12 pydantic can only build
JSON schemas (LangGraph Studio's input, output and context forms) from those.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

OpName = Literal["ADD", "UPDATE", "DELETE", "NOOP"]


class RecalledMemory(TypedDict):
    """A memory retrieve found for this turn."""

    key: str
    content: str
    score: float
    category: str
    importance: float
    timestamp: NotRequired[str]
    via: NotRequired[dict[str, object]]
    """Recalled through a link from another recalled memory: `{"key", "relation", "hops"}`."""


class Candidate(TypedDict):
    """A fact extract pulled from the turn (or a request to forget something)."""

    content: str
    category: str
    importance: float
    intent: Literal["remember", "forget"]
    context: NotRequired[str]
    """Verbatim mode: the message just before the turn."""
    entities: NotRequired[list[str]]
    """Named entities the fact mentions (the model's, or found offline); reconcile links
    the memory to others naming them."""


class MemoryOp(TypedDict):
    """What reconcile did with one candidate."""

    op: OpName
    key: str | None
    content: str
    """The memory's text after the op (for DELETE: the text that was deleted)."""
    old_content: NotRequired[str]
    """UPDATE: the text before."""
    candidate: NotRequired[str]
    reason: NotRequired[str]
    score: NotRequired[float]
    """Similarity of the candidate to the memory acted on, when known."""
    category: NotRequired[str]
    importance: NotRequired[float]
    links: NotRequired[list[dict[str, str]]]
    """Links written with the memory: `[{"key": other memory, "relation": ...}]`."""


class MessageVectors(TypedDict):
    """The vectors of the thread's last user messages (`hippograph.memory.window`): retrieve
    pools its window query from them instead of embedding the joined text every turn.

    Attributes:
        embedder: `embedder_name` of the embedder that made them (another one's are ignored).
        vectors: Message text digest → unit vector (float16 bytes, base64: 768 bytes for
            MiniLM's 384 dimensions).
    """

    embedder: str
    vectors: dict[str, str]


class State(TypedDict):
    """State of the memory agent (and of the recall / remember subgraphs).

    Attributes:
        messages: The conversation (LangGraph's `add_messages` reducer).
        recalled: Memories retrieved for the latest turn, best first, with scores.
        candidates: Facts extracted from the latest turn.
        ops: What reconcile did with them (ADD / UPDATE / DELETE / NOOP).
        warnings: What went wrong in this turn's memory steps (a model that failed or
            answered unusably, a write refused because a memory changed meanwhile). The
            answer is kept; these say what was not remembered and why. Reset every turn.
        recent_vectors: Scratch: the vectors of the last `recall_window` user messages,
            kept so the next turn's window query needs no model run (not in the output).

    The turn's time is not state: it is `Context.turn_at`, an input of each run.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    recalled: NotRequired[list[RecalledMemory]]
    candidates: NotRequired[list[Candidate]]
    ops: NotRequired[list[MemoryOp]]
    warnings: NotRequired[list[str]]
    recent_vectors: NotRequired[MessageVectors]


class TurnInput(TypedDict):
    """What a run of the agent or a memory subgraph takes: the conversation's new messages
    (the last `HumanMessage` is the turn)."""

    messages: Annotated[list[AnyMessage], add_messages]


class AgentOutput(TypedDict):
    """What a run of the memory agent returns (its `output_schema`).

    Attributes:
        messages: The conversation, ending with the answer.
        recalled: The memories retrieved for this turn, best first, scores in [0, 1].
        ops: What the turn did to memory (ADD / UPDATE / DELETE / NOOP).
        warnings: What the memory steps could not do this turn (the answer is kept).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    recalled: list[RecalledMemory]
    ops: list[MemoryOp]
    warnings: list[str]


class RecallOutput(TypedDict):
    """Output of the recall subgraph."""

    recalled: list[RecalledMemory]


class RememberOutput(TypedDict):
    """Output of the remember subgraph."""

    candidates: list[Candidate]
    ops: list[MemoryOp]
    warnings: list[str]
