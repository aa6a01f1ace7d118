"""An opt-in reranking stage: a chat model reorders a search's best results.

Core pieces:
    - `LLMReranker`: asks any LangChain chat model (structured output) which of the top
      results answer the query, most relevant first, and reorders them; the rest keep their
      order after them. Each reranked item's `explain` gains `rerank` (its new position's
      score) when the search was explained.
    - `RerankError`: the model's answer was unusable (the search's own order is kept).

Off by default: measured on LoCoMo with the bundled local model it costs seconds per query
(see `benchmarks/results/locomo/rerank.md`). No cross-encoder ships its weights on PyPI,
so there is no cheaper learned reranker to offer offline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.store.base import SearchItem
from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

PROMPT = """You rank memories for a question. Below are numbered memories.
Return the numbers of the memories that help answer the question, most helpful first.
Leave out memories that do not help. Return at most {limit} numbers.

Question: {query}

Memories:
{memories}"""


class RerankError(RuntimeError):
    """The reranking model's answer could not be used."""


class _Ranking(BaseModel):
    """Memory numbers, most helpful first."""

    ranking: list[int] = Field(description="memory numbers, most helpful first")


class LLMReranker:
    """Reorders a search's best `top` results with a chat model.

    Args:
        model: Any LangChain chat model (e.g. from `init_chat_model`, or the local model).
        top: How many of the best results the model sees.
        method: Structured-output method for `with_structured_output` (`None`: the
            provider's default; `"json_schema"` for servers without tool calling).
        text_field: The value field shown to the model.

    Example:
        ```python
        reranker = LLMReranker(init_chat_model("openai:gpt-4o-mini"))
        hits = reranker.rerank(query, store.search(ns, query=query, limit=20))
        ```
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        top: int = 10,
        method: Literal["function_calling", "json_mode", "json_schema"] | None = None,
        text_field: str = "content",
    ) -> None:
        if top < 2:
            raise ValueError(f"top must be >= 2, got {top}")
        kwargs: dict[str, Any] = {} if method is None else {"method": method}
        self._chain = model.with_structured_output(_Ranking, **kwargs)
        self.top = top
        self.text_field = text_field

    def order(self, query: str, texts: Sequence[str]) -> list[int]:
        """Indices of `texts` (at most `top`) the model says help, most helpful first.

        Raises:
            RerankError: the model failed or answered with no usable number.
        """
        shown = texts[: self.top]
        memories = "\n".join(f"{n}. {' '.join(t.split())[:400]}" for n, t in enumerate(shown, 1))
        prompt = PROMPT.format(limit=len(shown), query=query, memories=memories)
        try:
            answer = self._chain.invoke(prompt)
        except Exception as exc:
            raise RerankError(f"the reranking model failed: {exc!r}") from exc
        numbers = answer.ranking if isinstance(answer, _Ranking) else []
        picked = list(dict.fromkeys(n - 1 for n in numbers if 1 <= n <= len(shown)))
        if not picked:
            raise RerankError(f"the reranking model named no shown memory: {numbers!r}")
        return picked

    def rerank(self, query: str, items: Sequence[SearchItem]) -> list[SearchItem]:
        """`items` with the model's picks among the first `top` moved to the front, in its
        order; an unusable answer leaves the order as it was (logged)."""
        items = list(items)
        texts = [str(item.value.get(self.text_field, "")) for item in items]
        try:
            picked = self.order(query, texts)
        except RerankError as exc:
            logger.warning("%s; keeping the search's order", exc)
            return items
        rest = [n for n in range(len(items)) if n not in set(picked)]
        reordered = [items[n] for n in [*picked, *rest]]
        for position, n in enumerate(picked):
            explain = getattr(items[n], "explain", None)
            if isinstance(explain, dict):
                explain["rerank"] = 1.0 - position / len(picked)
        return reordered
