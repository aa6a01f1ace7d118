"""Search filter conditions over the JSONB `value` column, as `FaissSqliteStore` evaluates them.

LangGraph's `PostgresStore` compiles `{"k": {"$gt": 9}}` to a *text* comparison
(`value->>'k' > '9'`, so 10 is not greater than 9) and rejects nested filters
(`{"meta": {"lang": "en"}}` raises "Unsupported operator: lang"). `PostgresMemoryStore`
routes every `(key, operator, operand)` of a filter through `key_condition` instead, which
follows the semantics of `hippograph.store.filters` (the InMemoryStore oracle, type-aware):
    - keys are checked and resolved by `filters.filter_key_paths` (a dotted key names the
      literal top-level key when an item has it, else the nested path; anything but dotted
      labels raises `InvalidFilterKeyError`);
    - nested objects match partially, key by key; lists and scalars match exactly;
    - `$gt/$gte/$lt/$lte` compare numbers with numbers and strings with strings (code points);
      non-finite bounds follow `filters.non_finite_outcome`;
    - `$ne` also matches items that lack the key.
Keys and values are always bound as parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hippograph.store.errors import InvalidValueError
from hippograph.store.filters import OPERATORS, filter_key_paths, non_finite_outcome

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
    if non_finite_outcome("$eq", expected) is not None:
        return "FALSE", []
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
    outcome = non_finite_outcome(op, bound)
    if outcome is False:
        return "FALSE", []
    if outcome:
        return "jsonb_typeof(value #> %s::text[]) = 'number'", [path]
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


def key_condition(key: str, op: str, operand: Any) -> tuple[str, list[Any]]:
    """SQL and parameters for `operand` applied with `op` under the top-level filter `key`.

    A dotted key is evaluated at the literal top-level key when the item has it, else at
    the nested path (`filters.filter_key_paths`).

    Raises:
        InvalidFilterKeyError: `key` is not a dotted path of labels.
        InvalidValueError: unknown operator or an operand that cannot be compared.
    """
    literal, *nested = filter_key_paths(key)
    sql, params = filter_condition(list(literal), op, operand)
    if not nested:
        return sql, params
    other_sql, other_params = filter_condition(list(nested[0]), op, operand)
    return (
        f"(CASE WHEN value ? %s THEN {sql} ELSE {other_sql} END)",
        [key, *params, *other_params],
    )


def as_conditions(filter: Mapping[str, Any]) -> dict[str, Any]:
    """`filter` with every plain value written as `{"$eq": value}`.

    Upstream's query builder sends a dict value's entries through `_get_filter_condition`
    (ours: `key_condition`) but compares any other value itself, as raw JSON at the literal
    key; this keeps every condition on our semantics.
    """
    return {
        key: value if isinstance(value, Mapping) and value else {"$eq": value}
        for key, value in filter.items()
    }


def search_filter(filter: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL and parameters for a whole search `filter` (every condition must hold), `TRUE` for
    none: each `(key, operator, operand)` of `as_conditions(filter)` through `key_condition`,
    as upstream's query builder would send them."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, spec in as_conditions(filter or {}).items():
        for op, operand in spec.items():
            sql, more = key_condition(key, op, operand)
            clauses.append(sql)
            params.extend(more)
    return " AND ".join(clauses) if clauses else "TRUE", params
