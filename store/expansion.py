"""Following links from a search's best results: one algorithm for every storage back end.

Core pieces:
    - `LinkGraph`: what a back end provides — the links touching some items, and the rows of
      the items a search may return (its namespace, filter and TTL conditions, with vectors).
    - `expand_ranked(ranked, settings, graph)`: a ranking with the linked items merged in,
      and how each reached item came back (`Via`). See `LinkExpansion` for the rules.

Items are named by `ItemRef` (`(namespace text, key)`), so the algorithm never sees SQL;
`FaissSqliteStore` and `PostgresMemoryStore` each implement `LinkGraph` over their tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from typing import Protocol, TypeVar

from hippograph.store.codec import ns_to_text
from hippograph.store.links import Link, LinkExpansion, Via

Row = TypeVar("Row")
ItemRef = tuple[str, str]
"""An item's `(namespace text, key)`."""


class LinkGraph(Protocol[Row]):
    """A back end's view of the links around one search (see the module docstring)."""

    def ref(self, row: Row) -> ItemRef:
        """The item a result row holds."""
        ...

    def order(self, row: Row) -> Hashable:
        """Tie-break between rows of equal score (smaller first)."""
        ...

    def links_touching(self, keys: Mapping[str, Sequence[str]]) -> list[Link]:
        """Every link from or to one of `keys` (by namespace text)."""
        ...

    def reachable(self, wanted: set[ItemRef]) -> dict[ItemRef, tuple[Row, float | None]]:
        """Rows of the `wanted` items the search may return, each with its own score for
        the search's query when the back end knows it (`None`: only its reached score)."""
        ...


def expand_ranked(
    ranked: Sequence[tuple[Row, float]], settings: LinkExpansion, graph: LinkGraph[Row]
) -> tuple[list[tuple[Row, float]], dict[ItemRef, Via]]:
    """`ranked` (best first) with the items its `settings.seeds` best results link to merged
    in, hop by hop; returns the new ranking and, per reached item, how it came back.

    A reached item scores `seed score * decay * link weight` per hop, and keeps the better
    of that and any score it already has (from `ranked`, or its own score from `graph`).
    """
    rows = {graph.ref(row): row for row, _ in ranked}
    scores = {graph.ref(row): score for row, score in ranked}
    via: dict[ItemRef, Via] = {}
    frontier = list(ranked[: settings.seeds])
    for hop in range(1, settings.hops + 1):
        reached = _neighbours(frontier, settings, graph)
        frontier = []
        for row, own, score, link, from_key in reached:
            ref = graph.ref(row)
            known = scores.get(ref, own if own is not None else float("-inf"))
            if score <= known:
                continue
            rows[ref], scores[ref] = row, score
            via[ref] = Via(key=from_key, relation=link.relation, weight=link.weight, hops=hop)
            frontier.append((row, score))
        if not frontier:
            break
    merged = sorted(rows, key=lambda ref: (-scores[ref], ref in via, graph.order(rows[ref])))
    return [(rows[ref], scores[ref]) for ref in merged], via


def _neighbours(
    frontier: Sequence[tuple[Row, float]], settings: LinkExpansion, graph: LinkGraph[Row]
) -> list[tuple[Row, float | None, float, Link, str]]:
    """`(row, own score, reached score, link, from key)` for the items linked to
    `frontier`, best first."""
    keys: dict[str, list[str]] = defaultdict(list)
    for row, _ in frontier:
        prefix, key = graph.ref(row)
        keys[prefix].append(key)
    edges: dict[ItemRef, list[Link]] = defaultdict(list)
    for link in graph.links_touching(keys):
        prefix = ns_to_text(link.namespace)
        for end in (link.src, link.dst):
            if end in keys.get(prefix, ()):
                edges[(prefix, end)].append(link)
    wanted: list[tuple[ItemRef, float, Link, str]] = []
    for row, score in frontier:
        prefix, key = graph.ref(row)
        followed = sorted(
            edges.get((prefix, key), []), key=lambda x: (-x.weight, x.other(key), x.relation)
        )[: settings.per_seed]
        for link in followed:
            reached = score * settings.decay * link.weight
            wanted.append(((prefix, link.other(key)), reached, link, key))
    found = graph.reachable({ref for ref, *_ in wanted})
    hits = [
        (found[ref][0], found[ref][1], score, link, from_key)
        for ref, score, link, from_key in wanted
        if ref in found
    ]
    return sorted(hits, key=lambda hit: (-hit[2], graph.order(hit[0])))
