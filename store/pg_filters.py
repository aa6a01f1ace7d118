"""Search filter conditions over the JSONB `value` column, as `FaissSqliteStore` evaluates them.

LangGraph's `PostgresStore` compiles `{"k": {"$gt": 9}}` to a *text* comparison
(`value->>'k' > '9'`, so 10 is not greater than 9) and rejects nested filters
(`{"meta": {"lang": "en"}}` raises "Unsupported operator: lang"). `PostgresMemoryStore`
routes each `(key, operator, operand)` through `filter_condition` instead, which follows the
semantics of `hippograph.store.filters` (the InMemoryStore oracle, type-aware):
    - nested objects match partially, key by key; lists and scalars match exactly;
    - `$gt/$gte/$lt/$lte` compare numbers with numbers and strings with strings (code points);
    - `$ne` also matches items that lack the key.
Keys and values are always bound as parameters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from hippograph.store.errors import InvalidValueError
from hippograph.store.filters import OPERATORS

_COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _jsonb(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"filter value {value!r} is not JSON: {exc}") from exc


def _equals(path: list[str], expected: Any) -> tuple[str, list[Any]]:
    if isinstance(expected, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            return _operators(path, expected)
        clauses = ["jsonb_typeof(value #> %s::text[]) = 'object'"]
        params: list[Any] = [path]
        for key, value in expected.items():
            if not isinstance(key, str):
                raise InvalidValueError(f"filter keys must be strings, got {type(key).__name__}")
            sql, more = _equals([*path, key], value)
            clauses.append(sql)
            params.extend(more)
        return "(" + " AND ".join(clauses) + ")", params
    if expected is None:
        return "coalesce(value #> %s::text[], 'null'::jsonb) = 'null'::jsonb", [path]
    return "value #> %s::text[] = %s::jsonb", [path, _jsonb(expected)]


def _compare(path: list[str], op: str, bound: Any) -> tuple[str, list[Any]]:
    symbol = _COMPARISONS[op]
    if isinstance(bound, bool) or not isinstance(bound, (int, float, str)):
        raise InvalidValueError(f"{op} needs a number or a string, got {bound!r}")
    if isinstance(bound, str):
        return (
            f"(jsonb_typeof(value #> %s::text[]) = 'string' "
            f'AND (value #>> %s::text[]) COLLATE "C" {symbol} %s::text)',
            [path, path, bound],
        )
    if not math.isfinite(bound):
        raise InvalidValueError(f"filter value {bound} is not a finite number")
    return (
        f"(jsonb_typeof(value #> %s::text[]) = 'number' "
        f"AND (value #>> %s::text[])::numeric {symbol} %s::numeric)",
        [path, path, str(bound)],
    )


def _operators(path: list[str], spec: Mapping[str, Any]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for op, operand in spec.items():
        sql, more = filter_condition(path, op, operand)
        clauses.append(sql)
        params.extend(more)
    return "(" + " AND ".join(clauses) + ")" if clauses else "TRUE", params


def filter_condition(path: list[str], op: str, operand: Any) -> tuple[str, list[Any]]:
    """SQL and parameters for `operand` applied with `op` at JSON `path` of `value`.

    `op` is an operator (`$eq`, `$gt`, ...) or, for nested filters, a key below `path`.

    Raises:
        InvalidValueError: unknown operator or an operand that cannot be compared.
    """
    if not op.startswith("$"):
        return _equals(path, {op: operand})
    if op not in OPERATORS:
        raise InvalidValueError(
            f"Unsupported filter operator {op!r}; use one of {sorted(OPERATORS)}"
        )
    if op == "$eq":
        return _equals(path, operand)
    if op == "$ne":
        sql, params = _equals(path, operand)
        return f"NOT coalesce({sql}, false)", params
    return _compare(path, op, operand)


def search_filter(filter: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL and parameters for a whole search `filter` (every key must match), `TRUE` for none."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, spec in (filter or {}).items():
        sql, more = filter_condition([key], "$eq", spec)
        clauses.append(sql)
        params.extend(more)
    return " AND ".join(clauses) if clauses else "TRUE", params
