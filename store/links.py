"""Links between items of one namespace: a memory graph kept beside the items, in SQLite.

Core pieces:
    - `Link`: one stored edge — `src` → `dst` inside one namespace, a relation, a weight.
    - `LinkOp` / `UnlinkOp` / `ListLinksOp`: operations `FaissSqliteStore.batch` accepts
      beside LangGraph's, so an item and its links commit in one transaction.
    - `LinkMethods`: `link` / `unlink` / `links` (and `a*` twins), one-liners on `batch`.
    - `LinkExpansion`: how a search follows links from its best results (hops, decay);
      `link_expansion(...)` overrides the store's setting for the searches made inside it.
    - `LinkedSearchItem`: a `SearchItem` that came back through a link; `via` says which.

The `links` table is the truth (schema migration 3): a link's two ends share one namespace
column and are foreign keys into `items`, so a link never joins two users' items and never
outlives an end. An item's value is never rewritten to mirror its links (a value is what
its writer put; a `links` field in it is the writer's own data). Every link change is a
history row (`LINK` / `UNLINK`, keyed by `src`) in the same transaction as the change.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, cast

from langgraph.store.base import SearchItem

from hippograph.store.codec import validate_key
from hippograph.store.errors import InvalidNamespaceError, InvalidValueError

DEFAULT_RELATION = "related"
"""Relation of a link made without naming one."""

MAX_RELATION_CHARS = 200
"""Longest relation text (a label such as `located_in`, not a sentence)."""


@dataclass(frozen=True, slots=True)
class Link:
    """One edge of the memory graph.

    Attributes:
        namespace: The namespace holding both ends (e.g. `("memories", "alice")`).
        src: Key of the item the link starts from.
        dst: Key of the item it points to.
        relation: What connects them (`"located_in"`, `"entity:Sweden"`, `"related"`).
        weight: 0..1; a search following the link multiplies scores by it.
        created_at: When the link was made (or its weight last changed).
    """

    namespace: tuple[str, ...]
    src: str
    dst: str
    relation: str
    weight: float
    created_at: datetime

    def other(self, key: str) -> str:
        """The end of this link that is not `key`."""
        return self.dst if key == self.src else self.src

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (`{"src", "dst", "relation", "weight", "created_at"}`)."""
        return {
            "src": self.src,
            "dst": self.dst,
            "relation": self.relation,
            "weight": self.weight,
            "created_at": self.created_at.isoformat(),
        }


class LinkOp(NamedTuple):
    """Link `src` → `dst` in `namespace` (result: the stored `Link`, or `None` when an end
    does not exist, in which case nothing is written).

    Link operations apply after the batch's puts, so a batch may add an item and link it.
    Linking again with the same relation keeps one link and sets its weight.
    """

    namespace: tuple[str, ...]
    src: str
    dst: str
    relation: str = DEFAULT_RELATION
    weight: float = 1.0


class UnlinkOp(NamedTuple):
    """Remove the links of `namespace` matching every part given: from `src`, to `dst`,
    with `relation` (`None` matches any; all three `None` removes every link of the
    namespace). Result: the removed `Link`s."""

    namespace: tuple[str, ...]
    src: str | None
    dst: str | None
    relation: str | None = None


class ListLinksOp(NamedTuple):
    """Links under `namespace_prefix`, oldest first (result: a list of `Link`).

    With `key`, only the links of that item (either direction) in exactly
    `namespace_prefix`.
    """

    namespace_prefix: tuple[str, ...]
    key: str | None = None
    limit: int = 1000
    offset: int = 0


LinkWrite = LinkOp | UnlinkOp
LINK_OPS = (LinkOp, UnlinkOp, ListLinksOp)
"""The operation types `FaissSqliteStore.batch` accepts for links."""


