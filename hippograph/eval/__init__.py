"""Evaluation of hippograph's long-term memory on LoCoMo-shaped benchmarks.

Core pieces:
    - `load_conversations`: read LoCoMo-shaped `*.json` files into typed conversations.
    - `ingest_turn`: the one way the evaluation writes a memory (verbatim mode).
    - `run_locomo(EvalConfig(...))`: ingest, ask, score (recall@k, MRR, latency, judge).
    - `write_report`: `report.json`, `report.md` and plots.
The CLI is `hippograph/eval/cli.py: app` (`hippograph eval locomo`).
"""

from hippograph.eval.dataset import Conversation, Question, Turn, load_conversations
from hippograph.eval.ingest import ingest_turn
from hippograph.eval.report import write_report
from hippograph.eval.runner import EvalConfig, EvalResults, run_locomo

__all__ = [
    "Conversation",
    "EvalConfig",
    "EvalResults",
    "Question",
    "Turn",
    "ingest_turn",
    "load_conversations",
    "run_locomo",
    "write_report",
]
