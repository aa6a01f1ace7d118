"""The links between one user's memories, as the CLI and the UI show and change them.

Core pieces:
    - `MemoryLinks`: `links(key)`, `link(src, dst, relation)`, `unlink(a, b)`, `graph()` —
      mixed into `MemoryManager`, so every call stays inside the user's namespace.
    - `MemoryLink`: one link seen from one memory (the other end, its text, which way).
    - `MemoryGraph`: a user's memories and the links between them (the UI's graph view).
    - `LinksUnavailableError`: the store keeps no links (e.g. LangGraph's `InMemoryStore`).
    - `export_links` / `parse_links`: a memory's outgoing links in its JSONL line.

Links are a feature of hippograph's stores, SQLite and PostgreSQL alike
(`hippograph.backends.supports(store, "links")`); their links table is the truth, not the
memories' values.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.store.base import BaseStore, GetOp, Item

from hippograph.backends import FeatureUnavailableError, require
from hippograph.store import Memory
from hippograph.store.links import (
    DEFAULT_RELATION,
    Link,
    LinkMethods,
    check_relation,
    check_weight,
    links_of,
)

GRAPH_LIMIT = 500
"""Most memories the graph view draws (the most linked first, then the newest)."""

_LINK_LIMIT = 100_000


class LinksUnavailableError(FeatureUnavailableError):
    """The store keeps no links between memories (hippograph's SQLite and PostgreSQL stores
    do; e.g. LangGraph's `InMemoryStore` does not)."""


@dataclass(frozen=True, slots=True)
class MemoryLink:
    """A link of one memory, seen from it.

    Attributes:
        key: The memory at the other end.
        content: Its text (`""` if it no longer exists).
        relation: What connects them (`"entity:Sweden"`, `"located_in"`, `"related"`).
        weight: 0..1.
        outgoing: `True` for this memory → other, `False` for other → this memory.
        created_at: When the link was made.
    """

    key: str
    content: str
    relation: str
    weight: float
    outgoing: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemoryGraph:
    """A user's memories (nodes) and the links between them (edges)."""

    memories: list[Memory]
    links: list[Link]
    truncated: bool = False
    """More memories exist than were drawn."""


class MemoryLinks:
    """Link methods of `MemoryManager` (see the module docstring)."""

    store: BaseStore
    namespace: tuple[str, ...]

    def _provenance(self) -> AbstractContextManager[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _items(self, filter: dict[str, Any] | None = None) -> Iterator[Item]:  # pragma: no cover
        raise NotImplementedError

    def _memory(self, item: Item) -> Memory | None:  # pragma: no cover
        raise NotImplementedError

    def _linked_store(self) -> LinkMethods:
        try:
            require(self.store, "links")
        except FeatureUnavailableError as exc:
            raise LinksUnavailableError(str(exc)) from None
        linked = links_of(self.store)
        assert linked is not None
        return linked

    def _existing(self, keys: Iterable[str]) -> dict[str, Item]:
        wanted = list(dict.fromkeys(keys))
        found = self.store.batch([GetOp(self.namespace, key) for key in wanted])
        pairs = zip(wanted, found, strict=True)
        return {key: item for key, item in pairs if isinstance(item, Item)}

    def _require(self, *keys: str) -> dict[str, Item]:
        from hippograph.memories import MemoryNotFoundError

        found = self._existing(keys)
        for key in keys:
            if key not in found:
                raise MemoryNotFoundError(key)
        return found

    def contents_of(self, keys: Iterable[str]) -> dict[str, str]:
        """The text of each of `keys` that is a memory of this user, by key."""
        found = self._existing(keys)
        return {key: str(item.value.get("content", "")) for key, item in found.items()}

    def links(self, key: str) -> builtins.list[MemoryLink]:
        """The links of memory `key`, both ways, oldest first.

        Raises:
            MemoryNotFoundError: no such memory for this user.
            LinksUnavailableError: the store keeps no links.
        """
        linked = self._linked_store()
        self._require(key)
        found = linked.links(self.namespace, key, limit=_LINK_LIMIT)
        others = self.contents_of(link.other(key) for link in found)
        return [
            MemoryLink(
                key=link.other(key),
                content=others.get(link.other(key), ""),
                relation=link.relation,
                weight=link.weight,
                outgoing=link.src == key,
                created_at=link.created_at,
            )
            for link in found
        ]

    def link(
        self, src: str, dst: str, relation: str = DEFAULT_RELATION, *, weight: float = 1.0
    ) -> Link:
        """Link memory `src` to memory `dst` (linking again sets the weight).

        Raises:
            MemoryNotFoundError: either memory does not exist for this user.
            ValueError: a bad relation or weight, or `src == dst`; nothing is written.
            LinksUnavailableError: the store keeps no links.
        """
        linked = self._linked_store()
        relation, weight = check_relation(relation), check_weight(weight)
        if src == dst:
            raise ValueError("a memory cannot be linked to itself")
        self._require(src, dst)
        with self._provenance():
            return linked.link(self.namespace, src, dst, relation, weight=weight)

    def unlink(self, a: str, b: str, relation: str | None = None) -> builtins.list[Link]:
        """Remove the links between memories `a` and `b`, either way (only `relation`, if
        given); returns the removed links.

        Raises:
            LinksUnavailableError: the store keeps no links.
        """
        linked = self._linked_store()
        with self._provenance():
            return [
                *linked.unlink(self.namespace, a, b, relation),
                *linked.unlink(self.namespace, b, a, relation),
            ]

    def graph(self, limit: int = GRAPH_LIMIT) -> MemoryGraph:
        """The user's memories and links, for drawing: at most `limit` memories, those
        with links first (then the newest), and the links between the ones drawn.

        Raises:
            LinksUnavailableError: the store keeps no links.
        """
        linked = self._linked_store()
        links = linked.links(self.namespace, limit=_LINK_LIMIT)
        links = [x for x in links if x.namespace == self.namespace]
        degree: dict[str, int] = {}
        for link in links:
            for key in (link.src, link.dst):
                degree[key] = degree.get(key, 0) + 1
        memories = [m for m in map(self._memory, self._items()) if m is not None]
        memories.sort(key=lambda m: (-degree.get(m.id, 0), -m.timestamp.timestamp()))
        shown = memories[:limit]
        keys = {m.id for m in shown}
        edges = [x for x in links if x.src in keys and x.dst in keys]
        return MemoryGraph(shown, edges, truncated=len(memories) > limit)


def export_links(store: BaseStore, namespace: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Outgoing links of every memory in `namespace`, as JSONL export writes them:
    `{key: [{"key": dst, "relation": ..., "weight": ...}]}` (empty without links)."""
    linked = links_of(store)
    if linked is None:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for link in linked.links(namespace, limit=_LINK_LIMIT):
        if link.namespace == namespace:
            found.setdefault(link.src, []).append(
                {"key": link.dst, "relation": link.relation, "weight": link.weight}
            )
    return found


def parse_links(raw: object) -> list[tuple[str, str, float]]:
    """The `links` of a JSONL line as `(dst key, relation, weight)`; `ValueError` says
    what is wrong."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("links must be a list of {key, relation} objects")
    parsed = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str):
            raise ValueError("each link needs a 'key' (the other memory)")
        relation = check_relation(entry.get("relation", DEFAULT_RELATION))
        parsed.append((str(entry["key"]), relation, check_weight(entry.get("weight", 1.0))))
    return parsed
