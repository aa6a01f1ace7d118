"""Per-session state of the UI: who is looking, at which store, with which agent.

Core pieces:
    - `UIContext`: what a page needs — settings, the current user's `MemoryManager`, the
      recall log and a way to get the agent. Pages take one as their only argument, so a
      test can hand them any store or model.
    - `current_context`: the context of this Streamlit session (cached resources + the
      user chosen in the sidebar).
    - `current_user` / `switch_user` / `known_users`: the user switcher's state.
    - `flash` / `show_flash`: a message that survives the rerun after an action.

The chosen user lives in `st.session_state` and in the URL (`?user=alice`), so a page
can be bookmarked per user; every read and write goes through a `MemoryManager` bound to
that user, so one user's data never shows under another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st
from langgraph.store.base import BaseStore

from hippograph.config import Settings
from hippograph.memories import MemoryManager
from hippograph.recalls import RecallLog
from hippograph.store.memory import MEMORY_NAMESPACE_ROOT, decode_label, encode_label

USER_KEY = "hg_user"
"""Session-state key of the current user id."""

_FLASH_KEY = "hg_flash"
_VERSION_KEY = "hg_data_version"

ORIGIN = "ui"
"""Recorded as the origin of every change the UI makes (visible in the history)."""


@dataclass(frozen=True)
class UIContext:
    """Everything a page renders from.

    Attributes:
        settings: Model and storage configuration (`Settings.from_env()` in the app).
        user_id: Whose memories are shown.
        manager: `MemoryManager(store, user_id, origin="ui")`: every read and write.
        recall_log: Recall counters ("most recalled"); `None` hides that chart.
        agent: Returns the compiled agent (raises `ModelUnavailableError` on a bad model).
    """

    settings: Settings
    user_id: str
    manager: MemoryManager
    recall_log: RecallLog | None
    agent: Callable[[], Any]

    @property
    def store(self) -> BaseStore:
        """The memory store (shared by every user; scope reads through `manager`)."""
        return self.manager.store


def known_users(store: BaseStore, limit: int = 1000) -> list[str]:
    """User ids that have memories in `store`, sorted."""
    namespaces = store.list_namespaces(prefix=(MEMORY_NAMESPACE_ROOT,), max_depth=2, limit=limit)
    return sorted({decode_label(ns[1]) for ns in namespaces if len(ns) >= 2})


def valid_user_id(text: str) -> str:
    """`text` stripped, if usable as a user id; else `ValueError` saying why."""
    user = text.strip()
    if not user:
        raise ValueError("a user id must not be empty")
    if len(user) > 200:
        raise ValueError("a user id must be at most 200 characters")
    encode_label(user)  # rejects NUL bytes
    return user


def current_user(default: str) -> str:
    """The user chosen in this session (first run: `?user=` in the URL, else `default`).

    The user is written back to the URL on every run: Streamlit's page links drop query
    parameters, and a page reached from the sidebar must still be bookmarkable per user.
    """
    if USER_KEY not in st.session_state:
        requested = st.query_params.get("user")
        try:
            st.session_state[USER_KEY] = valid_user_id(requested) if requested else default
        except ValueError:
            st.session_state[USER_KEY] = default
    user = str(st.session_state[USER_KEY])
    if st.query_params.get("user") != user:
        st.query_params["user"] = user
    return user


def switch_user(user_id: str) -> None:
    """Make `user_id` the current user (and put it in the URL)."""
    st.session_state[USER_KEY] = user_id
    st.query_params["user"] = user_id


def current_context() -> UIContext:
    """This session's `UIContext`: the cached store and the sidebar's user."""
    from hippograph.ui.resources import load_agent, open_resources

    settings = Settings.from_env()
    resources = open_resources(settings)
    user_id = current_user(settings.user_id)
    return UIContext(
        settings=settings,
        user_id=user_id,
        manager=MemoryManager(resources.store, user_id, origin=ORIGIN),
        recall_log=resources.recall_log,
        agent=lambda: load_agent(settings),
    )


def flash(kind: str, message: str) -> None:
    """Show `message` (`kind`: success / info / warning / error) at the top of the next run."""
    st.session_state[_FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """Show and forget the message left by `flash`, if any."""
    pending = st.session_state.pop(_FLASH_KEY, None)
    if pending:
        kind, message = pending
        getattr(st, kind)(message)


def data_version() -> int:
    """A counter bumped by every write, so widgets keyed on it start fresh after one."""
    return int(st.session_state.get(_VERSION_KEY, 0))


def bump_data_version() -> None:
    """Note that the user's memories changed (see `data_version`)."""
    st.session_state[_VERSION_KEY] = data_version() + 1
