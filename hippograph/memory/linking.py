"""Link a turn's new and updated memories to the memories the user already has.

Core pieces:
    - `Linkable`: a memory reconcile is writing (its key, text and entities) and the links
      the model asked for (`[(target key, relation)]`, from handles it was shown).
    - `plan_links`: the link operations for a turn — the model's explicit relations, and
      `entity:<name>` links to memories that mention the same named entity.

Entity links are conservative: an entity mentioned by more than `entity_link_limit`
memories is a hub (the user's own name, a partner in every conversation) and links
nothing — the links it made while it was rare are removed when it becomes one; the names
of the people speaking (`speakers`) link nothing either. Mentions are checked in a
memory's whole text, `"<speaker>: "` prefix included, so a speaker's name is a hub as soon
as they have said a few things. Links are only planned on stores that keep them
(`hippograph.store.links.links_of`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from langgraph.store.base import BaseStore, SearchItem, SearchOp

from hippograph.memory.entities import mentions
from hippograph.store.links import LinkOp, UnlinkOp, check_relation

logger = logging.getLogger(__name__)

ENTITY_RELATION = "entity:"
"""Prefix of the relation of a link between two memories naming the same entity."""


@dataclass(slots=True)
class Linkable:
    """A memory this turn writes, and what it should be linked to.

    Attributes:
        key: The memory's key.
        content: Its text.
        entities: Named entities it mentions (from the model, or `find_entities`).
        explicit: `(target key, relation)` the model asked for.
    """

    key: str
    content: str
    entities: list[str] = field(default_factory=list)
    explicit: list[tuple[str, str]] = field(default_factory=list)


def _mentioning(items: Iterable[object], entity: str, skip: set[str]) -> list[str]:
    """Keys of the search hits `items` (outside `skip`) whose text names `entity`."""
    return [
        item.key
        for item in items
        if isinstance(item, SearchItem)
        and item.key not in skip
        and mentions(str(item.value.get("content", "")), entity)
    ]


def plan_links(
    store: BaseStore,
    namespace: tuple[str, ...],
    memories: Sequence[Linkable],
    *,
    entity_link_limit: int,
    skip: Iterable[str] = (),
    speakers: Iterable[str] = (),
) -> list[LinkOp | UnlinkOp]:
    """The link changes to write with this turn's memories (see the module docstring).

    Args:
        store: The memory store (searched once, all entities in one batch).
        namespace: The user's namespace (links never leave it).
        memories: What this turn adds or updates.
        entity_link_limit: Most memories an entity may already be mentioned by and still
            link (0: no entity links).
        skip: Keys that must not be linked (e.g. deleted in this turn).
        speakers: Names of the people speaking (never linked on).
    """
    skipped = set(skip)
    ops: dict[tuple[str | None, str | None, str | None], LinkOp | UnlinkOp] = {}
    for memory in memories:
        for target, relation in memory.explicit:
            if target != memory.key and target not in skipped:
                op = LinkOp(namespace, memory.key, target, check_relation(relation))
                ops[(op.src, op.dst, op.relation)] = op
    found = _entity_links(
        store, namespace, memories, limit=entity_link_limit, skip=skipped, speakers=speakers
    )
    for change in found:
        ops.setdefault((change.src, change.dst, change.relation), change)
    return list(ops.values())


def _entity_links(
    store: BaseStore,
    namespace: tuple[str, ...],
    memories: Sequence[Linkable],
    *,
    limit: int,
    skip: set[str],
    speakers: Iterable[str],
) -> list[LinkOp | UnlinkOp]:
    """`entity:<name>` links from `memories` to the memories naming the same entities, and
    the removal of the links of entities that just became hubs."""
    if limit <= 0:
        return []
    unwanted = {name.casefold() for name in speakers}
    by_entity: dict[str, list[Linkable]] = {}
    for memory in memories:
        for entity in memory.entities:
            if entity.casefold() not in unwanted and mentions(memory.content, entity):
                by_entity.setdefault(entity, []).append(memory)
    if not by_entity:
        return []
    entities = list(by_entity)
    written = {m.key for m in memories}
    pool = 3 * (limit + 1)
    results = store.batch([SearchOp(namespace, query=e, limit=pool) for e in entities])
    ops: list[LinkOp | UnlinkOp] = []
    for entity, found in zip(entities, results, strict=True):
        assert isinstance(found, list)
        existing = _mentioning(found, entity, skip | written)
        relation = check_relation(f"{ENTITY_RELATION}{entity}")
        if len(existing) > limit:
            logger.debug("entity %r is mentioned by %d+ memories: a hub", entity, limit + 1)
            ops.append(UnlinkOp(namespace, None, None, relation))
            continue
        sharing = by_entity[entity]
        for n, memory in enumerate(sharing):
            targets = existing + [m.key for m in sharing[:n]]
            ops += [LinkOp(namespace, memory.key, target, relation) for target in targets]
    return ops
