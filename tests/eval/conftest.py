"""Eval fixtures: the tiny hand-made conversation and one shared local embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from hippograph.store import LocalEmbeddings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "locomo"


@pytest.fixture(scope="session")
def embeddings() -> LocalEmbeddings:
    """The real offline embedder, loaded once for the eval tests."""
    return LocalEmbeddings()


@pytest.fixture
def data_dir() -> Path:
    """Folder holding `tiny.json`, a hand-made LoCoMo-shaped conversation."""
    return FIXTURES
