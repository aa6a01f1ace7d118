"""The ranking every memory search ships with: `MEMORY_SEARCH`, chosen by cross-validation.

`hippograph.backends.open_store` opens the agent's store with it, on every backend; the
LoCoMo study (`hippograph.eval.study`) re-derives it, each constant by leave-one-
conversation-out cross-validation, and `benchmarks/results/locomo/` reports how it does.
"""

from __future__ import annotations

from hippograph.store.ranking.settings import HybridSearch

MEMORY_FIELDS = ("content",)
"""Value fields embedded for search: a memory's text. (Embedding `context` too was measured
on LoCoMo and lowered recall: max-pooling lets the previous turn outrank the answer.)"""

MEMORY_SEARCH = HybridSearch(
    fields=("content", "context"),
    field_weights={"context": 0.5},
    time_field="timestamp",
    group_field="source.thread_id",
)
"""How memory search ranks: cosine on `content` fused with the tenant's BM25 over `content`
and, at half weight, `context` (the turn a verbatim memory answered), a match between a date
named in the query and the memory's `timestamp`, and a lift for memories whose thread
(`source.thread_id`) matches better than the others. See `ranking.fusion`."""
