"""Every UI page, opened as user A, shows none of user B's memories — for user ids built to
collide (prefix overlap, wildcard, dots and percent signs, look-alikes)."""

from __future__ import annotations

import pytest

from tests.ui.test_pages import cards, labelled, page_text

PAIRS = [
    ("alice", "alice2"),
    ("*", "alice"),
    ("alice.x", "alice%2Ex"),
    ("al_ce", "\u0430lice"),
]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=["prefix", "wildcard", "dots", "lookalike"])
def test_pages_show_only_the_current_users_memories(open_app, seed, a: str, b: str) -> None:
    seed(a, ("Drinks green tea every morning", "habits", 0.6))
    seed(b, ("Drinks zzbsecret tea at night", "habits", 0.9))
    app = open_app("memories", user=a)
    for page in ("memories", "analytics", "history"):
        shown = page_text(app, page)
        assert "zzbsecret" not in shown, page
    assert "green tea" in page_text(app, "memories")
    app.switch_page("views/search.py").run()
    labelled(app.text_input, "Query").set_value("zzbsecret tea at night").run()
    assert "green tea" in cards(app) and "zzbsecret" not in cards(app)
