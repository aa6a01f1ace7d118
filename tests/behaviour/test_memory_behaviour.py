"""The memory-behaviour suite: every scenario of `scenarios.py`, in every mode it promises.

Offline and with the oracle scripted model every scenario must pass. With the real local
model (greedy decoding) too: the pipeline's guards — code deciding what it can, validated
handles, retries, merge rules — are what make a 1.5B model pass, not prompts tuned to
these cases. The local runs are `local_model`-marked: about three model calls per turn,
0.5–10 s each on two idle cores (minutes each on a saturated shared machine).
"""

from __future__ import annotations

import pytest

from tests.behaviour.scenarios import SCENARIOS, Scenario, run_scenario


def _cases(mode: str) -> list[Scenario]:
    return [s for s in SCENARIOS if mode in s.modes]


@pytest.mark.parametrize("scenario", _cases("offline"), ids=lambda s: s.name)
def test_offline(scenario, agent_for):
    outcome = run_scenario(scenario, "offline", lambda s: agent_for(s, "offline"))
    assert outcome.passed, outcome.failed
    assert outcome.warnings == []


@pytest.mark.parametrize("scenario", _cases("scripted"), ids=lambda s: s.name)
def test_scripted_model(scenario, agent_for):
    outcome = run_scenario(scenario, "scripted", lambda s: agent_for(s, "scripted"))
    assert outcome.passed, outcome.failed
    assert outcome.warnings == []


@pytest.mark.local_model
@pytest.mark.timeout(1800)  # seconds per scenario on an idle machine; minutes on a busy one
@pytest.mark.parametrize("scenario", _cases("local"), ids=lambda s: s.name)
def test_local_model(scenario, agent_for):
    outcome = run_scenario(scenario, "local", lambda s: agent_for(s, "local"))
    assert outcome.passed, (outcome.failed, outcome.warnings)
