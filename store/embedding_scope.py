"""Whose texts an embedding call serves: cached vectors are reused within a tenant, never
across tenants.

An embedder's cache of recent texts (`LocalEmbeddings`'s LRU, `CachedEmbeddings` for a
provider) makes a repeated text free and fast. Shared by every user of a process, it would
tell one user — by what a call costs, or how long it takes — that another stored or asked
the same words. So caches are keyed by the *embedding scope* in effect: the agent's nodes
embed in their user's scope, our stores in the caller's scope or the batch's one tenant
group, and reconcile's exact cosines in the scope of the memories compared.

Core pieces:
    - `embedding_scope(scope)`: embedding calls inside serve `scope`.
    - `current_embedding_scope()`: the scope in effect (`None` outside any).
    - `tenant_scope(store, namespace)`: the scope of a namespace on a store.
    - `scope_for(tenants)`: the scope a call embedding texts of `tenants` runs in.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SCOPE: ContextVar[Hashable | None] = ContextVar("hippograph_embedding_scope", default=None)


@contextmanager
def embedding_scope(scope: Hashable) -> Iterator[None]:
    """Embedding calls inside serve `scope` (a tenant; `tenant_scope` names one): caches of
    recent texts (`LocalEmbeddings`'s, reconcile's exact cosines) reuse only vectors
    computed for the same scope, so whether a text was embedded recently — and how long a
    call takes — never depends on another tenant's texts. Outside any scope, one shared
    cache serves every caller, as for a plain embedder."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current_embedding_scope() -> Hashable | None:
    """The scope set by the innermost `embedding_scope`, or `None`."""
    return _SCOPE.get()


def tenant_scope(store: object, namespace: tuple[str, ...]) -> tuple[str, ...]:
    """The embedding scope of `namespace` on `store`: its tenant group on a store that has
    one (its first `FaissSqliteStore.group_depth` labels), else the whole namespace."""
    depth = getattr(store, "group_depth", None)
    return tuple(namespace[:depth] if isinstance(depth, int) and depth > 0 else namespace)


def scope_for(tenants: Iterable[Hashable]) -> Hashable:
    """The scope to embed texts of `tenants` in: the caller's `embedding_scope` when one is
    set (the agent's nodes set their user's), else the one tenant they all belong to, else
    a scope of its own — a call spanning tenants reuses no cached vector."""
    ambient = current_embedding_scope()
    if ambient is not None:
        return ambient
    distinct = set(tenants)
    return distinct.pop() if len(distinct) == 1 else object()
