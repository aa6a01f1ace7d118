"""The chat page: offline turns through the real agent, and a scripted model that streams."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import TIMEOUT, texts


def send(app: AppTest, text: str) -> AppTest:
    app.chat_input[0].set_value(text).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def activity(app: AppTest) -> str:
    """The memory-activity panel's HTML."""
    return "\n".join(el.value for el in app.get("html") if "hg-turn" in el.value)


def test_offline_chat_shows_memories_forming_and_going(open_app, read, recall_counts):
    app = open_app()
    shown = texts(app)
    assert "Offline mode: no chat model is configured" in shown
    assert "--model openai:gpt-4o-mini" in shown  # says how to set one
    assert "Talking as **alice**" in shown

    send(app, "I live in Berlin, near the river.")
    assert "ADDED" in activity(app) and "I live in Berlin, near the river." in activity(app)
    assert read("alice") == ["I live in Berlin, near the river."]

    send(app, "I code mostly in Python.")
    send(app, "Where do I live?")
    panel = activity(app)
    assert "Turn 3" in panel and "no change to memory" in panel
    assert "recalled" in panel and "I live in Berlin" in panel
    assert "Where do I live?" in [m.value for m in app.chat_message[4].markdown]
    answer = app.chat_message[5].markdown[0].value
    assert "I live in Berlin, near the river. (score 0." in answer

    send(app, "Please forget where I live.")
    assert "DELETED" in activity(app)
    assert read("alice") == ["I code mostly in Python."]
    assert "1 deleted" in texts(app) and "2 added" in texts(app)
    assert sum(recall_counts("alice").values()) >= 1  # the recall was counted


def sidebar_count(app: AppTest) -> str:
    return next(c.value for c in app.sidebar.caption if " for **" in c.value)


def test_the_sidebar_count_follows_each_turn(open_app):
    """Issue 20.9: the memory count in the sidebar changes in the turn that changed memory."""
    app = open_app()
    assert sidebar_count(app) == "**0** memories for **alice**"
    send(app, "I live in Berlin, near the river.")
    assert sidebar_count(app) == "**1** memory for **alice**"
    send(app, "I play the cello on Sundays.")
    assert sidebar_count(app) == "**2** memories for **alice**"
    send(app, "Please forget where I live.")
    assert "DELETED" in activity(app)
    assert sidebar_count(app) == "**1** memory for **alice**"


def test_new_conversation_starts_an_empty_thread(open_app):
    app = open_app()
    send(app, "I play the cello.")
    first = next(c.value for c in app.caption if "conversation `ui-" in c.value)
    next(b for b in app.button if b.label == "New conversation").click().run()
    second = next(c.value for c in app.caption if "conversation `ui-" in c.value)
    assert first != second
    assert not app.chat_message
    assert "nothing changed yet" in texts(app)


def _scripted_page() -> None:
    """A chat page whose agent runs a scripted model (one app per test, cached across reruns)."""
    import streamlit as st
    from langgraph.checkpoint.memory import InMemorySaver

    from hippograph.backends import memory_index_config
    from hippograph.config import Settings
    from hippograph.graph import build_agent
    from hippograph.memories import MemoryManager
    from hippograph.recalls import RecallLog
    from hippograph.scripted import ScriptedChatModel
    from hippograph.store import FaissSqliteStore
    from hippograph.ui.session import UIContext
    from hippograph.ui.views import chat

    @st.cache_resource
    def world():
        store = FaissSqliteStore(":memory:", index=memory_index_config("local"))
        model = ScriptedChatModel(
            responses=[
                "Nice — Python it is.",
                {"facts": [{"content": "Codes in Python", "category": "tools", "importance": 0.8}]},
                "Java now, noted!",
                {"facts": [{"content": "Codes in Java", "category": "tools", "importance": 0.8}]},
                lambda messages: {
                    "actions": [{"op": "UPDATE", "handle": 1, "content": "Codes in Java"}]
                },
            ]
        )
        agent = build_agent(store=store, checkpointer=InMemorySaver(), model=model)
        return store, agent, model, RecallLog(":memory:")

    store, agent, model, log = world()
    settings = Settings(model="scripted", user_id="carol")
    ctx = UIContext(
        settings, "carol", MemoryManager(store, "carol", origin="ui"), log, lambda: agent
    )
    chat.render(ctx)
    st.session_state["memories"] = [m.content for m in ctx.manager.list()]
    st.session_state["prompts"] = len(model.calls)


