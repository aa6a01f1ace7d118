"""Where to draw each memory of the graph view: a small force-directed layout in numpy.

`force_layout` places linked memories near each other and pushes all of them apart
(Fruchterman–Reingold, with a pull toward the centre so unlinked memories stay in view).
Deterministic for a given graph, so the picture does not jump between reruns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ITERATIONS = 150


def force_layout(
    count: int, edges: Sequence[tuple[int, int, float]], *, iterations: int = ITERATIONS
) -> np.ndarray:
    """`(count, 2)` positions in [0, 1] for nodes `0..count-1` joined by weighted `edges`."""
    if count == 0:
        return np.zeros((0, 2))
    if count == 1:
        return np.full((1, 2), 0.5)
    rng = np.random.default_rng(count)
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    pos = np.column_stack([np.cos(angles), np.sin(angles)]) + rng.normal(0, 0.05, (count, 2))
    ideal = 1.0 / np.sqrt(count)
    weights = np.zeros((count, count))
    for a, b, weight in edges:
        if a != b:
            weights[a, b] = weights[b, a] = max(weights[a, b], weight, 0.1)
    temperature = 0.2
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        distance = np.linalg.norm(delta, axis=-1) + 1e-9
        repulse = (ideal**2 / distance**2)[..., None] * delta
        attract = (weights * distance / ideal)[..., None] * delta
        force = (repulse - attract).sum(axis=1) - 0.05 * pos * count**0.5
        length = np.linalg.norm(force, axis=1, keepdims=True) + 1e-9
        pos += force / length * np.minimum(length, temperature)
        temperature *= 0.97
    low, high = pos.min(axis=0), pos.max(axis=0)
    return (pos - low) / np.where(high - low > 0, high - low, 1.0)
