"""Where to draw each memory of the graph view, and where to put its label.

Core pieces:
    - `force_layout`: positions linked memories near each other and pushes all of them
      apart (Fruchterman–Reingold, with a pull toward the centre so unlinked memories stay
      in view). Deterministic for a given graph, so the picture does not jump between reruns.
    - `place_labels`: puts each label beside its circle — right, left, below or above —
      where it covers the fewest other labels, circles and links and stays inside the plot
      (greedy, most connected memories first).
    - `Placement`: the side a label went to and its pixel offset from the circle's centre.

Both are pure numpy / Python, so the chart (`views/graph.py`) only draws what they decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ITERATIONS = 150

GAP = 4.0
"""Pixels between a circle's edge and its label."""

SIDES = (
    "right",
    "left",
    "below",
    "above",
    "below-right",
    "above-right",
    "below-left",
    "above-left",
)
"""Where a label may go, in order of preference (reading starts at the circle)."""

ALIGN = {
    "right": "left",
    "left": "right",
    "below": "center",
    "above": "center",
    "below-right": "left",
    "above-right": "left",
    "below-left": "right",
    "above-left": "right",
}
"""How each side's label is anchored (Vega's text `align`)."""

_SIDE_COST = {side: 0.5 * n for n, side in enumerate(SIDES)}
_OUTSIDE_COST = 1000.0
_LABEL_COST = 100.0
_CIRCLE_COST = 50.0
_EDGE_COST = 20.0


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


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one label goes: `side` of its circle, and the pixel offset (`dx`, `dy`, screen
    axes: y grows downward) of the label's anchor from the circle's centre (see `ALIGN`)."""

    side: str
    dx: float
    dy: float


Box = tuple[float, float, float, float]  # left, top, right, bottom (screen pixels)


def _label_box(
    side: str, x: float, y: float, radius: float, size: tuple[float, float]
) -> tuple[Box, Placement]:
    """The label's box and placement for `side` of the circle at (`x`, `y`)."""
    width, height = size
    near = radius + GAP
    vertical, _, horizontal = side.partition("-")
    if side in ("right", "left"):
        dx, dy = (near, 0.0) if side == "right" else (-near, 0.0)
    else:
        dy = near + height / 2 if vertical == "below" else -near - height / 2
        dx = {"": 0.0, "right": -radius, "left": radius}[horizontal]
    left = {"left": x + dx, "right": x + dx - width, "center": x + dx - width / 2}[ALIGN[side]]
    top = y + dy - height / 2
    return (left, top, left + width, top + height), Placement(side, dx, dy)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _crosses(box: Box, start: np.ndarray, end: np.ndarray) -> bool:
    """Whether the segment `start`–`end` passes through `box` (Liang–Barsky clipping)."""
    delta = end - start
    low, high = 0.0, 1.0
    for p, q in (
        (-delta[0], start[0] - box[0]),
        (delta[0], box[2] - start[0]),
        (-delta[1], start[1] - box[1]),
        (delta[1], box[3] - start[1]),
    ):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def place_labels(
    points: np.ndarray,
    radii: Sequence[float],
    sizes: Sequence[tuple[float, float]],
    edges: Sequence[tuple[int, int]],
    plot: tuple[float, float],
    *,
    order: Sequence[int] | None = None,
) -> list[Placement]:
    """A side for every label, chosen greedily in `order` (default: by index).

    Args:
        points: `(n, 2)` circle centres in screen pixels (y grows downward).
        radii: Circle radii in pixels.
        sizes: `(width, height)` of each label in pixels (an estimate is fine).
        edges: Links as pairs of indices, drawn as straight lines between centres.
        plot: `(width, height)` of the drawing area; labels outside it cost the most.
        order: Who chooses first (the labels that matter most).

    Returns:
        One `Placement` per point, in index order. Each side is scored by what its label
        box would cover — the plot's edge, labels already placed, any circle, any link —
        plus a small preference for reading order (right, left, below, above).
    """
    count = len(points)
    circles: list[Box] = [
        (x - r, y - r, x + r, y + r) for (x, y), r in zip(points, radii, strict=True)
    ]
    placed: dict[int, tuple[Box, Placement]] = {}
    for node in order if order is not None else range(count):
        x, y = float(points[node][0]), float(points[node][1])
        best: tuple[float, Box, Placement] | None = None
        for side in SIDES:
            box, placement = _label_box(side, x, y, radii[node], sizes[node])
            cost = _SIDE_COST[side]
            outside = max(0.0, -box[0]) + max(0.0, box[2] - plot[0])
            outside += max(0.0, -box[1]) + max(0.0, box[3] - plot[1])
            cost += _OUTSIDE_COST * outside
            cost += _LABEL_COST * sum(_overlap(box, other) for other, _ in placed.values())
            cost += _CIRCLE_COST * sum(
                _overlap(box, circle) for n, circle in enumerate(circles) if n != node
            )
            cost += _EDGE_COST * sum(_crosses(box, points[a], points[b]) for a, b in edges)
            if best is None or cost < best[0]:
                best = (cost, box, placement)
        assert best is not None
        placed[node] = (best[1], best[2])
    return [placed[n][1] for n in range(count)]
