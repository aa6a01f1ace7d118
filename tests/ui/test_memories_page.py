"""The memories page: table, filters, inline edits, add, delete with confirmation, JSONL
import/export — and bad input that must change nothing."""

from __future__ import annotations

import io
import json

import pytest
from streamlit.testing.v1 import AppTest

from hippograph.backends import memory_index_config
from hippograph.memories import MemoryManager
from hippograph.store import FaissSqliteStore
from hippograph.ui.views.memories import Filters, apply_edits, table
from tests.ui.conftest import texts

FACTS = (
    ("Codes primarily in Python", "tools", 0.8),
    ("Lives in Lisbon", "personal", 0.7),
    ("Prefers dark mode", "preferences", 0.3),
)


def table_contents(app: AppTest) -> list[str]:
    frames = app.get("dataframe")
    return [] if not frames else list(frames[0].value["content"])


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label.startswith(label))


def labelled(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def test_table_lists_and_filters_the_users_memories(open_app, seed):
    seed("alice", *FACTS)
    app = open_app("memories")
    assert sorted(table_contents(app)) == sorted(f[0] for f in FACTS)
    assert "Memories: 3" in texts(app)

    labelled(app.multiselect, "Categories").set_value(["tools", "personal"]).run()
    assert sorted(table_contents(app)) == ["Codes primarily in Python", "Lives in Lisbon"]
    app.slider[0].set_value((0.75, 1.0)).run()
    assert table_contents(app) == ["Codes primarily in Python"]
    labelled(app.multiselect, "Categories").set_value([]).run()
    app.slider[0].set_value((0.0, 1.0)).run()
    labelled(app.text_input, "Text").set_value("LISBON").run()
    assert table_contents(app) == ["Lives in Lisbon"]
    labelled(app.text_input, "Text").set_value("nothing like this").run()
    assert "No memories match these filters." in texts(app)


def test_empty_state_for_a_user_without_memories(open_app):
    app = open_app("memories")
    assert "No memories yet for **alice**" in texts(app)
    assert not app.get("dataframe")


def test_add_validates_and_bad_input_changes_nothing(open_app, seed, read):
    seed("alice", FACTS[0])
    app = open_app("memories")
    form_text = app.text_area[0]
    form_text.set_value("   ")
    button(app, "Add memory").click().run()
    assert "Not added: content must not be empty" in texts(app)
    assert read("alice") == ["Codes primarily in Python"]

    app.text_area[0].set_value("Allergic to peanuts")
    app.number_input[0].set_value(1.5)
    button(app, "Add memory").click().run()
    assert "importance must be within [0, 1], got 1.5" in texts(app)
    assert read("alice") == ["Codes primarily in Python"]

    app.number_input[0].set_value(0.9)
    labelled(app.selectbox, "Category").set_value("personal")
    button(app, "Add memory").click().run()
    assert "Added “Allergic to peanuts”." in texts(app)
    assert read("alice") == ["Allergic to peanuts", "Codes primarily in Python"]
    assert "Allergic to peanuts" in table_contents(app)


def test_delete_asks_for_confirmation(open_app, seed, read):
    keys = seed("alice", *FACTS)
    app = open_app("memories")
    picker = labelled(app.multiselect, "Select memories to delete")
    picker.set_value([keys[0], keys[2]]).run()
    button(app, "Delete 2 selected").click().run()
    assert "Delete 2 memories of **alice**?" in texts(app)
    button(app, "Cancel").click().run()
    assert len(read("alice")) == 3

    picker = labelled(app.multiselect, "Select memories to delete")
    picker.set_value([keys[0], keys[2]]).run()
    button(app, "Delete 2 selected").click().run()
    button(app, "Yes, delete").click().run()
    assert "Deleted 2 memories." in texts(app)
    assert read("alice") == ["Lives in Lisbon"]
    assert table_contents(app) == ["Lives in Lisbon"]


def _upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.get("file_uploader")[0].set_value((name, data, "application/jsonl")).run()
    return button(app, "Import").click().run()


def test_malformed_import_reports_lines_and_imports_nothing(open_app, seed, read):
    seed("alice", FACTS[0])
    app = open_app("memories")
    bad = b'{"content": "Fine line"}\nnot json\n{"content": "x", "importance": 7}\n'
    _upload(app, "bad.jsonl", bad)
    shown = texts(app)
    assert "Nothing imported: 2 invalid line(s)." in shown
    assert "line 2: not JSON" in shown and "line 3: importance must be within [0, 1]" in shown
    assert read("alice") == ["Codes primarily in Python"]

    _upload(app, "latin1.jsonl", '{"content": "Café"}'.encode("latin-1"))
    assert "Nothing imported: the file is not UTF-8 text." in texts(app)
    assert read("alice") == ["Codes primarily in Python"]


def test_import_adds_the_memories(open_app, seed, read):
    seed("alice", FACTS[0])
    app = open_app("memories")
    lines = [
        {"content": "Runs every morning", "category": "habits", "importance": 0.6},
        {"content": "Wants to learn Rust", "category": "goals"},
    ]
    _upload(app, "more.jsonl", "\n".join(json.dumps(x) for x in lines).encode())
    assert "Imported 2 memories." in texts(app)
    assert read("alice") == [
        "Codes primarily in Python",
        "Runs every morning",
        "Wants to learn Rust",
    ]


@pytest.fixture
def manager(embeddings):
    with FaissSqliteStore.from_conn_string(":memory:", index=memory_index_config(embeddings)) as s:
        yield MemoryManager(s, "alice", origin="ui")


def test_inline_edits_are_validated_before_any_is_written(manager):
    for content, category, importance in FACTS:
        manager.add(content, category=category, importance=importance)
    shown = Filters().apply(manager)
    assert list(table(shown)["content"]) == [m.content for m in shown]
    before = {m.id: (m.content, m.category, m.importance) for m in manager.list()}

    bad = {0: {"content": "Codes primarily in Java"}, 1: {"content": "  "}}
    written, errors = apply_edits(manager, shown, bad)
    assert written == 0 and "content must not be empty" in errors[0]
    bad = {0: {"importance": 1.4}}
    assert "importance must be within [0, 1]" in apply_edits(manager, shown, bad)[1][0]
    assert (
        "importance must be a number"
        in apply_edits(manager, shown, {0: {"importance": None}})[1][0]
    )
    assert {m.id: (m.content, m.category, m.importance) for m in manager.list()} == before

    good = {0: {"content": "Codes primarily in Java", "importance": 0.9}, 2: {"category": "work"}}
    assert apply_edits(manager, shown, good) == (2, [])
    edited = manager.get(shown[0].id)
    assert (edited.content, edited.importance) == ("Codes primarily in Java", 0.9)
    assert manager.get(shown[2].id).category == "work"
    assert manager.history(shown[0].id)[0]["source"]["origin"] == "ui"


def test_export_round_trips_through_import(manager, embeddings):
    from hippograph.ui.views.memories import _export

    manager.add("Lives in Lisbon", category="personal", importance=0.7)
    exported = _export(manager)
    with FaissSqliteStore.from_conn_string(":memory:", index=memory_index_config(embeddings)) as s:
        other = MemoryManager(s, "alice")
        assert other.import_jsonl(io.StringIO(exported)).imported == 1
        assert [m.content for m in other.list()] == ["Lives in Lisbon"]


def _edit(app: AppTest, user: str, rows: dict) -> AppTest:
    """What the browser's grid reports after cells are edited (the data editor's state)."""
    try:
        version = app.session_state["hg_data_version"]
    except KeyError:
        version = 0
    key = f"hg_editor::{user}::{version}"
    app.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    return app.run()


def test_save_button_writes_valid_inline_edits_only(open_app, seed, read):
    seed("alice", FACTS[1])
    app = open_app("memories")
    _edit(app, "alice", {0: {"content": "   "}})
    button(app, "Save 1 edited row").click().run()
    assert "Nothing was saved" in texts(app) and "content must not be empty" in texts(app)
    assert read("alice") == ["Lives in Lisbon"]

    _edit(app, "alice", {0: {"content": "Lives in Porto", "category": "personal"}})
    button(app, "Save 1 edited row").click().run()
    assert "Saved 1 edited memory." in texts(app)
    assert read("alice") == ["Lives in Porto"]
    assert table_contents(app) == ["Lives in Porto"]


def test_the_users_profile_is_shown_above_the_table(open_app, seed, ui_settings, embeddings):
    from hippograph.backends import open_store
    from hippograph.profile import write_profile

    seed("alice", *FACTS)
    with open_store(ui_settings.db_path, embeddings=embeddings, settings=ui_settings) as store:
        write_profile(store, "alice", {"name": "Alice", "languages": ["pt", "en"]})
        write_profile(store, "bob", {"name": "Bob"})
    app = open_app("memories")
    (expander,) = [e for e in app.expander if e.label == "Profile"]
    (frame,) = expander.get("dataframe")
    assert dict(zip(frame.value["field"], frame.value["value"], strict=True)) == {
        "name": "Alice",
        "languages": "pt, en",
    }
    assert "Memories: 3" in texts(app)  # the profile is not a memory


def test_add_empties_the_box_and_does_not_store_a_duplicate(open_app, seed, read):
    """Issue 20.8: after "Add memory" the box is empty; adding the same text again (the
    second click) stores nothing — chat's duplicate rule; other words can be added anyway."""
    seed("alice", FACTS[0])
    app = open_app("memories")
    app.text_area[0].set_value("Allergic to peanuts")
    button(app, "Add memory").click().run()
    assert "Added “Allergic to peanuts”." in texts(app)
    assert app.text_area[0].value == ""

    app.text_area[0].set_value("  allergic to peanuts ")
    button(app, "Add memory").click().run()
    shown = texts(app)
    assert "Not added: already remembered as “Allergic to peanuts” (similarity 1.00)." in shown
    assert not [b for b in app.button if b.label == "Add anyway"]  # the same text: never twice
    assert read("alice") == ["Allergic to peanuts", "Codes primarily in Python"]

    app.text_area[0].set_value("Codes mainly in Python")  # cosine 0.97 with MiniLM
    button(app, "Add memory").click().run()
    assert "Not added: already remembered as “Codes primarily in Python” (similarity 0.97)" in (
        texts(app)
    )
    assert app.text_area[0].value == "Codes mainly in Python"  # kept, to edit or insist
    assert read("alice") == ["Allergic to peanuts", "Codes primarily in Python"]
    button(app, "Add anyway").click().run()
    assert "Added “Codes mainly in Python”." in texts(app)
    assert app.text_area[0].value == ""
    assert read("alice") == [
        "Allergic to peanuts",
        "Codes mainly in Python",
        "Codes primarily in Python",
    ]
