"""`LLMReranker`: a chat model moves the results that answer the query to the front."""

from __future__ import annotations

from datetime import UTC, datetime

from langgraph.store.base import SearchItem

from hippograph import ScriptedChatModel
from hippograph.store.ranking.explain import ExplainedSearchItem
from hippograph.store.ranking.rerank import LLMReranker

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _items(*texts: str) -> list[SearchItem]:
    return [
        ExplainedSearchItem(
            SearchItem(("memories", "a"), f"k{n}", {"content": t}, NOW, NOW, 1.0 - n / 10),
            {"cosine": 0.5},
        )
        for n, t in enumerate(texts)
    ]


def test_the_models_picks_come_first_in_its_order() -> None:
    model = ScriptedChatModel(responses=[{"ranking": [3, 1, 9]}])
    items = _items("tea", "cat", "works as a nurse", "dog")
    reranked = LLMReranker(model, top=3).rerank("What is my job?", items)
    assert [i.key for i in reranked] == ["k2", "k0", "k1", "k3"]  # 9 was never shown
    assert reranked[0].explain["rerank"] == 1.0 and "rerank" not in reranked[2].explain
    prompt = str(model.calls[0][0].content)
    assert "1. tea" in prompt and "3. works as a nurse" in prompt and "dog" not in prompt


def test_an_unusable_answer_keeps_the_search_order() -> None:
    items = _items("tea", "cat")
    for answer in ({"ranking": []}, {"ranking": [7]}, RuntimeError("model down")):
        model = ScriptedChatModel(responses=[answer])
        assert LLMReranker(model).rerank("q", items) == items
