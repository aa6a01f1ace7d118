"""Analytics page: the user's memories by category, importance and time, and the memories
recalled most often (counted by `hippograph.recalls.RecallLog` after each chat turn)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from hippograph.memories import HISTOGRAM_BINS, MemoryNotFoundError, MemoryStats
from hippograph.store.memory import CATEGORIES
from hippograph.ui import theme
from hippograph.ui.session import UIContext, current_context

CHART_HEIGHT = 260
_CATEGORY_SCALE = alt.Scale(domain=list(CATEGORIES), range=list(theme.CATEGORY_COLORS.values()))


def category_chart(stats: MemoryStats) -> alt.Chart:
    """Memories per category, most first, in the category colours."""
    data = pd.DataFrame(
        {"category": list(stats.by_category), "memories": list(stats.by_category.values())}
    )
    bars = (
        alt.Chart(data)
        .mark_bar(cornerRadiusEnd=4)
        .encode(
            x=alt.X("memories:Q", title="memories", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("category:N", sort="-x", title=None),
            color=alt.Color("category:N", scale=_CATEGORY_SCALE, legend=None),
            tooltip=["category", "memories"],
        )
    )
    labels = bars.mark_text(align="left", dx=4).encode(
        text="memories:Q", color=alt.value("#334155")
    )
    return (bars + labels).properties(height=CHART_HEIGHT)


def importance_chart(stats: MemoryStats) -> alt.Chart:
    """How many memories fall in each tenth of the importance scale (a histogram on a
    0–1 axis, so every tick is labelled)."""
    width = 1.0 / HISTOGRAM_BINS
    starts = [round(i * width, 2) for i in range(HISTOGRAM_BINS)]
    data = pd.DataFrame(
        {
            "low": starts,
            "high": [round(start + width, 2) for start in starts],
            "memories": stats.importance_histogram,
        }
    )
    return (
        alt.Chart(data)
        .mark_bar(
            color=theme.PRIMARY_COLOR,
            cornerRadiusTopLeft=3,
            cornerRadiusTopRight=3,
            orient="vertical",
            binSpacing=2,
        )
        .encode(
            x=alt.X(
                "low:Q",
                title="importance",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(values=[i / 5 for i in range(6)], format=".1f"),
            ),
            x2="high:Q",
            y=alt.Y("memories:Q", title="memories", axis=alt.Axis(tickMinStep=1)),
            y2=alt.datum(0),
            tooltip=[
                alt.Tooltip("low:Q", title="importance from", format=".1f"),
                alt.Tooltip("high:Q", title="to", format=".1f"),
                "memories",
            ],
        )
        .properties(height=CHART_HEIGHT)
    )


def growth_chart(stats: MemoryStats) -> alt.Chart:
    """Memories stated up to each day (cumulative)."""
    data = pd.DataFrame(stats.growth, columns=["day", "memories"])
    data["day"] = pd.to_datetime(data["day"])
    base = alt.Chart(data).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%b %d", labelOverlap=True)),
        y=alt.Y("memories:Q", title="memories (cumulative)", axis=alt.Axis(tickMinStep=1)),
        tooltip=[alt.Tooltip("day:T", format="%Y-%m-%d"), "memories"],
    )
    area = base.mark_area(color=theme.PRIMARY_COLOR, opacity=0.15, interpolate="step-after")
    line = base.mark_line(color=theme.PRIMARY_COLOR, interpolate="step-after")
    return (area + line + base.mark_point(color=theme.PRIMARY_COLOR, filled=True)).properties(
        height=CHART_HEIGHT
    )


def most_recalled(ctx: UIContext, limit: int = 10) -> pd.DataFrame:
    """The user's most recalled memories that still exist: text, category, times recalled."""
    rows = []
    if ctx.recall_log is not None:
        for count in ctx.recall_log.top(ctx.user_id, limit=limit * 3):
            try:
                memory = ctx.manager.get(count.key)
            except MemoryNotFoundError:
                continue
            text = memory.content if len(memory.content) <= 48 else memory.content[:47] + "…"
            rows.append(
                {
                    "memory": text,
                    "content": memory.content,
                    "category": memory.category,
                    "recalled": count.count,
                    "last recalled": count.last_at.strftime("%Y-%m-%d %H:%M"),
                }
            )
            if len(rows) == limit:
                break
    return pd.DataFrame(
        rows, columns=["memory", "content", "category", "recalled", "last recalled"]
    )


def recall_chart(data: pd.DataFrame) -> alt.Chart:
    """Times each memory was recalled, most first, in the category colours."""
    return (
        alt.Chart(data)
        .mark_bar(cornerRadiusEnd=4)
        .encode(
            x=alt.X("recalled:Q", title="times recalled", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(
                "memory:N",
                sort="-x",
                title=None,
                axis=alt.Axis(labelLimit=320, labelOverlap=False),  # every bar keeps its name
            ),
            color=alt.Color("category:N", scale=_CATEGORY_SCALE, legend=None),
            tooltip=["content", "category", "recalled", "last recalled"],
        )
        .properties(height=max(CHART_HEIGHT, 26 * len(data)))
    )


def render(ctx: UIContext) -> None:
    """Draw the analytics page for `ctx.user_id`."""
    st.title("Analytics")
    st.caption(f"What **{theme.md(ctx.user_id)}**'s memory holds, and what the agent reaches for.")
    stats = ctx.manager.stats()
    if not stats.total:
        st.info(
            f"No memories yet for **{theme.md(ctx.user_id)}**: charts appear once there are some.",
            icon=":material/monitoring:",
        )
        return
    important = sum(stats.importance_histogram[7:])
    cols = st.columns(4)
    cols[0].metric("Memories", stats.total)
    cols[1].metric("Categories in use", len(stats.by_category))
    cols[2].metric("Importance ≥ 0.7", important)
    cols[3].metric("Days with new memories", len(stats.growth))
    recalled = most_recalled(ctx)
    panels = [
        ("By category", "How many memories each category holds.", category_chart(stats)),
        (
            "Importance",
            "Distribution of importance (0 = trivia, 1 = essential).",
            importance_chart(stats),
        ),
        ("Memories over time", "Memories stated up to each day.", growth_chart(stats)),
        (
            "Most recalled",
            "Memories the agent recalled most often in chat turns.",
            None if recalled.empty else recall_chart(recalled),
        ),
    ]
    for row in (panels[:2], panels[2:]):
        for column, (title, caption, chart) in zip(st.columns(2, gap="large"), row, strict=True):
            with column, st.container(border=True):
                st.subheader(title)
                st.caption(caption)
                if chart is None:
                    st.caption("Nothing recalled yet: chat on the Chat page and this fills in.")
                else:
                    st.altair_chart(chart, width="stretch")


if __name__ == "__main__":
    render(current_context())
