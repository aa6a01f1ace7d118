"""hippograph.graph: the memory agent and its subgraphs, wired from `hippograph.nodes`.

Core pieces:
    - `build_agent` / `open_agent` / `aopen_agent`: retrieve → respond → extract → reconcile.
    - `build_recall_graph` / `build_remember_graph`: memory for someone else's graph.
    - `State` / `Context`: the state and `context_schema` of all of them.
"""

from hippograph.graph.agent import aopen_agent, build_agent, build_agent_graph, open_agent
from hippograph.graph.context import Context
from hippograph.graph.state import State
from hippograph.graph.subgraphs import build_recall_graph, build_remember_graph

__all__ = [
    "Context",
    "State",
    "aopen_agent",
    "build_agent",
    "build_agent_graph",
    "build_recall_graph",
    "build_remember_graph",
    "open_agent",
]
