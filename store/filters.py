"""Compile LangGraph search filters into parameterised SQLite over the JSON `value` column.

Semantics follow LangGraph's `InMemoryStore` (the reference):
    - `{"k": v}` — the top-level key `k` (taken literally, dots included) equals `v`.
    - `{"k": {"a": 1}}` — nested, partial match: `value["k"]` is an object whose `a` is 1.
    - `{"k": [1, 2]}` — element-wise equality with a list.
    - `{"k": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte": x}}` — comparison operators.
    - `None` matches a missing key or JSON null; `$ne` matches items lacking the key.
Differences, by design: comparisons are type-aware (`True` never equals `1`; `$gt` on a
number only matches numbers, on a string only strings) where the in-memory store would
raise or coerce. Keys and values are always bound as SQL parameters, never spliced in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hippograph.store.errors import InvalidValueError

OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
_COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NUMERIC = "('integer','real')"


class _Sql:
    """Accumulates SQL fragments and their parameters."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def path_expr(self, func: str, path: str) -> str:
        self.params.append(path)
        return f"{func}({self.column}, ?)"


def _label(key: object) -> str:
    if not isinstance(key, str):
        raise InvalidValueError(f"filter keys must be strings, got {type(key).__name__}")
    if any(ch in key for ch in '"\\') or any(ord(ch) < 0x20 for ch in key):
        raise InvalidValueError(
            f"filter key {key!r} contains a quote, backslash or control character, "
            "which cannot be addressed in a JSON path"
        )
    return f'."{key}"'


def _check_scalar(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValueError(f"filter value {value} is not a finite number")


def _equals(sql: _Sql, path: str, expected: Any) -> str:
    """SQL true when the JSON at `path` equals `expected` (InMemoryStore semantics)."""
    if expected is None:
        return f"{sql.path_expr('json_extract', path)} IS NULL"
    if isinstance(expected, bool):
        return f"{sql.path_expr('json_type', path)} = '{'true' if expected else 'false'}'"
    if isinstance(expected, (int, float)):
        _check_scalar(expected)
        type_sql = sql.path_expr("json_type", path)
        value_sql = sql.path_expr("json_extract", path)
        sql.params.append(expected)
        return f"({type_sql} IN {_NUMERIC} AND {value_sql} = ?)"
    if isinstance(expected, str):
        return _equals_text(sql, path, expected)
    if isinstance(expected, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            return _operators(sql, path, expected)
        parts = [f"{sql.path_expr('json_type', path)} = 'object'"]
        parts += [_equals(sql, path + _label(k), v) for k, v in expected.items()]
        return "(" + " AND ".join(parts) + ")"
    if isinstance(expected, (list, tuple)):
        parts = [
            f"{sql.path_expr('json_type', path)} = 'array'",
            f"{sql.path_expr('json_array_length', path)} = {len(expected)}",
        ]
        parts += [_equals(sql, f"{path}[{i}]", v) for i, v in enumerate(expected)]
        return "(" + " AND ".join(parts) + ")"
    raise InvalidValueError(f"filter value of type {type(expected).__name__} is not supported")


def _equals_text(sql: _Sql, path: str, expected: str) -> str:
    """SQL true when the JSON at `path` is the string `expected`, NUL characters included.

    SQLite's `json_extract` cuts a string at its first NUL, so a string holding one is
    compared as JSON text instead (`->` renders it as `\\u0000`, exactly as `json_quote`
    does), and a stored string holding one never equals a NUL-free `expected`.
    """
    type_sql = sql.path_expr("json_type", path)
    if "\x00" in expected:
        sql.params.append(path)
        sql.params.append(expected)
        return f"({type_sql} = 'text' AND ({sql.column} -> ?) = json_quote(?))"
    value_sql = sql.path_expr("json_extract", path)
    sql.params.append(expected)
    sql.params.append(path)
    return f"({type_sql} = 'text' AND {value_sql} = ? AND instr({sql.column} -> ?, '\\u0000') = 0)"


def _compare(sql: _Sql, path: str, op: str, bound: Any) -> str:
    symbol = _COMPARISONS[op]
    if isinstance(bound, bool) or not isinstance(bound, (int, float, str)):
        raise InvalidValueError(f"{op} needs a number or a string, got {bound!r}")
    _check_scalar(bound)
    kind = _NUMERIC if not isinstance(bound, str) else "('text')"
    type_sql = sql.path_expr("json_type", path)
    value_sql = sql.path_expr("json_extract", path)
    sql.params.append(bound)
    return f"({type_sql} IN {kind} AND {value_sql} {symbol} ?)"


def _operators(sql: _Sql, path: str, spec: Mapping[str, Any]) -> str:
    parts = []
    for op, operand in spec.items():
        if op not in OPERATORS:
            raise InvalidValueError(
                f"Unsupported filter operator {op!r}; use one of {sorted(OPERATORS)}"
            )
        if op == "$eq":
            parts.append(_equals(sql, path, operand))
        elif op == "$ne":
            parts.append(f"NOT COALESCE({_equals(sql, path, operand)}, 0)")
        else:
            parts.append(_compare(sql, path, op, operand))
    return "(" + " AND ".join(parts) + ")" if parts else "1"


def compile_filter(filter: Mapping[str, Any] | None, column: str) -> tuple[str, list[Any]]:
    """Return `(sql, params)` selecting rows whose JSON `column` matches `filter`.

    Raises:
        InvalidValueError: unknown operator, unaddressable key, or an unsupported value.
    """
    if not filter:
        return "1", []
    if not isinstance(filter, Mapping):
        raise InvalidValueError(f"filter must be a dict, got {type(filter).__name__}")
    sql = _Sql(column)
    for key, expected in filter.items():
        sql.clauses.append(_equals(sql, "$" + _label(key), expected))
    return " AND ".join(sql.clauses), sql.params
