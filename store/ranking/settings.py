"""`HybridSearch`: the settings of hybrid search, plain data shared by every backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class HybridSearch:
    """Hybrid search settings: vector similarity fused with the tenant's own BM25.

    A natural-language `search` scores the best `candidates` by cosine plus the best
    `candidates` by BM25 (after filters), each on both signals, so a keyword-only match is
    found and exact terms (names, places, titles) count even when the embedder blurs them.
    The score (`ranking.fusion`) is on an absolute scale: `alpha * cosine + (1 - alpha) *
    keyword`, `keyword` being the item's BM25 as a share of what the query could score at
    most; the date match and the thread lift then re-weigh that score when they apply.

    Attributes:
        fields: Value fields (JSON paths) BM25 reads; `None` uses the store's index
            `fields`. They may differ: e.g. embed only `content` but let BM25 also read
            `context`.
        alpha: Weight of cosine similarity; `1 - alpha` goes to the keyword signal.
        field_weights: BM25 weight of each field (JSON path as in `fields`), default 1.0 —
            e.g. `{"context": 0.5}` lets a memory's context help without outranking its own
            text.
        candidates: Candidates drawn from each ranking (raised to twice `offset + limit`).
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation (0 none, 1 full).
        time_field: Dotted value path of an ISO-8601 time (e.g. `"timestamp"`). When set
            and the query names a date, an item's text score is kept in full when its time
            falls in the named span and cut by up to `time_weight` as it falls outside.
        time_weight: How much a date far from the named one cuts the score (0 to 1).
        time_scale_days: Days past the named span at which the date match halves.
        group_field: Dotted value path naming the conversation an item came from (e.g.
            `"source.thread_id"`). When set and several threads compete, a candidate whose
            thread's `group_top` best candidates match better than the average thread's has
            its score multiplied by `1 + group_weight` times the difference. With one thread
            nothing is lifted.
        group_weight: Weight of the thread lift.
        group_top: How many of a thread's best candidates make its strength.
    """

    fields: tuple[str, ...] | None = None
    alpha: float = 0.5
    field_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    candidates: int = 50
    k1: float = 1.2
    b: float = 0.75
    time_field: str | None = None
    time_weight: float = 0.3
    time_scale_days: float = 3.0
    group_field: str | None = None
    group_weight: float = 0.5
    group_top: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates}")
        if self.k1 < 0 or not 0.0 <= self.b <= 1.0:
            raise ValueError(f"k1 must be >= 0 and b within [0, 1], got {self.k1}, {self.b}")
        if not 0.0 <= self.time_weight <= 1.0 or self.time_scale_days <= 0:
            raise ValueError("time_weight must be within [0, 1] and time_scale_days > 0")
        if self.group_weight < 0 or self.group_top < 1:
            raise ValueError("group_weight must be >= 0 and group_top >= 1")
        for path in (self.time_field, self.group_field):
            if path is not None and (not path or any(ch in path for ch in '"\\')):
                raise ValueError(f"value paths must be non-empty, without quotes: {path!r}")
        for path, weight in self.field_weights.items():
            if weight < 0:
                raise ValueError(f"field weight of {path!r} must be >= 0, got {weight}")
        object.__setattr__(self, "field_weights", MappingProxyType(dict(self.field_weights)))
        if self.fields is not None:
            if not self.fields or not all(isinstance(f, str) and f for f in self.fields):
                raise ValueError(f"fields must be non-empty JSON paths, got {self.fields!r}")
            object.__setattr__(self, "fields", tuple(self.fields))

    def weight_of(self, path: str) -> float:
        """BM25 weight of the indexed field `path`."""
        return float(self.field_weights.get(path, 1.0))
