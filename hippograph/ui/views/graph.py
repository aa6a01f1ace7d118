"""Graph page: the user's memories as a network — linked memories drawn near each other,
one colour per category — and the links of one memory, to add or remove.

The chart is Altair (Vega-Lite, served by Streamlit itself: no CDN), laid out in Python
(`graph_layout.force_layout`); hover a memory or link for its text, drag to pan, scroll to
zoom, click a memory to edit its links below.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from hippograph.memory_links import LinksUnavailableError, MemoryGraph
from hippograph.store import Memory
from hippograph.store.memory import CATEGORIES
from hippograph.ui import theme
from hippograph.ui.graph_layout import ALIGN, Placement, force_layout, place_labels
from hippograph.ui.session import (
    UIContext,
    bump_data_version,
    current_context,
    data_version,
    flash,
)

LABELS_UP_TO = 40  # memories are labelled on the chart when at most this many are drawn
SELECTION = "memory"
# Labels are placed for a chart this wide (it stretches to the page: ~820 px at 1280 px,
# ~960 at 1440); their offsets are pixels, so they stay beside their circles at any width.
PLOT_WIDTH = 900
MARGIN = 18  # pixels between the outermost circles and the chart's edge
LABEL_FONT = 12
_CHAR_WIDTH = 5.6  # a generous average for the app font at LABEL_FONT
_LABEL_HEIGHT = 15
_PICK_KEY = "hg_graph_memory"
_CLICK_KEY = "hg_graph_click"


def _short(text: str, length: int = 32) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def chart_height(count: int) -> int:
    """Pixels of chart for `count` memories: enough room for their labels, no more."""
    return max(240, min(560, 60 + 30 * count))


def circle_area(importance: float) -> float:
    """A memory's circle area in square pixels (Vega-Lite's `size`), by importance."""
    return 70.0 + 330.0 * max(0.0, min(1.0, importance))


@st.cache_data(show_spinner=False, max_entries=32)
def _positions(count: int, edges: tuple[tuple[int, int, float], ...]) -> list[list[float]]:
    return force_layout(count, edges).tolist()


def _to_pixels(positions: list[list[float]], height: int) -> np.ndarray:
    """Layout positions (in [0, 1], y up) as screen pixels at `PLOT_WIDTH` x `height`."""
    unit = np.asarray(positions, dtype=float).reshape(-1, 2)
    x = MARGIN + unit[:, 0] * (PLOT_WIDTH - 2 * MARGIN)
    y = MARGIN + (1.0 - unit[:, 1]) * (height - 2 * MARGIN)
    return np.column_stack([x, y])


def frames(
    graph: MemoryGraph, selected: str | None, height: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chart's data: one row per memory (position, circle, label placement, text,
    category, links), and two rows per link (one keyed by each end, so selecting either
    end lights the link up)."""
    height = height or chart_height(len(graph.memories))
    index = {m.id: n for n, m in enumerate(graph.memories)}
    drawn = [x for x in graph.links if x.src in index and x.dst in index]
    edges = tuple((index[x.src], index[x.dst], x.weight) for x in drawn)
    positions = _positions(len(graph.memories), edges)
    degree = {m.id: 0 for m in graph.memories}
    for link in drawn:
        degree[link.src] += 1
        degree[link.dst] += 1
    labels = [_short(m.content) for m in graph.memories]
    areas = [circle_area(m.importance) for m in graph.memories]
    if len(graph.memories) <= LABELS_UP_TO:
        order = sorted(
            range(len(graph.memories)),
            key=lambda n: (-degree[graph.memories[n].id], -graph.memories[n].importance, n),
        )
        placements = place_labels(
            _to_pixels(positions, height),
            [math.sqrt(area / math.pi) for area in areas],
            [(len(label) * _CHAR_WIDTH, _LABEL_HEIGHT) for label in labels],
            [(a, b) for a, b, _ in edges],
            (PLOT_WIDTH, height),
            order=order,
        )
    else:  # too many to label: the chart draws no labels (see `chart`)
        placements = [Placement("right", 0.0, 0.0)] * len(graph.memories)
    nodes = pd.DataFrame(
        {
            "key": [m.id for m in graph.memories],
            "x": [p[0] for p in positions],
            "y": [p[1] for p in positions],
            "area": areas,
            "label": labels,
            "side": [p.side for p in placements],
            "align": [ALIGN[p.side] for p in placements],
            "dx": [p.dx for p in placements],
            "dy": [p.dy for p in placements],
            "content": [m.content for m in graph.memories],
            "category": [m.category for m in graph.memories],
            "importance": [m.importance for m in graph.memories],
            "links": [degree[m.id] for m in graph.memories],
            "selected": [m.id == selected for m in graph.memories],
        }
    )
    text = {m.id: m.content for m in graph.memories}
    rows: list[dict[str, Any]] = []
    for link in drawn:
        a, b = positions[index[link.src]], positions[index[link.dst]]
        for end in (link.src, link.dst):
            rows.append(
                {
                    "key": end,
                    "x": a[0],
                    "y": a[1],
                    "x2": b[0],
                    "y2": b[1],
                    "relation": link.relation,
                    "from": text[link.src],
                    "to": text[link.dst],
                    "weight": link.weight,
                }
            )
    columns = ["key", "x", "y", "x2", "y2", "relation", "from", "to", "weight"]
    return nodes, pd.DataFrame(rows, columns=columns)


