"""Check a finished migration: every source item and link is in the target, and a sample of
items is identical.

Counts are exact (every live source key is looked up); values and vectors are compared on a
random sample, since comparing a million vectors would take as long as copying them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hippograph.migration.source import SqliteSource
from hippograph.migration.target import PostgresTarget

VECTOR_TOLERANCE = 1e-6
"""Largest accepted element-wise difference between a source and a target vector (both are
float32; pgvector stores float32, so a faithful copy differs by 0)."""


@dataclass(frozen=True, slots=True)
class Check:
    """One verified quantity."""

    name: str
    expected: int
    found: int

    @property
    def ok(self) -> bool:
        """Whether the target matches the source."""
        return self.expected == self.found


@dataclass(slots=True)
class Verification:
    """The outcome of `verify`: counts, sampled items and every mismatch found."""

    checks: list[Check] = field(default_factory=list)
    sampled: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every count matches and no sampled item differs."""
        return all(check.ok for check in self.checks) and not self.mismatches


def verify(
    source: SqliteSource, target: PostgresTarget, *, history_copied: int, sample: int = 100
) -> Verification:
    """Compare `target` with `source` after a copy.

    Args:
        source: The source store.
        target: The target's bookkeeping connection.
        history_copied: History rows the copy recorded as written (from its progress row).
        sample: How many random items to compare value by value and vector by vector.
    """
    result = Verification()
    present = indexed = 0
    for keys in source.live_keys():
        found, with_vectors = target.count_present(keys)
        present += found
        indexed += with_vectors
    result.checks.append(Check("items", source.count_items(), present))
    if target.has_vector_table():
        result.checks.append(Check("items with vectors", source.count_indexed_items(), indexed))
    linked = sum(target.count_links_present(links) for links in source.links())
    result.checks.append(Check("links", source.count_links(), linked))
    result.checks.append(Check("history rows", source.count_history(), history_copied))
    for item in source.sample(sample):
        result.sampled += 1
        prefix = ".".join(item.namespace)
        label = "/".join((*item.namespace, item.key))
        value = target.value_of(prefix, item.key)
        if value is None:
            result.mismatches.append(f"{label}: missing in the target")
            continue
        if value != item.value:
            result.mismatches.append(f"{label}: value differs ({value!r} != {item.value!r})")
            continue
        if not item.indexed:
            continue
        stored = target.field_vectors(prefix, item.key)
        for name, vector in source.field_vectors(item.id).items():
            copy = stored.get(name)
            if copy is None:
                result.mismatches.append(f"{label}: no vector for field {name!r}")
            elif copy.shape != vector.shape or np.abs(copy - vector).max() > VECTOR_TOLERANCE:
                result.mismatches.append(f"{label}: vector of field {name!r} differs")
    return result
