"""Evaluation of hippograph's long-term memory on LoCoMo-shaped benchmarks.

Core pieces:
    - `load_conversations`: read LoCoMo-shaped `*.json` files into typed conversations.
    - `TurnIngestor`: the one way the evaluation writes memories — the agent's remember
      subgraph (verbatim or extract mode).
    - `run_locomo(EvalConfig(...))`: ingest, ask, score (recall@k, MRR, latency, judge).
    - `write_report`: `report.json`, `report.md` and plots.
The CLI is `hippograph/eval/cli.py: app` (`hippograph eval locomo`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hippograph.eval.dataset import Conversation, Question, Turn, load_conversations
    from hippograph.eval.ingest import TurnIngestor
    from hippograph.eval.report import write_report
    from hippograph.eval.runner import EvalConfig, EvalResults, run_locomo

_EXPORTS = {
    "Conversation": "hippograph.eval.dataset",
    "Question": "hippograph.eval.dataset",
    "Turn": "hippograph.eval.dataset",
    "load_conversations": "hippograph.eval.dataset",
    "TurnIngestor": "hippograph.eval.ingest",
    "write_report": "hippograph.eval.report",
    "EvalConfig": "hippograph.eval.runner",
    "EvalResults": "hippograph.eval.runner",
    "run_locomo": "hippograph.eval.runner",
}

__all__ = [
    "Conversation",
    "EvalConfig",
    "EvalResults",
    "Question",
    "Turn",
    "TurnIngestor",
    "load_conversations",
    "run_locomo",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Import public names on first use (the CLI imports `hippograph.eval.cli` cheaply)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