def test_with_a_model_the_answer_streams_and_updates_show_old_and_new():
    app = AppTest.from_function(_scripted_page, default_timeout=TIMEOUT).run()
    assert "Offline mode" not in texts(app)
    send(app, "I mostly write Python.")
    assert app.chat_message[1].markdown[0].value == "Nice — Python it is."
    assert "ADDED" in activity(app) and "Codes in Python" in activity(app)
    send(app, "Actually I switched to Java.")
    panel = activity(app)
    assert "UPDATED" in panel
    assert '<span class="hg-old">Codes in Python</span> → Codes in Java' in panel
    assert app.session_state["memories"] == ["Codes in Java"]
    assert app.chat_message[3].markdown[0].value == "Java now, noted!"


def test_an_unusable_model_is_explained_and_chat_is_off(open_app, monkeypatch):
    monkeypatch.setenv("HIPPOGRAPH_MODEL", "nosuchprovider:some-model")
    app = open_app()
    shown = texts(app)
    assert "The chat model cannot be used" in shown and "nosuchprovider:some-model" in shown
    assert "HIPPOGRAPH_MODEL" in shown  # how to fix it
    assert app.chat_input[0].proto.disabled


def _model_page(user: str, responses: list[object]) -> None:
    """A chat page for `user` whose agent runs a scripted model answering `responses` (one
    world per user, cached across reruns); `count` is how many memories they have."""
    import streamlit as st
    from langgraph.checkpoint.memory import InMemorySaver

    from hippograph.backends import memory_index_config
    from hippograph.config import Settings
    from hippograph.graph import build_agent
    from hippograph.memories import MemoryManager
    from hippograph.scripted import ScriptedChatModel
    from hippograph.store import FaissSqliteStore
    from hippograph.ui.session import UIContext
    from hippograph.ui.views import chat

    @st.cache_resource
    def world(user: str):
        store = FaissSqliteStore(":memory:", index=memory_index_config("local"))
        model = ScriptedChatModel(responses=responses)
        return store, build_agent(store=store, checkpointer=InMemorySaver(), model=model)

    store, agent = world(user)
    manager = MemoryManager(store, user, origin="ui")
    chat.render(UIContext(Settings(model="scripted"), user, manager, None, lambda: agent))
    st.session_state["count"] = manager.count()


def test_a_failing_model_turn_shows_an_error_and_writes_nothing():
    app = AppTest.from_function(
        _model_page, args=("dora", [TimeoutError("provider timed out")]), default_timeout=TIMEOUT
    ).run()
    send(app, "I live in Oslo.")
    assert "The model failed, so nothing was written to memory this turn" in texts(app)
    assert "provider timed out" in texts(app)
    assert "model error: nothing written" in activity(app)
    assert app.session_state["count"] == 0


def test_a_failed_memory_step_is_shown_beside_the_kept_answer():
    responses = ["Oslo, lovely.", TimeoutError("extract timed out")]
    app = AppTest.from_function(
        _model_page, args=("erin", responses), default_timeout=TIMEOUT
    ).run()
    send(app, "I live in Oslo.")
    assert app.chat_message[1].markdown[0].value == "Oslo, lovely."  # the answer is kept
    (shown,) = [w.value for w in app.warning]
    assert shown.startswith("Memory: ") and "extract timed out" in shown
    assert "memory step failed" in activity(app) and "extract timed out" in activity(app)
    assert app.session_state["count"] == 0
    app.run()  # a rerun redraws the conversation from the turn log, warning included
    assert [w.value for w in app.warning] == [shown]