def _check_namespace(namespace: object, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(namespace, tuple) or (not namespace and not allow_empty):
        raise InvalidNamespaceError(f"Namespace must be a non-empty tuple, got {namespace!r}")
    for label in namespace:
        if not isinstance(label, str) or not label or "." in label:
            raise InvalidNamespaceError(
                f"Namespace labels must be non-empty strings without periods, got {label!r}"
            )
    return namespace


def check_relation(relation: object) -> str:
    """`relation` stripped, if it is a usable label; else `InvalidValueError`."""
    if not isinstance(relation, str) or not relation.strip():
        raise InvalidValueError(f"a link relation must be a non-empty string, got {relation!r}")
    text = relation.strip()
    if len(text) > MAX_RELATION_CHARS or "\x00" in text:
        raise InvalidValueError(
            f"a link relation must be at most {MAX_RELATION_CHARS} characters without NUL bytes"
        )
    return text


def check_weight(weight: object) -> float:
    """`weight` as a float in [0, 1]; else `InvalidValueError`."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise InvalidValueError(f"a link weight must be a number in [0, 1], got {weight!r}")
    value = float(weight)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidValueError(f"a link weight must be within [0, 1], got {weight!r}")
    return value


def validate_link_op(op: LinkOp | UnlinkOp | ListLinksOp) -> LinkOp | UnlinkOp | ListLinksOp:
    """`op` with checked namespace, keys, relation and weight (raises before any write)."""
    if isinstance(op, ListLinksOp):
        _check_namespace(op.namespace_prefix, allow_empty=op.key is None)
        if op.limit < 0 or op.offset < 0:
            raise InvalidValueError("link listing limit and offset must be >= 0")
        return op if op.key is None else op._replace(key=validate_key(op.key))
    _check_namespace(op.namespace)
    if isinstance(op, UnlinkOp):
        return op._replace(
            src=None if op.src is None else validate_key(op.src),
            dst=None if op.dst is None else validate_key(op.dst),
            relation=None if op.relation is None else check_relation(op.relation),
        )
    src, dst = validate_key(op.src), validate_key(op.dst)
    if src == dst:
        raise InvalidValueError(f"an item cannot be linked to itself ({src!r})")
    return op._replace(
        src=src, dst=dst, relation=check_relation(op.relation), weight=check_weight(op.weight)
    )


# ---------------------------------------------------------------------- expansion


@dataclass(frozen=True, slots=True)
class LinkExpansion:
    """How a natural-language search follows links from its best results.

    The `seeds` best results of the ranking (before paging) bring their linked items
    (either direction, at most `per_seed` each, strongest links first), scored
    `seed score * decay * link weight`; from those, the next hop the same way, up to
    `hops`. An item keeps its better score (ranked or reached), and one that came back
    through a link is a `LinkedSearchItem` saying from where. Reached items obey the
    search's namespace, filter and TTL like any result, and only items with vectors are
    reached (items put with `index=False` stay in the unscored tail). Seeds do not depend
    on `limit` / `offset`, so pages of one query never overlap or skip.

    Attributes:
        hops: How many links away from a seed a result may be.
        decay: Score factor per hop (0..1).
        seeds: How many of the best results are expanded.
        per_seed: Most links followed from one result.
    """

    hops: int = 1
    decay: float = 0.5
    seeds: int = 5
    per_seed: int = 5

    def __post_init__(self) -> None:
        for name in ("hops", "seeds", "per_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay must be within (0, 1], got {self.decay!r}")


class Via(TypedDict):
    """Why a search result came back through a link."""

    key: str
    """The result it was reached from (a seed, or an item one hop closer to one)."""
    relation: str
    weight: float
    hops: int
    """Links between the seed and this result."""


class LinkedSearchItem(SearchItem):
    """A search result reached by following a link (`via`); otherwise a plain `SearchItem`
    (its `score` is the decayed score it was ranked with)."""

    __slots__ = ("via",)

    def __init__(self, item: SearchItem, via: Via) -> None:
        super().__init__(
            item.namespace, item.key, item.value, item.created_at, item.updated_at, item.score
        )
        self.via = via

    def dict(self) -> dict[str, Any]:
        """`SearchItem.dict()` plus `via`."""
        result = super().dict()
        result["via"] = dict(self.via)
        return result


_UNSET: tuple[()] = ()
_EXPANSION: ContextVar[tuple[LinkExpansion | None] | tuple[()]] = ContextVar(
    "hippograph_link_expansion", default=_UNSET
)


@contextmanager
def link_expansion(settings: LinkExpansion | None) -> Iterator[None]:
    """Searches made inside follow links per `settings` (`None`: not at all), whatever the
    store was opened with. Works across `asyncio.to_thread` and LangGraph nodes.

    Example:
        ```python
        with link_expansion(LinkExpansion(decay=0.5)):
            hits = store.search(("memories", "alice"), query="Where was I born?")
        ```
    """
    token = _EXPANSION.set((settings,))
    try:
        yield
    finally:
        _EXPANSION.reset(token)


def current_expansion(default: LinkExpansion | None) -> LinkExpansion | None:
    """The innermost `link_expansion(...)` setting, else `default` (the store's)."""
    override = _EXPANSION.get()
    return override[0] if override else default


# ---------------------------------------------------------------------- conveniences


class LinkMethods:
    """`link` / `unlink` / `links` and their async twins, one-liners on `batch` / `abatch`
    (mixed into `FaissSqliteStore`)."""

    supports_links = True
    """Marks a store whose `batch` accepts `LinkOp`, `UnlinkOp` and `ListLinksOp`."""

    if TYPE_CHECKING:  # provided by the store; no runtime stub may shadow a base's batch

        def batch(self, ops: Any) -> list[Any]: ...

        async def abatch(self, ops: Any) -> list[Any]: ...

    def link(
        self,
        namespace: tuple[str, ...],
        src: str,
        dst: str,
        relation: str = DEFAULT_RELATION,
        *,
        weight: float = 1.0,
    ) -> Link:
        """Link item `src` to item `dst` of `namespace`; returns the stored link.

        Raises:
            LinkEndpointError: either item does not exist (nothing is written).
        """
        op = LinkOp(namespace, src, dst, relation, weight)
        return _stored(op, self.batch([op])[0])

    async def alink(
        self,
        namespace: tuple[str, ...],
        src: str,
        dst: str,
        relation: str = DEFAULT_RELATION,
        *,
        weight: float = 1.0,
    ) -> Link:
        """Async twin of `link`."""
        op = LinkOp(namespace, src, dst, relation, weight)
        return _stored(op, (await self.abatch([op]))[0])

    def unlink(
        self,
        namespace: tuple[str, ...],
        src: str | None,
        dst: str | None,
        relation: str | None = None,
    ) -> list[Link]:
        """Remove the links `src` → `dst` (with `relation`, or all; see `UnlinkOp` for
        `None`s); returns what was removed."""
        return cast(list[Link], self.batch([UnlinkOp(namespace, src, dst, relation)])[0])

    async def aunlink(
        self,
        namespace: tuple[str, ...],
        src: str | None,
        dst: str | None,
        relation: str | None = None,
    ) -> list[Link]:
        """Async twin of `unlink`."""
        return cast(list[Link], (await self.abatch([UnlinkOp(namespace, src, dst, relation)]))[0])

    def links(
        self,
        namespace_prefix: tuple[str, ...],
        key: str | None = None,
        *,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Link]:
        """Links under `namespace_prefix` (or of item `key` there, either direction)."""
        op = ListLinksOp(namespace_prefix, key, limit, offset)
        return cast(list[Link], self.batch([op])[0])

    async def alinks(
        self,
        namespace_prefix: tuple[str, ...],
        key: str | None = None,
        *,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Link]:
        """Async twin of `links`."""
        op = ListLinksOp(namespace_prefix, key, limit, offset)
        return cast(list[Link], (await self.abatch([op]))[0])


class LinkEndpointError(InvalidValueError, KeyError):
    """A link names an item that does not exist in its namespace."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing link endpoint"


def _stored(op: LinkOp, result: object) -> Link:
    if not isinstance(result, Link):
        raise LinkEndpointError(
            f"cannot link {op.src!r} to {op.dst!r}: both must be items of {op.namespace!r}"
        )
    return result


def links_of(store: object) -> LinkMethods | None:
    """`store` if it keeps links (see `LinkMethods.supports_links`), else `None`."""
    return store if isinstance(store, LinkMethods) else None


def group_by_namespace(links: Sequence[Link]) -> dict[tuple[str, ...], list[Link]]:
    """`links` grouped by namespace, in order."""
    grouped: dict[tuple[str, ...], list[Link]] = {}
    for link in links:
        grouped.setdefault(link.namespace, []).append(link)
    return grouped
