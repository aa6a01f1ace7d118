"""The graph page: the network chart of a user's memories and links, link editing (add,
remove, bad input), isolation between users, and the notice on backends without links."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from hippograph.backends import open_store
from hippograph.memories import MemoryManager
from hippograph.ui.graph_layout import force_layout, place_labels
from tests.ui.conftest import TIMEOUT, texts

FACTS = (
    ("Lives in Porto", "personal", 0.7),
    ("Has a daughter, Inês, who turns 6 in June", "personal", 0.8),
    ("Codes primarily in Java", "tools", 0.8),
)


def labelled(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def chart_layers(app: AppTest) -> list[pd.DataFrame]:
    """The datasets of the page's Altair chart (Streamlit ships them as Arrow)."""
    (chart,) = app.get("vega_lite_chart")
    return [pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets]


def test_the_graph_shows_memories_and_links_and_edits_them(open_app, seed, ui_settings, embeddings):
    porto, daughter, java = seed("alice", *FACTS)
    (bob_key,) = seed("bob", ("Plays the trumpet in Porto", "habits", 0.6))
    with open_store(ui_settings.db_path, embeddings=embeddings, settings=ui_settings) as store:
        MemoryManager(store, "alice").link(daughter, porto, "family")
        MemoryManager(store, "bob")  # bob has a memory but no links

    app = open_app("graph")
    shown = texts(app)
    assert "Memories: 3" in shown and "Links: 1" in shown and "Linked memories: 2" in shown
    layers = chart_layers(app)
    nodes = next(d for d in layers if "importance" in d)
    edges = next(d for d in layers if "relation" in d)
    assert set(nodes["key"]) == {porto, daughter, java}  # alice's only
    assert bob_key not in set(nodes["key"])
    assert set(edges["relation"]) == {"family"} and set(edges["key"]) == {porto, daughter}
    assert nodes[["x", "y"]].to_numpy().min() >= 0 and nodes[["x", "y"]].to_numpy().max() <= 1

    labelled(app.selectbox, "Memory").set_value(porto).run()
    assert "← <b>family</b> · Has a daughter, Inês" in "".join(
        h.proto.body for h in app.get("html")
    )
    labelled(app.selectbox, "Link to").set_value(java)  # form widgets: sent on submit
    labelled(app.text_input, "Relation").set_value("   ")
    next(b for b in app.button if b.label == "Add link").click().run()
    assert "Not linked: a link relation must be a non-empty string" in texts(app)

    labelled(app.selectbox, "Link to").set_value(java)
    labelled(app.text_input, "Relation").set_value("works_from")
    next(b for b in app.button if b.label == "Add link").click().run()
    assert not app.exception
    assert "Linked with “works\\_from”." in texts(app)  # Markdown: shown as typed
    with open_store(ui_settings.db_path, embeddings=embeddings, settings=ui_settings) as store:
        links = MemoryManager(store, "alice").links(porto)
    assert {(x.key, x.relation, x.outgoing) for x in links} == {
        (daughter, "family", False),
        (java, "works_from", True),
    }
    assert "Links: 2" in texts(app)

    removes = [b for b in app.button if b.label == "Remove"]
    assert len(removes) == 2
    removes[0].click().run()  # the oldest: family
    assert "Removed the link “family”." in texts(app)
    with open_store(ui_settings.db_path, embeddings=embeddings, settings=ui_settings) as store:
        alice = MemoryManager(store, "alice")
        assert [x.relation for x in alice.links(porto)] == ["works_from"]
        history = [(h["op"], h["source"]["origin"]) for h in alice.history(limit=3)]
    assert history[:2] == [("UNLINK", "ui"), ("LINK", "ui")]


def test_the_graph_of_a_user_without_memories(open_app):
    app = open_app("graph")
    assert "No memories yet for **alice**" in texts(app)
    assert not app.get("vega_lite_chart")


def _graph_on_a_store_without_links() -> None:
    from langgraph.store.memory import InMemoryStore

    from hippograph.config import Settings
    from hippograph.memories import MemoryManager
    from hippograph.ui.session import UIContext
    from hippograph.ui.views import graph

    manager = MemoryManager(InMemoryStore(), "alice")
    manager.add("Lives in Lisbon")
    graph.render(UIContext(Settings(), "alice", manager, None, lambda: None))


def test_a_backend_without_links_says_so():
    app = AppTest.from_function(_graph_on_a_store_without_links, default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    assert "No memory graph on this backend" in texts(app) and "InMemoryStore" in texts(app)


def test_the_layout_pulls_linked_memories_together():
    positions = force_layout(6, [(0, 1, 1.0), (1, 2, 1.0), (3, 4, 1.0)])
    assert positions.shape == (6, 2) and positions.min() >= 0 and positions.max() <= 1
    near = ((positions[0] - positions[1]) ** 2).sum()
    far = ((positions[0] - positions[4]) ** 2).sum()
    assert near < far
    assert (force_layout(6, [(0, 1, 1.0)]) == force_layout(6, [(0, 1, 1.0)])).all()


def test_labels_go_where_they_cover_nothing():
    """A label beside its circle, never across the link leaving to the right, never out of
    the plot, never over another label."""
    points = np.array([[100.0, 100.0], [300.0, 100.0], [590.0, 100.0], [300.0, 110.0]])
    sizes = [(150.0, 15.0)] * 4
    placed = place_labels(points, [8, 8, 8, 8], sizes, [(0, 1)], (600.0, 200.0))
    assert placed[0].side != "right"  # the link to node 1 runs there
    assert placed[0].dx <= 0 or placed[0].dy != 0
    assert placed[2].side in ("left", "below-left", "above-left")  # the right edge is near
    assert {placed[1].side, placed[3].side} != {"right"}  # they would overlap
    assert all(abs(p.dx) >= 8 + 4 or abs(p.dy) >= 8 + 4 for p in placed)  # clear of the circle
