"""The memory agent's `context_schema`: user, model, k and thresholds.

Defined beside the nodes that read it (`hippograph.memory.context`, so layers only import
downward) and re-exported here, where the graph is wired.
"""

from hippograph.memory.context import (
    Context,
    MissingUserError,
    UnknownContextKeyError,
    memory_context,
)

__all__ = ["Context", "MissingUserError", "UnknownContextKeyError", "memory_context"]
