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
    field_weights={"context": 1.0},
    alpha=0.3,
    candidates=50,
    k1=0.8,
    b=0.6,
    time_field="timestamp",
    time_weight=0.5,
    time_scale_days=7.0,
    group_field="source.thread_id",
    group_weight=1.5,
    group_top=2,
)
"""How memory search ranks (`ranking.fusion`): `0.3 * cosine` on `content` plus `0.7 *` the
tenant's BM25 share over `content` and `context` (the turn a verbatim memory answered, at
equal weight; k1 0.8, b 0.6), re-weighed by how near the memory's `timestamp` is to a date
the query names (up to half the score, fading over 7 days) and lifted when its thread
(`source.thread_id`) matches better than the others (1.5 x the advantage of its 2 best).
Every constant chosen by leave-one-conversation-out cross-validation on LoCoMo
(`benchmarks/results/locomo/study.md`: R@10 0.831, R@5 0.748 cross-validated; 0.836 /
0.756 in-sample). 50 candidates per ranking: 100 measured R@10 +0.002 for twice the work."""
