"""The memory agent's state schema.

Defined beside the nodes that read it (`hippograph.memory.state`, so layers only import
downward) and re-exported here, where the graph is wired.
"""

from hippograph.memory.state import (
    Candidate,
    MemoryOp,
    OpName,
    RecalledMemory,
    RecallOutput,
    RememberOutput,
    State,
)

__all__ = [
    "Candidate",
    "MemoryOp",
    "OpName",
    "RecallOutput",
    "RecalledMemory",
    "RememberOutput",
    "State",
]
