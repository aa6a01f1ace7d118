"""Fixtures of the reliability tests: a precomputed corpus and the hypothesis budget.

`HIPPOGRAPH_HYPOTHESIS_PROFILE` picks how hard the property tests search: `ci` (default;
bounded so the suite stays quick) or `long` (a soak run with many more examples):
`HIPPOGRAPH_HYPOTHESIS_PROFILE=long pytest tests/reliability -k property`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from hippograph.store import LocalEmbeddings
from tests.harness.reliability.corpus import PrecomputedEmbeddings, precompute, sentences

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
PROFILES = {
    "ci": settings(
        max_examples=25,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,
        suppress_health_check=_SLOW_OK,
    ),
    "long": settings(
        max_examples=1000, stateful_step_count=60, deadline=None, suppress_health_check=_SLOW_OK
    ),
}
PROFILE_NAME = os.environ.get("HIPPOGRAPH_HYPOTHESIS_PROFILE", "ci")
PROFILE = PROFILES[PROFILE_NAME]
"""The hypothesis settings every property test here runs with."""

CORPUS_SIZE = 300


@pytest.fixture(scope="session")
def corpus_path(
    tmp_path_factory: pytest.TempPathFactory, local_embeddings: LocalEmbeddings
) -> Path:
    """`CORPUS_SIZE` sentences embedded once by the real local model (`.npz`)."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.npz"
    return precompute(sentences(CORPUS_SIZE), local_embeddings, path)


@pytest.fixture(scope="session")
def precomputed(corpus_path: Path) -> PrecomputedEmbeddings:
    """The corpus's real vectors, served by text."""
    return PrecomputedEmbeddings(corpus_path)
