"""`ExtendedStore`: the one contract for what hippograph's stores add to LangGraph's `BaseStore`.

Core pieces:
    - `ExtendedStore`: an abstract `BaseStore` with the audit trail (`history`), live counts
      (`count`), right to erasure (`purge`), links between items (`link` / `unlink` /
      `links`, and `LinkOp` / `UnlinkOp` / `ListLinksOp` in `batch`), a consistency check
      (`verify`), the search settings (`hybrid`, `expand_links`) and `search(...,
      explain=True)`.

Both back ends implement all of it — `FaissSqliteStore` (SQLite + FAISS) and
`PostgresMemoryStore` (PostgreSQL + pgvector) — so a caller asks `isinstance(store,
ExtendedStore)` once instead of probing for methods, and a type checker knows the rest.
`hippograph.backends.supports(store, feature)` is that check, plus the store's own search
settings for hybrid search (which a store may be opened without).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from langgraph.store.base import BaseStore, SearchItem

from hippograph.store.erasure import ErasureReport
from hippograph.store.expect import ExpectOp, validate_expect_op
from hippograph.store.history import HistoryEntry
from hippograph.store.lifecycle import Closeable
from hippograph.store.links import (
    LINK_OPS,
    LinkExpansion,
    LinkMethods,
    LinkWrite,
    ListLinksOp,
    validate_link_op,
)
from hippograph.store.ranking.explain import search_explain
from hippograph.store.verify import VerifyReport

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from hippograph.store.ranking import HybridSearch


class ExtraOpsPlan(Protocol):
    """Where a back end's batch plan keeps the extra operations of a batch."""

    link_lists: list[tuple[int, ListLinksOp]]
    link_writes: list[tuple[int, LinkWrite]]
    expects: list[ExpectOp]


def plan_extra_op(plan: ExtraOpsPlan, index: int, op: object) -> bool:
    """Validate a batch's link or expectation operation `op` (at `index`) into `plan`, the
    same way on every back end; `False` for any other operation (LangGraph's own, which the
    back end plans itself).

    Raises:
        InvalidValueError / InvalidNamespaceError: `op` is malformed (nothing runs).
    """
    if isinstance(op, LINK_OPS):
        checked = validate_link_op(op)
        if isinstance(checked, ListLinksOp):
            plan.link_lists.append((index, checked))
        else:
            plan.link_writes.append((index, checked))
        return True
    if isinstance(op, ExpectOp):
        plan.expects.append(validate_expect_op(op))
        return True
    return False


class ExtendedStore(Closeable, LinkMethods, BaseStore):
    """A LangGraph `BaseStore` with hippograph's extras (see the module docstring).

    Attributes:
        backend: Short human name of the storage back end (`"SQLite"`, `"PostgreSQL"`).
        embeddings: The embedder of the store's vector index (`None`: no index).
        hybrid: How natural-language search fuses keywords with vectors (`None`: vectors only).
        expand_links: Whether search follows links from its best results (`None`: no).
        takes_query_vectors: Searches rank by a query vector given with
            `hippograph.store.query_vectors.query_vectors` instead of embedding the text.
    """

    backend: ClassVar[str]
    takes_query_vectors: ClassVar[bool] = True
    embeddings: Embeddings | None
    hybrid: HybridSearch | None
    expand_links: LinkExpansion | None

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        explain: bool = False,
    ) -> list[SearchItem]:
        """LangGraph's `search`, plus opt-in `explain` (both back ends): results become
        `ExplainedSearchItem`s whose `explain` holds the parts of their scores (cosine,
        BM25, date, thread, links; see `hippograph.store.ranking.explain`)."""
        with search_explain() if explain else nullcontext():
            return super().search(
                namespace_prefix,
                query=query,
                filter=filter,
                limit=limit,
                offset=offset,
                refresh_ttl=refresh_ttl,
            )

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        explain: bool = False,
    ) -> list[SearchItem]:
        """Async twin of `search` (same `explain`)."""
        with search_explain() if explain else nullcontext():
            return await super().asearch(
                namespace_prefix,
                query=query,
                filter=filter,
                limit=limit,
                offset=offset,
                refresh_ttl=refresh_ttl,
            )

    @abstractmethod
    def history(
        self,
        namespace_prefix: tuple[str, ...] = (),
        key: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[HistoryEntry]:
        """The audit trail under `namespace_prefix` (optionally one `key`), newest first."""

    @abstractmethod
    def count(self, namespace_prefix: tuple[str, ...] = ()) -> int:
        """Number of live (unexpired) items under `namespace_prefix`."""

    @abstractmethod
    def purge(self, namespace_prefix: tuple[str, ...], *, compact: bool = True) -> ErasureReport:
        """Erase everything under `namespace_prefix` — items, vectors, links, derived rows and
        history — leaving one content-free `ERASE` audit row (right to erasure).

        Raises:
            InvalidNamespaceError: an empty prefix (that would erase everything).
        """

    async def apurge(
        self, namespace_prefix: tuple[str, ...], *, compact: bool = True
    ) -> ErasureReport:
        """Async twin of `purge` (runs in a worker thread)."""
        return await asyncio.to_thread(self.purge, namespace_prefix, compact=compact)

    @abstractmethod
    def verify(self) -> VerifyReport:
        """Check that everything derived from the items (vectors, indexes, links) agrees
        with them; `report.ok` when consistent. Read-only, safe beside live traffic."""
