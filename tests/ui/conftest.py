"""Fixtures for the UI tests: the app under `AppTest` on a temporary store, seeded memories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hippograph.backends import open_store
from hippograph.config import Settings
from hippograph.memories import MemoryManager
from hippograph.recalls import RecallLog
from hippograph.ui import APP_PATH

TIMEOUT = 60.0
"""Seconds one AppTest run may take (the first opens the store and loads the embedder)."""


@pytest.fixture
def ui_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment the app reads: a fresh store file, offline, user alice."""
    db = tmp_path / "ui" / "memories.db"
    monkeypatch.setenv("HIPPOGRAPH_DB", str(db))
    monkeypatch.setenv("HIPPOGRAPH_USER", "alice")
    return Settings.from_env()


@pytest.fixture(autouse=True)
def _release_resources() -> Iterator[None]:
    """Close the stores the app cached, so each test starts from its own file."""
    yield
    from hippograph.ui.resources import release_all

    release_all()


@pytest.fixture
def seed(ui_settings: Settings, embeddings) -> Callable[..., list[str]]:
    """Add memories for a user through `MemoryManager` (as the CLI would); returns keys."""

    def add(user: str, *facts: tuple[str, str, float]) -> list[str]:
        with open_store(ui_settings.db_path, embeddings=embeddings, settings=ui_settings) as s:
            manager = MemoryManager(s, user, origin="test")
            return [manager.add(c, category=cat, importance=imp).id for c, cat, imp in facts]

    return add


@pytest.fixture
def read(ui_settings: Settings, embeddings) -> Callable[[str], list[str]]:
    """The contents of a user's memories, read from the store file as another process would."""

    def contents(user: str) -> list[str]:
        with open_store(ui_settings.db_path, embeddings=embeddings, settings=ui_settings) as s:
            return sorted(m.content for m in MemoryManager(s, user).list())

    return contents


@pytest.fixture
def recall_counts(ui_settings: Settings) -> Callable[[str], dict[str, int]]:
    """Recall counts of a user's memories, by key."""

    def counts(user: str) -> dict[str, int]:
        log = RecallLog.for_settings(ui_settings)
        try:
            return {c.key: c.count for c in log.top(user, limit=100)}
        finally:
            log.close()

    return counts


@pytest.fixture
def open_app(ui_settings: Settings) -> Callable[..., AppTest]:
    """Run the real app (`hippograph/ui/app.py`), optionally on one page and as one user."""

    def start(page: str | None = None, *, user: str | None = None) -> AppTest:
        app = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT)
        if user is not None:
            app.query_params["user"] = user
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        if page is not None:
            app.switch_page(f"views/{page}.py").run()
            assert not app.exception, [e.value for e in app.exception]
        return app

    return start


def texts(app: AppTest) -> str:
    """All the text an AppTest run shows: markdown, captions, alerts and HTML blocks."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "title"):
        parts += [str(el.value) for el in app.get(kind)]
    parts += [str(el.proto.body) for el in app.get("html")]
    parts += [f"{el.label}: {el.value}" for el in app.get("metric")]
    return "\n".join(parts)
