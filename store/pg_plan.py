"""Planning one `PostgresMemoryStore` batch: validate and group its operations, then embed.

Core pieces:
    - `BatchPlan`: what a batch reads, writes, expects and embeds, and the settings it was
      planned under (provenance, history, link expansion) — taken in the caller's context.
    - `plan_batch(ops, ...)`: validates every operation before anything touches the database.
    - `embed` / `aembed`: the texts to index and the queries, embedded outside any transaction
      (awaited in `abatch`); a failure or a wrong dimension writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    GetOp,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    validate_op_namespace,
)

from hippograph.store import pg_writes
from hippograph.store.codec import text_to_ns
from hippograph.store.embedding_scope import embedding_scope, scope_for
from hippograph.store.embeddings import cached_embeddings, embed_queries
from hippograph.store.errors import (
    EmbeddingDimensionError,
    EmbeddingError,
    InvalidNamespaceError,
    InvalidValueError,
)
from hippograph.store.expect import ExpectOp
from hippograph.store.extras import plan_extra_op
from hippograph.store.history import current_source
from hippograph.store.links import (
    LinkExpansion,
    LinkWrite,
    ListLinksOp,
    current_expansion,
)
from hippograph.store.query_vectors import given_query_vector
from hippograph.store.ranking.explain import explaining


@dataclass(slots=True)
class BatchPlan:
    """A batch after validation: what to read, what to write, what to embed."""

    results: list[Result]
    gets: list[tuple[int, GetOp]] = field(default_factory=list)
    searches: list[tuple[int, SearchOp]] = field(default_factory=list)
    lists: list[tuple[int, ListNamespacesOp]] = field(default_factory=list)
    link_lists: list[tuple[int, ListLinksOp]] = field(default_factory=list)
    puts: pg_writes.PutPlan | None = None
    link_writes: list[tuple[int, LinkWrite]] = field(default_factory=list)
    expects: list[ExpectOp] = field(default_factory=list)
    queries: dict[str, Sequence[float] | None] = field(default_factory=dict)
    """Query vectors by query text (`None` until embedded)."""
    source: dict[str, Any] | None = None
    record_history: bool = True
    expansion: LinkExpansion | None = None
    explain: bool = False
    """Searches return `ExplainedSearchItem`s (`search(..., explain=True)`)."""

    @property
    def writes(self) -> bool:
        """Whether the batch needs a write transaction."""
        return bool(self.puts and self.puts.size) or bool(self.link_writes or self.expects)


def plan_batch(
    ops: Iterable[Op],
    index_config: Any,
    expand_links: LinkExpansion | None,
    record_history: bool,
) -> BatchPlan:
    """Validate and group `ops` for a store with `index_config` (`None`: no vector index).

    Raises:
        InvalidValueError / InvalidNamespaceError: an operation is malformed (nothing runs).
    """
    ops = list(ops)
    plan = BatchPlan(results=[None] * len(ops))
    plan.source = current_source()
    plan.record_history = record_history
    plan.expansion = current_expansion(expand_links)
    plan.explain = explaining()
    puts: list[PutOp] = []
    for i, op in enumerate(ops):
        if plan_extra_op(plan, i, op):
            continue
        if not isinstance(op, (GetOp, SearchOp, ListNamespacesOp, PutOp)):
            raise InvalidValueError(f"Unknown operation type: {type(op).__name__}")
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            plan.gets.append((i, op))
        elif isinstance(op, SearchOp):
            if op.limit < 0 or op.offset < 0:
                raise InvalidValueError("search limit and offset must be >= 0")
            plan.searches.append((i, op))
            if op.query and index_config:
                given = given_query_vector(op.query, int(index_config["dims"]))
                plan.queries[op.query] = None if given is None else given.tolist()
        elif isinstance(op, ListNamespacesOp):
            plan.lists.append((i, op))
        else:
            if not op.namespace:
                raise InvalidNamespaceError("Namespace cannot be empty.")
            puts.append(op)
    if puts:
        fields = index_config["__tokenized_fields"] if index_config else None
        plan.puts = pg_writes.plan_puts(puts, fields)
    return plan


def _texts(plan: BatchPlan) -> list[str]:
    return [text for *_, text in plan.puts.texts] if plan.puts else []


def _missing_queries(plan: BatchPlan) -> list[str]:
    """The query texts still to embed (a vector given with `query_vectors` is not)."""
    return [query for query, vector in plan.queries.items() if vector is None]


def embed(
    plan: BatchPlan, embeddings: Embeddings | None, index_config: Any, group_depth: int
) -> None:
    """Embed the plan's texts and queries (nothing to do without an index).

    Raises:
        EmbeddingError: the embedder failed or returned the wrong number or size of vectors.
    """
    texts, missing = _texts(plan), _missing_queries(plan)
    if embeddings is None or not (texts or missing):
        return
    embedder, scope = cached_embeddings(embeddings), scope_for(_tenants(plan, group_depth))
    try:
        with embedding_scope(scope):
            documents = embedder.embed_documents(texts) if texts else []
            queries = embed_queries(embedder, missing) if missing else []
    except Exception as exc:
        raise EmbeddingError(f"embedding failed, nothing was written: {exc!r}") from exc
    _keep(plan, documents, queries, index_config)


async def aembed(
    plan: BatchPlan, embeddings: Embeddings | None, index_config: Any, group_depth: int
) -> None:
    """Async twin of `embed`."""
    texts, missing = _texts(plan), _missing_queries(plan)
    if embeddings is None or not (texts or missing):
        return
    embedder, scope = cached_embeddings(embeddings), scope_for(_tenants(plan, group_depth))
    try:
        with embedding_scope(scope):
            documents = await embedder.aembed_documents(texts) if texts else []
            queries = await asyncio.gather(*(embedder.aembed_query(q) for q in missing))
    except Exception as exc:
        raise EmbeddingError(f"embedding failed, nothing was written: {exc!r}") from exc
    _keep(plan, documents, list(queries), index_config)


def _tenants(plan: BatchPlan, group_depth: int) -> Iterator[tuple[str, ...]]:
    """The tenant groups (first `group_depth` labels, as `tenant_scope` names them) of the
    texts and queries `plan` embeds."""
    if plan.puts:
        for prefix, *_ in plan.puts.texts:
            yield text_to_ns(prefix)[:group_depth]
    for _, op in plan.searches:
        if op.query and plan.queries.get(op.query) is None:
            yield tuple(op.namespace_prefix[:group_depth])


def _keep(
    plan: BatchPlan,
    documents: Sequence[Sequence[float]],
    queries: list[list[float]],
    index_config: Any,
) -> None:
    dims = int(cast(dict[str, Any], index_config)["dims"])
    for vector in [*documents, *queries]:
        if len(vector) != dims:
            raise EmbeddingDimensionError(
                f"the embedder returned a {len(vector)}-d vector; this store holds "
                f"{dims}-d vectors. Nothing was written"
            )
    if plan.puts is not None:
        if len(documents) != len(plan.puts.texts):
            raise EmbeddingError(
                f"the embedder returned {len(documents)} vectors for "
                f"{len(plan.puts.texts)} texts; nothing was written"
            )
        plan.puts.vectors = list(documents)
    plan.queries.update(zip(_missing_queries(plan), queries, strict=True))
