"""What the UI opens once per process and shares between sessions and reruns.

Core pieces:
    - `Resources`: the memory store, the checkpointer and the recall log for one store
      location, opened through `hippograph.backends` (the same way the CLI opens them).
    - `open_resources`: `Resources` cached with `st.cache_resource`, closed on release.
    - `load_agent`: the compiled agent for a model spec, cached the same way.

Streamlit reruns the page script on every interaction; everything here is created on the
first run and reused (the store, the SQLite saver and the recall log are thread-safe, and
Streamlit serves each session from its own thread).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st
from langchain_core.embeddings import Embeddings
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from hippograph.config import Settings
from hippograph.recalls import RecallLog


@dataclass
class Resources:
    """The storage one UI process works on (see `open_resources`)."""

    settings: Settings
    store: BaseStore
    checkpointer: BaseCheckpointSaver[Any]
    recall_log: RecallLog
    _opened: ExitStack = field(default_factory=ExitStack, repr=False)

    def close(self) -> None:
        """Close the store, the checkpointer and the recall log."""
        self.recall_log.close()
        self._opened.close()


def storage_settings(settings: Settings) -> tuple[str, str | None, str]:
    """The part of `settings` that picks the storage: the cache key of `open_resources`."""
    return (str(settings.db_path), settings.store_url, settings.embeddings)


@st.cache_resource(show_spinner="Loading the embedding model…")
def _embeddings(spec: str) -> Embeddings:
    from hippograph.store import resolve_embeddings

    return resolve_embeddings(spec)


def _release(resources: Resources) -> None:
    resources.close()


@st.cache_resource(show_spinner="Opening the memory store…", on_release=_release)
def _open(db_path: str, store_url: str | None, embeddings: str) -> Resources:
    from hippograph.backends import open_checkpointer, open_store

    settings = Settings(db_path=Path(db_path), store_url=store_url, embeddings=embeddings)
    opened = ExitStack()
    try:
        store = opened.enter_context(
            open_store(embeddings=_embeddings(embeddings), settings=settings)
        )
        checkpointer = opened.enter_context(open_checkpointer(settings=settings))
        recall_log = RecallLog.for_settings(settings)
    except BaseException:
        opened.close()
        raise
    return Resources(settings, store, checkpointer, recall_log, opened)


def open_resources(settings: Settings) -> Resources:
    """The store, checkpointer and recall log for `settings`, opened once per process."""
    return _open(*storage_settings(settings))


def release_all() -> None:
    """Close every cached store and drop the agents built on them (tests call this)."""
    _agent.clear()
    _open.clear()


@st.cache_resource(show_spinner="Loading the chat model…")
def _agent(
    db_path: str, store_url: str | None, embeddings: str, model: str | None, base_url: str | None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    from hippograph.graph import build_agent

    resources = _open(db_path, store_url, embeddings)
    settings = Settings(model=model, base_url=base_url)
    return build_agent(
        store=resources.store,
        checkpointer=resources.checkpointer,
        model=model,
        settings=settings,
    )


def load_agent(settings: Settings) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The memory agent on the shared store, with `settings.model` (offline when unset).

    Raises:
        ModelUnavailableError: the model spec cannot be turned into a chat model.
    """
    return _agent(*storage_settings(settings), settings.model, settings.base_url)
