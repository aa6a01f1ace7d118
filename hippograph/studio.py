"""Entry points for LangGraph Studio and `langgraph dev` (see `langgraph.json`).

Core pieces:
    - `graph`: the memory agent compiled *without* store or checkpointer — the server
      injects its own checkpointer and our store.
    - `recall` / `remember`: the memory subgraphs (`build_recall_graph`,
      `build_remember_graph`), served beside it so Studio can run memory steps alone.
    - `store`: an async context manager yielding our `FaissSqliteStore` on the configured
      database (`HIPPOGRAPH_DB`, or the user data dir); the server opens it once.
    - `background_graph`: the agent forming memories after the reply, as scheduled runs of
      `formation_graph` on this server (debounce: `HIPPOGRAPH_BACKGROUND_DELAY` seconds,
      default 5).

The model comes from `HIPPOGRAPH_MODEL` (offline when unset); a run may override it with
`context={"user_id": ..., "model": "provider:model"}`. `HIPPOGRAPH_TRACING=otlp` traces the
server's runs like any other process's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.store.base import BaseStore

from hippograph.backends import aopen_store
from hippograph.background import DEFAULT_DELAY, ServerFormation, build_formation_graph
from hippograph.config import Settings
from hippograph.graph.agent import AGENT_NAME, build_agent_graph
from hippograph.graph.subgraphs import build_recall_graph, build_remember_graph
from hippograph.memory.chat_models import resolve_chat_model
from hippograph.tracing import setup_tracing

_settings = Settings.from_env()
setup_tracing()  # HIPPOGRAPH_TRACING=otlp traces the server's runs (OTEL_EXPORTER_OTLP_*)

_model = resolve_chat_model(_settings.model, base_url=_settings.base_url)
graph = build_agent_graph(model=_model).compile(name=AGENT_NAME)
recall = build_recall_graph()
remember = build_remember_graph(model=_model)

_delay = float(os.environ.get("HIPPOGRAPH_BACKGROUND_DELAY", DEFAULT_DELAY))
background_graph = build_agent_graph(
    model=_model, background=ServerFormation(delay=_delay)
).compile(name=f"{AGENT_NAME}-background")
formation_graph = build_formation_graph(model=_model)


@asynccontextmanager
async def store() -> AsyncIterator[BaseStore]:
    """Our store for the LangGraph server (it sweeps its own TTLs when configured to)."""
    async with aopen_store(settings=Settings.from_env()) as opened:
        yield opened