def _labels(nodes: pd.DataFrame, x: alt.X, y: alt.Y) -> list[alt.Chart]:
    """The labels, one pair of layers per text alignment: a white halo under the text, so
    a link passing behind a label never strikes through it, then the text."""
    layers = []
    aligns: tuple[Literal["left", "right", "center"], ...] = ("left", "right", "center")
    for align in aligns:
        base = (
            alt.Chart(nodes)
            .transform_filter(alt.datum.align == align)
            .encode(x=x, y=y, text="label:N")
        )
        for halo in (True, False):
            layers.append(
                base.mark_text(
                    align=align,
                    baseline="middle",
                    fontSize=LABEL_FONT,
                    dx=alt.expr("datum.dx"),  # pixels, per label: see `frames`
                    dy=alt.expr("datum.dy"),
                    color="#1e293b",
                    stroke="white" if halo else None,
                    strokeWidth=4 if halo else 0,
                    strokeJoin="round",
                )
            )
    return layers


def chart(nodes: pd.DataFrame, edges: pd.DataFrame, height: int | None = None) -> alt.LayerChart:
    """Links as lines under memories as circles (area: importance) with their labels
    beside them; zoomable, clickable; a legend of the categories drawn."""
    height = height or chart_height(len(nodes))
    pick = alt.selection_point(name=SELECTION, fields=["key"], on="click", clear="dblclick")
    axis = alt.Axis(title=None, labels=False, ticks=False, domain=False, grid=False)
    pad_x = MARGIN / (PLOT_WIDTH - 2 * MARGIN)
    pad_y = MARGIN / max(1, height - 2 * MARGIN)
    x = alt.X("x:Q", axis=axis, scale=alt.Scale(domain=[-pad_x, 1 + pad_x], nice=False))
    y = alt.Y("y:Q", axis=axis, scale=alt.Scale(domain=[-pad_y, 1 + pad_y], nice=False))
    shown = [c for c in CATEGORIES if c in set(nodes["category"])]
    colors = alt.Scale(domain=shown, range=[theme.CATEGORY_COLORS[c] for c in shown])
    legend = alt.Legend(
        orient="bottom",
        title=None,
        symbolType="circle",
        symbolStrokeWidth=0,
        symbolSize=110,
        labelColor="#1e293b",
        labelFontSize=13,
        columnPadding=14,
    )
    lines = (
        alt.Chart(edges)
        .mark_rule(color="#94a3b8")
        .encode(
            x=x,
            y=y,
            x2="x2:Q",
            y2="y2:Q",
            strokeWidth=alt.condition(pick, alt.value(2.5), alt.value(1.4)),
            opacity=alt.condition(pick, alt.value(0.9), alt.value(0.45)),
            tooltip=["relation", "from", "to", alt.Tooltip("weight:Q", format=".2f")],
        )
    )
    circles = (
        alt.Chart(nodes)
        .mark_circle(stroke="#0f172a", opacity=1)
        .encode(
            x=x,
            y=y,
            size=alt.Size("area:Q", scale=None),
            color=alt.Color("category:N", scale=colors, legend=legend),
            strokeWidth=alt.condition("datum.selected", alt.value(3), alt.value(0)),
            fillOpacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=[
                "content",
                "category",
                alt.Tooltip("importance:Q", format=".2f"),
                "links",
                "key",
            ],
        )
        .add_params(pick)
    )
    grab = alt.selection_interval(bind="scales")  # drag to pan, scroll to zoom
    layers: list[alt.Chart] = [lines.add_params(grab), circles]
    if len(nodes) <= LABELS_UP_TO:
        layers += _labels(nodes, x, y)
    return alt.LayerChart(layer=layers, height=height)


