"""Search, analytics and history pages, and the user switcher: one user's data never shows
under another."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import TIMEOUT, texts

ALICE = (
    ("Codes primarily in Python", "tools", 0.8),
    ("Lives in Lisbon", "personal", 0.7),
    ("Wants to run a marathon", "goals", 0.95),
)
BOB = (("Plays the trumpet in a jazz band", "habits", 0.6),)


def labelled(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def chart_data(chart) -> pd.DataFrame:
    """The data an Altair chart was drawn from (Streamlit ships it as Arrow)."""
    proto = chart.proto
    raw = proto.datasets[0].data.data if proto.datasets else proto.data.data
    return pa.ipc.open_stream(raw).read_pandas()


def cards(app: AppTest) -> str:
    return "\n".join(el.value for el in app.get("html") if "hg-card" in el.value)


CARD = 'class="hg-card"'


def split_cards(app: AppTest) -> tuple[str, str]:
    """The result cards shown on the page, and those folded into an expander."""
    folded = [h.proto.body for e in app.expander for h in e.get("html") if CARD in h.value]
    shown = [h.proto.body for h in app.get("html") if CARD in h.value]
    return "".join(x for x in shown if x not in folded), "".join(folded)


def test_search_shows_scores_and_provenance(open_app, seed):
    seed("alice", *ALICE)
    seed("bob", *BOB)
    app = open_app("search")
    assert "Type a question" in texts(app)
    labelled(app.text_input, "Query").set_value("Which programming language do I use?").run()
    results = cards(app)
    assert results.index("Codes primarily in Python") < results.index("Lives in Lisbon")
    assert "#1 · score" in results and "hg-score" in results
    assert "from test · " in results  # provenance: made by a test through MemoryManager
    assert "trumpet" not in results
    labelled(app.selectbox, "Category").set_value("personal").run()
    assert "Lives in Lisbon" in cards(app) and "Python" not in cards(app)


def test_search_sets_weak_matches_apart_and_says_when_nothing_is_relevant(open_app, seed):
    """Issue 20.12: results below the agent's recall cut-off (`Context.min_score`) are not
    shown as results; a query about nothing stored says "Nothing relevant"."""
    from hippograph.graph.context import Context

    cutoff = Context(user_id="alice").min_score
    seed("alice", *ALICE)
    app = open_app("search")
    labelled(app.text_input, "Query").set_value("Which programming language do I use?").run()
    relevant, weaker = split_cards(app)
    assert "Codes primarily in Python" in relevant and "Lives in Lisbon" not in relevant
    assert f"1 relevant result · score ≥ {cutoff:.2f}" in texts(app)
    assert [e.label for e in app.expander] == ["2 weaker matches below the cut-off"]
    assert "Lives in Lisbon" in weaker and "#2 · score" in weaker

    labelled(app.text_input, "Query").set_value("qwxz vbnm plokij").run()
    assert "Nothing relevant: the closest memory scores 0." in texts(app)
    assert f"below {cutoff:.2f}, the cut-off below which the agent recalls nothing" in texts(app)
    relevant, weaker = split_cards(app)
    assert not relevant and weaker.count(CARD) == 3
    assert [e.label for e in app.expander] == ["Show the 3 closest anyway"]


def test_explain_scores_shows_what_each_score_is_made_of(open_app, seed):
    """Issue 17 (search explain) on the Search page: off by default; on, every card says
    what its score is made of, and the parts are the store's own."""
    seed("alice", *ALICE)
    app = open_app("search")
    labelled(app.text_input, "Query").set_value("Which programming language do I use?").run()
    relevant, _ = split_cards(app)
    assert "cosine" not in relevant
    (toggle,) = [t for t in app.toggle if t.label == "Explain scores"]
    toggle.set_value(True).run()
    relevant, weaker = split_cards(app)
    assert not app.exception
    assert re.search(r"score \d\.\d\d = cosine \d\.\d\d, keyword \d\.\d\d \(bm25 ", relevant)
    assert (relevant + weaker).count("= cosine") == 3


def test_analytics_charts_and_most_recalled(open_app, seed):
    seed("alice", *ALICE)
    app = open_app()
    app.chat_input[0].set_value("What programming language do I use, Python?").run()
    app.switch_page("views/analytics.py").run()
    assert not app.exception
    shown = texts(app)
    assert "Memories: 3" in shown and "Categories in use: 3" in shown
    assert "Importance ≥ 0.7: 3" in shown
    charts = app.get("vega_lite_chart")
    assert len(charts) == 4, "category, importance, growth and most-recalled charts"
    category, importance, growth, recalled = (chart_data(chart) for chart in charts)
    assert dict(zip(category["category"], category["memories"], strict=True)) == {
        "tools": 1,
        "personal": 1,
        "goals": 1,
    }
    assert list(importance["memories"]) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]  # 0.7, 0.8, 0.95
    assert list(growth["memories"]) == [3]
    assert "Codes primarily in Python" in list(recalled["content"])
    assert set(recalled["recalled"]) == {1}


