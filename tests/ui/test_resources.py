"""Resources are opened once per process, not per rerun, and closed when released."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import TIMEOUT


def _reruns() -> None:
    import streamlit as st

    from hippograph.config import Settings
    from hippograph.ui.resources import load_agent, open_resources

    settings = Settings.from_env()
    resources = open_resources(settings)
    st.session_state.setdefault("stores", []).append(id(resources.store))
    st.session_state.setdefault("agents", []).append(id(load_agent(settings)))
    st.session_state["resources"] = resources


def test_the_store_and_agent_are_opened_once(ui_settings):
    app = AppTest.from_function(_reruns, default_timeout=TIMEOUT).run()
    app.run()
    app.run()
    assert len(app.session_state["stores"]) == 3
    assert len(set(app.session_state["stores"])) == 1
    assert len(set(app.session_state["agents"])) == 1

    from hippograph.ui.resources import release_all

    resources = app.session_state["resources"]
    release_all()
    assert resources.store._conns.closed