def _remove(ctx: UIContext, key: str, other: str, relation: str) -> None:
    ctx.manager.unlink(key, other, relation)
    bump_data_version()
    flash("success", f"Removed the link “{theme.md(relation)}”.")


def _links_of(ctx: UIContext, memory: Memory, everyone: list[Memory]) -> None:
    """The chosen memory's links, each removable, and a form to add one."""
    links = ctx.manager.links(memory.id)
    if not links:
        st.caption("No links yet.")
    for n, link in enumerate(links):
        row = st.container(horizontal=True, vertical_alignment="center")
        way = "→" if link.outgoing else "←"
        row.html(
            f'<div class="hg-line">{way} <b>{escape(link.relation)}</b> · '
            f"{escape(link.content or link.key)}</div>"
        )
        row.button(
            "Remove",
            key=f"hg_unlink::{memory.id}::{n}::{data_version()}",
            icon=":material/link_off:",
            on_click=_remove,
            args=(ctx, memory.id, link.key, link.relation),
        )
    others = {m.id: m for m in everyone if m.id != memory.id}
    with st.form(f"hg_link_form::{memory.id}::{data_version()}", border=True):
        target = st.selectbox(
            "Link to",
            list(others),
            format_func=lambda key: _short(others[key].content, 90),
            index=None,
            placeholder="choose a memory…",
        )
        left, right = st.columns([3, 1])
        relation = left.text_input("Relation", value="related", help="e.g. located_in, part_of")
        weight = right.number_input("Weight", 0.0, 1.0, 1.0, step=0.1, format="%.2f")
        if st.form_submit_button("Add link", type="primary", icon=":material/add_link:"):
            if target is None:
                st.error("Choose the memory to link to.")
                return
            try:
                made = ctx.manager.link(memory.id, target, relation, weight=weight)
            except ValueError as exc:
                st.error(f"Not linked: {exc}")
                return
            bump_data_version()
            flash("success", f"Linked with “{theme.md(made.relation)}”.")
            st.rerun()


def render(ctx: UIContext) -> None:
    """Draw the graph page for `ctx.user_id`."""
    st.title("Graph")
    st.caption(
        f"**{theme.md(ctx.user_id)}**'s memories and the links between them: memories "
        "naming the same person, place or title, relations the model found, and links made "
        "by hand."
    )
    try:
        graph = ctx.manager.graph()
    except LinksUnavailableError as exc:
        st.info(f"No memory graph on this backend: {exc}.", icon=":material/hub:")
        return
    if not graph.memories:
        st.info(f"No memories yet for **{theme.md(ctx.user_id)}**.", icon=":material/inbox:")
        return
    linked = {k for x in graph.links for k in (x.src, x.dst)}
    cols = st.columns(3)
    cols[0].metric("Memories", len(graph.memories))
    cols[1].metric("Links", len(graph.links))
    cols[2].metric("Linked memories", len(linked))
    only_linked = st.toggle(
        "Only memories with links", value=bool(linked) and len(graph.memories) > LABELS_UP_TO
    )
    drawn = [m for m in graph.memories if m.id in linked] if only_linked else graph.memories
    by_key = {m.id: m for m in graph.memories}
    pick_key = f"{_PICK_KEY}::{ctx.user_id}"
    selected = st.session_state.get(pick_key)
    nodes, edges = frames(MemoryGraph(drawn, graph.links), selected)
    event = st.altair_chart(
        chart(nodes, edges),
        width="stretch",
        on_select="rerun",
        selection_mode=[SELECTION],
        key=f"hg_graph_chart::{ctx.user_id}::{data_version()}",
    )
    clicked = (event.selection.get(SELECTION) or [{}])[0].get("key") if event else None
    if clicked in by_key and clicked != st.session_state.get(_CLICK_KEY):
        st.session_state[_CLICK_KEY] = clicked  # a new click picks the memory below
        st.session_state[pick_key] = clicked
        st.rerun()
    if graph.truncated:
        st.caption("The graph shows the most linked and newest memories only.")
    st.subheader("Links of a memory")
    choice = st.selectbox(
        "Memory",
        list(by_key),
        format_func=lambda key: _short(by_key[key].content, 100),
        key=pick_key,
        index=None,
        placeholder="click a memory in the graph, or choose one…",
    )
    if choice is not None:
        _links_of(ctx, by_key[choice], graph.memories)


if __name__ == "__main__":
    render(current_context())
