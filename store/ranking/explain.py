"""Search explain: why each result ranked where it did.

Core pieces:
    - `ExplainedSearchItem`: a `SearchItem` carrying `explain`, the parts of its score.
    - `search_explain()`: searches made inside return explained items (how
      `FaissSqliteStore.search(..., explain=True)` asks for them; works across threads and
      `asyncio.to_thread`, like `link_expansion`).
    - `describe`: one line of a result's parts, for the CLI and the UI.

Parts (each present when it applies): `cosine` (similarity with the query), `bm25` (the
tenant's BM25) and `keyword` (BM25 as a share of the most the query could score),
`date` (how near the memory's time is to a date the query names), `thread` (what the
thread lift added), `links` (the score a linked result was reached with, and `via`, the
key it was reached from), `rerank` (a reranker's score). `score` is what the result ranks
by. A plain LangGraph `search` (without `explain`) returns plain `SearchItem`s, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langgraph.store.base import SearchItem

_EXPLAIN: ContextVar[bool] = ContextVar("hippograph_search_explain", default=False)

ORDER = ("score", "cosine", "bm25", "keyword", "date", "thread", "links", "rerank")
"""The order parts are shown in."""


class ExplainedSearchItem(SearchItem):
    """A search result with the parts of its score (`explain`); otherwise a `SearchItem`."""

    __slots__ = ("explain", "via")

    def __init__(self, item: SearchItem, explain: Mapping[str, Any]) -> None:
        super().__init__(
            item.namespace, item.key, item.value, item.created_at, item.updated_at, item.score
        )
        self.via: Any = getattr(item, "via", None)
        """How a linked result was reached (`None` for a direct match)."""
        self.explain: dict[str, Any] = {"score": item.score, **explain}

    def dict(self) -> dict[str, Any]:
        """`SearchItem.dict()` plus `explain` (and `via` for linked results)."""
        result = super().dict()
        result["explain"] = dict(self.explain)
        if self.via is not None:
            result["via"] = dict(self.via)
        return result


@contextmanager
def search_explain(enabled: bool = True) -> Iterator[None]:
    """Searches made inside return `ExplainedSearchItem`s (when `enabled`).

    Example:
        ```python
        with search_explain():
            hits = store.search(("memories", "alice"), query="Where do I live?")
        hits[0].explain  # {"score": 0.61, "cosine": 0.72, "bm25": 3.1, "keyword": 0.5, ...}
        ```
    """
    token = _EXPLAIN.set(enabled)
    try:
        yield
    finally:
        _EXPLAIN.reset(token)


def explaining() -> bool:
    """Whether searches made here should be explained."""
    return _EXPLAIN.get()


def describe(parts: Mapping[str, Any]) -> str:
    """`"score 0.61 = cosine 0.72, keyword 0.50 (bm25 3.10), date 1.00, thread +0.04"`."""
    shown = []
    for name in ORDER[1:]:
        if name not in parts or name == "bm25":
            continue
        value = parts[name]
        if name == "keyword":
            shown.append(f"keyword {value:.2f} (bm25 {parts.get('bm25', 0.0):.2f})")
        elif name == "thread":
            shown.append(f"thread {value:+.2f}")
        elif name == "links":
            shown.append(f"links {value:.2f} via {parts.get('via', '?')}")
        else:
            shown.append(f"{name} {value:.2f}")
    score = parts.get("score")
    head = f"score {score:.2f}" if isinstance(score, int | float) else "unscored"
    return f"{head} = {', '.join(shown)}" if shown else head