def test_analytics_empty_state(open_app):
    app = open_app("analytics")
    assert "No memories yet for **alice**" in texts(app)
    assert not app.get("vega_lite_chart")


def test_history_shows_every_change_with_its_source(open_app):
    app = open_app()
    app.chat_input[0].set_value("I live in Berlin, near the river.").run()
    app.chat_input[0].set_value("Please forget where I live.").run()
    app.switch_page("views/history.py").run()
    history = cards(app)
    assert history.count("ADDED") == 1 and history.count("DELETED") == 1
    assert history.index("DELETED") < history.index("ADDED")  # newest first
    assert "chat · thread ui-" in history and "message " in history
    labelled(app.multiselect, "Changes").set_value(["DELETE"]).run()
    assert "ADDED" not in cards(app) and "DELETED" in cards(app)


def _history_on_a_store_without_history() -> None:
    import streamlit as st
    from langgraph.store.memory import InMemoryStore

    from hippograph.config import Settings
    from hippograph.memories import MemoryManager
    from hippograph.ui.session import UIContext
    from hippograph.ui.views import history

    manager = MemoryManager(InMemoryStore(), "alice")
    manager.add("Lives in Lisbon")
    history.render(UIContext(Settings(), "alice", manager, None, lambda: None))
    st.caption(f"count={manager.count()}")


def test_history_on_a_backend_without_it_says_so():
    app = AppTest.from_function(_history_on_a_store_without_history, default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    assert "No audit trail on this backend" in texts(app) and "InMemoryStore" in texts(app)


def page_text(app: AppTest, page: str) -> str:
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    frames = app.get("dataframe")
    table = " ".join(frames[0].value["content"]) if frames else ""
    return texts(app) + table + cards(app)


def test_user_switcher_keeps_each_users_data_apart(open_app, seed):
    seed("alice", *ALICE)
    seed("bob", *BOB)
    app = open_app("memories")
    assert labelled(app.selectbox, "User").options == ["alice", "bob"]
    assert "Lives in Lisbon" in page_text(app, "memories")
    assert "trumpet" not in page_text(app, "memories")

    labelled(app.selectbox, "User").set_value("bob").run()
    assert app.query_params["user"] == ["bob"] or app.query_params["user"] == "bob"
    for page in ("memories", "analytics", "history"):
        shown = page_text(app, page)
        assert "Lisbon" not in shown and "Python" not in shown, page
    assert "trumpet" in page_text(app, "memories")
    app.switch_page("views/search.py").run()
    labelled(app.text_input, "Query").set_value("Where do I live? Lisbon").run()
    assert "Lisbon" not in cards(app) and "trumpet" in cards(app)

    labelled(app.text_input, "Switch to another user").set_value("carol").run()
    shown = page_text(app, "memories")
    assert "No memories yet for **carol**" in shown and "trumpet" not in shown
    labelled(app.text_input, "Switch to another user").set_value("   ").run()
    assert "No memories yet for **carol**" in page_text(app, "memories")


def test_user_comes_from_the_url(open_app, seed):
    seed("bob", *BOB)
    app = open_app("memories", user="bob")
    assert "trumpet" in page_text(app, "memories")
    assert "**bob**" in texts(app)


def test_page_scripts_hold_no_bare_strings():
    """Streamlit's "magic" prints a bare string in a page script; one after the module
    docstring (an attribute docstring) showed up as stray text above the Chat title."""
    import ast

    from hippograph.ui import APP_PATH

    scripts = [APP_PATH, *sorted((APP_PATH.parent / "views").glob("*.py"))]
    stray = [
        f"{path.name}:{node.lineno}"
        for path in scripts
        for node in ast.parse(path.read_text()).body[1:]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    ]
    assert not stray


def test_a_change_made_here_shows_its_time_once(open_app):
    """The source of a change made in the UI carries the same minute as the change: the
    history card and the table said it twice (`… 09:28:44 · ui · … 09:28`)."""
    import re

    app = open_app("memories")
    app.text_area[0].set_value("Prefers green tea")
    next(b for b in app.button if b.label == "Add memory").click().run()
    (source,) = app.get("dataframe")[0].value["source"]
    assert source == "ui"
    app.switch_page("views/history.py").run()
    (card,) = [h for h in app.get("html") if "ADDED" in h.value]
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", card.value)
    assert len(times) == 1 and " · ui</div>" in card.value
