"""Search page: the user's memories closest in meaning to a query (the store's own search),
with scores and provenance — which conversation, which messages, when. Results below the
agent's recall cut-off are set apart, so a query about nothing stored says so. "Explain
scores" shows what each score is made of (cosine, keyword, date, thread, links)."""

from __future__ import annotations

from html import escape

import streamlit as st

from hippograph.memories import ScoredMemory
from hippograph.memory.context import Context
from hippograph.store.memory import CATEGORIES
from hippograph.store.ranking.explain import describe
from hippograph.ui import theme
from hippograph.ui.session import UIContext, current_context

ALL = "all categories"


def recall_cutoff(user_id: str) -> float:
    """The score a memory needs for the agent to recall it (`Context.min_score`, on the
    same store search this page runs): below it, a hit is not relevant."""
    return Context(user_id=user_id).min_score


def result_html(rank: int, hit: ScoredMemory) -> str:
    """One search result as a card: rank, score bar, text, category, importance, provenance,
    and the score's parts when the search was explained."""
    memory = hit.memory
    stated = memory.timestamp.strftime("%Y-%m-%d %H:%M")
    details = [
        f"{theme.category_pill(memory.category)} importance {memory.importance:.2f} · "
        f"stated {stated}",
        f"from {escape(theme.describe_source(memory.source, shown_at=memory.timestamp))} · "
        f"key {escape(memory.id)}",
    ]
    if hit.explain:
        details.append(escape(describe(hit.explain)))
    return theme.card(
        f"#{rank} · score {theme.score_bar(hit.score)}", escape(memory.content), *details
    )


def render(ctx: UIContext) -> None:
    """Draw the search page for `ctx.user_id`."""
    st.title("Search")
    st.caption(f"Semantic search over **{theme.md(ctx.user_id)}**'s memories, best match first.")
    query_col, category_col, limit_col = st.columns([6, 2, 2])
    query = query_col.text_input("Query", placeholder="e.g. What programming languages do I use?")
    category = category_col.selectbox("Category", [ALL, *CATEGORIES])
    limit = limit_col.slider("Results", 1, 50, 10)
    explain = st.toggle("Explain scores", help="Show what each score is made of.")
    if not query.strip():
        if ctx.manager.count():
            st.info(
                "Type a question or a few words; results show similarity scores and where "
                "each memory came from.",
                icon=":material/search:",
            )
        else:
            st.info(
                f"**{theme.md(ctx.user_id)}** has no memories to search yet.",
                icon=":material/inbox:",
            )
        return
    hits = ctx.manager.search(
        query.strip(),
        limit=limit,
        category=None if category == ALL else category,
        explain=explain,
    )
    if not hits:
        st.info("No memories match.", icon=":material/search_off:")
        return
    cutoff = recall_cutoff(ctx.user_id)
    relevant = [hit for hit in hits if hit.score >= cutoff]
    weaker = [hit for hit in hits if hit.score < cutoff]
    if relevant:
        st.caption(
            f"{len(relevant)} relevant result{'s' if len(relevant) != 1 else ''} · score ≥ "
            f"{cutoff:.2f}, the cut-off below which the agent recalls nothing"
        )
        st.html(_cards(relevant))
    else:
        st.info(
            f"Nothing relevant: the closest memory scores {hits[0].score:.2f}, below "
            f"{cutoff:.2f}, the cut-off below which the agent recalls nothing.",
            icon=":material/search_off:",
        )
    if weaker:
        label = (
            f"{len(weaker)} weaker match{'es' if len(weaker) != 1 else ''} below the cut-off"
            if relevant
            else f"Show the {len(weaker)} closest anyway"
        )
        with st.expander(label, icon=":material/filter_list:"):
            st.html(_cards(weaker, start=len(relevant) + 1))


def _cards(hits: list[ScoredMemory], start: int = 1) -> str:
    return "".join(result_html(rank, hit) for rank, hit in enumerate(hits, start=start))


if __name__ == "__main__":
    render(current_context())
