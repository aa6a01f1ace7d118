"""The memory agent's state schema.

Defined beside the nodes that read it (`hippograph.memory.state`, so layers only import
downward) and re-exported here, where the graph is wired.
"""

from hippograph.memory.state import (
    AgentOutput,
    Candidate,
    MemoryOp,
    OpName,
    RecalledMemory,
    RecallOutput,
    RememberOutput,
    State,
    TurnInput,
)

__all__ = [
    "AgentOutput",
    "Candidate",
    "MemoryOp",
    "OpName",
    "RecallOutput",
    "RecalledMemory",
    "RememberOutput",
    "State",
    "TurnInput",
]
