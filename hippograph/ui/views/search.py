"""Search page: the user's memories closest in meaning to a query (the store's own search),
with scores and provenance — which conversation, which messages, when."""

from __future__ import annotations

from html import escape

import streamlit as st

from hippograph.memories import ScoredMemory
from hippograph.store.memory import CATEGORIES
from hippograph.ui import theme
from hippograph.ui.session import UIContext, current_context

ALL = "all categories"


def result_html(rank: int, hit: ScoredMemory) -> str:
    """One search result as a card: rank, score bar, text, category, importance, provenance."""
    memory = hit.memory
    stated = memory.timestamp.strftime("%Y-%m-%d %H:%M")
    return theme.card(
        f"#{rank} · score {theme.score_bar(hit.score)}",
        escape(memory.content),
        f"{theme.category_pill(memory.category)} importance {memory.importance:.2f} · "
        f"stated {stated}",
        f"from {escape(theme.describe_source(memory.source))} · key {escape(memory.id)}",
    )


def render(ctx: UIContext) -> None:
    """Draw the search page for `ctx.user_id`."""
    st.title("Search")
    st.caption(f"Semantic search over **{ctx.user_id}**'s memories, best match first.")
    query_col, category_col, limit_col = st.columns([6, 2, 2])
    query = query_col.text_input("Query", placeholder="e.g. What programming languages do I use?")
    category = category_col.selectbox("Category", [ALL, *CATEGORIES])
    limit = limit_col.slider("Results", 1, 50, 10)
    if not query.strip():
        if ctx.manager.count():
            st.info(
                "Type a question or a few words; results show similarity scores and where "
                "each memory came from.",
                icon=":material/search:",
            )
        else:
            st.info(f"**{ctx.user_id}** has no memories to search yet.", icon=":material/inbox:")
        return
    hits = ctx.manager.search(
        query.strip(), limit=limit, category=None if category == ALL else category
    )
    if not hits:
        st.info("No memories match.", icon=":material/search_off:")
        return
    st.caption(f"{len(hits)} result{'s' if len(hits) != 1 else ''}")
    st.html("".join(result_html(rank, hit) for rank, hit in enumerate(hits, start=1)))


if __name__ == "__main__":
    render(current_context())
