"""Small SQL helpers shared by hippograph's PostgreSQL modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hippograph.store.codec import ns_to_text


def prefix_condition(prefix: tuple[str, ...], column: str = "prefix") -> tuple[str, list[str]]:
    """SQL matching namespace `prefix` and its descendants on whole labels (`("a",)` never
    matches `("ab",)`; LIKE wildcards inside labels are escaped)."""
    if not prefix:
        return "TRUE", []
    path = ns_to_text(prefix)
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return rf"({column} = %s OR {column} LIKE %s ESCAPE '\')", [path, f"{escaped}.%"]


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form of `vector` (float32 values round-trip exactly)."""
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float32).tolist())) + "]"


WANTED = "unnest(%s::text[], %s::text[]) AS wanted(prefix, key)"
"""A relation of `(prefix, key)` pairs from two array parameters. Join it to a table on
both columns (`JOIN store s ON s.prefix = wanted.prefix AND s.key = wanted.key`) so each pair
is one primary-key lookup; `(prefix, key) IN (SELECT * FROM unnest(...))` was planned as a
scan of the whole table (160 ms per 1,000 pairs at 20k items)."""
