"""The hippograph Streamlit app: a sidebar (pages, user, model, store) around six pages.

Started by `hippograph ui` (or `streamlit run hippograph/ui/app.py`); configuration comes
from the `HIPPOGRAPH_*` environment, like every other surface. Each page is one module in
`hippograph/ui/views/`, rendering from a `UIContext`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from hippograph.tracing import setup_tracing
from hippograph.ui import theme
from hippograph.ui.session import (
    UIContext,
    current_context,
    known_users,
    show_flash,
    switch_user,
    valid_user_id,
)

VIEWS = Path(__file__).parent / "views"

_NEW_USER_KEY = "hg_new_user"
_NEW_USER_ERROR_KEY = "hg_new_user_error"


def _pages() -> list[st.Page]:
    return [
        st.Page(VIEWS / "chat.py", title="Chat", icon=":material/forum:", default=True),
        st.Page(VIEWS / "memories.py", title="Memories", icon=":material/table_rows:"),
        st.Page(VIEWS / "search.py", title="Search", icon=":material/search:"),
        st.Page(VIEWS / "graph.py", title="Graph", icon=":material/hub:"),
        st.Page(VIEWS / "analytics.py", title="Analytics", icon=":material/bar_chart:"),
        st.Page(VIEWS / "history.py", title="History", icon=":material/history:"),
    ]


def _add_user() -> None:
    """`on_change` of the new-user field: switch to the typed user, or explain why not."""
    typed = str(st.session_state.get(_NEW_USER_KEY, ""))
    st.session_state[_NEW_USER_KEY] = ""
    if not typed.strip():
        return
    try:
        switch_user(valid_user_id(typed))
    except ValueError as exc:
        st.session_state[_NEW_USER_ERROR_KEY] = str(exc)


def _sidebar(ctx: UIContext) -> DeltaGenerator:
    """Draw the sidebar; returns the slot of the memory count (see `_show_count`)."""
    with st.sidebar:
        users = sorted({*known_users(ctx.store), ctx.user_id})
        choice = st.selectbox(
            "User",
            users,
            index=users.index(ctx.user_id),
            key=f"hg_user_select::{ctx.user_id}",
            help="Whose memories you see. Each user has a namespace of their own.",
        )
        if choice != ctx.user_id:
            switch_user(choice)
            st.rerun()
        st.text_input(
            "Switch to another user",
            key=_NEW_USER_KEY,
            placeholder="user id, then Enter",
            on_change=_add_user,
        )
        error = st.session_state.pop(_NEW_USER_ERROR_KEY, None)
        if error:
            st.error(error)
        st.divider()
        count_slot = st.empty()
        model = ctx.settings.model or "offline (no model)"
        st.caption(f"Model: `{model}`")
        st.caption(f"Store: `{ctx.settings.store_label}`")
    return count_slot


def _show_count(slot: DeltaGenerator, ctx: UIContext) -> None:
    count = ctx.manager.count()
    slot.caption(f"**{count}** memor{'y' if count == 1 else 'ies'} for **{theme.md(ctx.user_id)}**")


def main() -> None:
    """Lay out the frame and run the selected page."""
    st.set_page_config(
        page_title="hippograph", page_icon="🦛", layout="wide", initial_sidebar_state="expanded"
    )
    st.html(theme.STYLE)
    setup_tracing()  # HIPPOGRAPH_TRACING=otlp: the chat page's turns are traced (once per process)
    page = st.navigation(_pages())
    st.logo(theme.LOGO, size="large")
    ctx = current_context()
    count_slot = _sidebar(ctx)
    _show_count(count_slot, ctx)
    show_flash()
    page.run()
    _show_count(count_slot, ctx)  # again: the page may have changed memories (a chat turn)


main()
