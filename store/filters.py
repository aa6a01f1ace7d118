"""Compile LangGraph search filters into parameterised SQLite over the JSON `value` column.

Semantics follow LangGraph's stores (`InMemoryStore` is the reference; `SqliteStore` for keys):
    - `{"k": v}` — the top-level key `k` equals `v`.
    - `{"a.b": v}` — a dotted key: the top-level key `"a.b"` when the item has one (as
      `InMemoryStore` and `PostgresStore` read it), else the nested path a → b (as `SqliteStore`
      reads it, so `{"user.access-level": "x"}` matches `{"user": {"access-level": "x"}}`).
    - `{"k": {"a": 1}}` — nested, partial match: `value["k"]` is an object whose `a` is 1.
    - `{"k": [1, 2]}` — element-wise equality with a list.
    - `{"k": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte": x}}` — comparison operators.
    - `None` matches a missing key or JSON null; `$ne` matches items lacking the key.
    - Non-finite bounds compare like Python floats: every number is `< inf` and `> -inf`,
      nothing equals or is ordered against NaN (and `$ne` NaN matches everything).
Keys: a filter key is a dotted path of labels made of letters, digits, `_` and `-` (LangGraph's
`SqliteStore` rule, plus non-ASCII letters); anything else raises `InvalidFilterKeyError`, a
`ValueError` saying "Invalid filter key", as upstream does. Differences, by design: comparisons
are type-aware (`True` never equals `1`; `$gt` on a number only matches numbers, on a string
only strings) where the in-memory store would raise or coerce. Keys and values are always
bound as SQL parameters, never spliced in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from hippograph.store.errors import InvalidFilterKeyError, InvalidValueError

OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
_COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NUMERIC = "('integer','real')"
FILTER_KEY = re.compile(r"[\w-]+(?:\.[\w-]+)*")
"""A valid top-level filter key: labels of letters, digits, `_` and `-`, joined by dots."""
_INT64 = (-(2**63), 2**63 - 1)


def filter_key_paths(key: object) -> list[tuple[str, ...]]:
    """The value paths a top-level filter key names, in order of precedence.

    `"k"` names the top-level key; `"a.b"` names the top-level key `"a.b"` if an item has
    one, else the nested path `("a", "b")`.

    Raises:
        InvalidFilterKeyError: the key is not a string of dotted labels.
    """
    if not isinstance(key, str) or not FILTER_KEY.fullmatch(key):
        raise InvalidFilterKeyError(
            f"Invalid filter key: {key!r}. Filter keys are dotted paths of letters, digits, "
            "'_' and '-' (e.g. 'category' or 'user.access-level')"
        )
    labels = tuple(key.split("."))
    return [(key,)] if len(labels) == 1 else [(key,), labels]


def non_finite_outcome(op: str, bound: int | float) -> bool | None:
    """For a non-finite number bound: whether `op` holds for every finite number (`True`)
    or for none (`False`); `None` for a finite bound.

    Python's float order: every number is `< inf` and `> -inf`, nothing is equal to an
    infinity (JSON numbers are finite), and no comparison with NaN holds.
    """
    if isinstance(bound, bool) or not isinstance(bound, float) or math.isfinite(bound):
        return None
    if math.isnan(bound) or op == "$eq":
        return False
    below = op in ("$lt", "$lte")
    return below if bound > 0 else not below


def sql_number(value: int | float) -> int | float:
    """`value` as SQLite can bind it (integers beyond 64 bits compare as floats)."""
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        return float(value)
    return value


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


def _equals(sql: _Sql, path: str, expected: Any) -> str:
    """SQL true when the JSON at `path` equals `expected` (InMemoryStore semantics)."""
    if expected is None:
        return f"{sql.path_expr('json_extract', path)} IS NULL"
    if isinstance(expected, bool):
        return f"{sql.path_expr('json_type', path)} = '{'true' if expected else 'false'}'"
    if isinstance(expected, (int, float)):
        if non_finite_outcome("$eq", expected) is not None:
            return "0"
        type_sql = sql.path_expr("json_type", path)
        value_sql = sql.path_expr("json_extract", path)
        sql.params.append(sql_number(expected))
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
    outcome = None if isinstance(bound, str) else non_finite_outcome(op, bound)
    if outcome is False:
        return "0"
    kind = _NUMERIC if not isinstance(bound, str) else "('text')"
    type_sql = sql.path_expr("json_type", path)
    if outcome:
        return f"({type_sql} IN {_NUMERIC})"
    value_sql = sql.path_expr("json_extract", path)
    sql.params.append(bound if isinstance(bound, str) else sql_number(bound))
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
        InvalidFilterKeyError: a key that is not a dotted path of labels.
        InvalidValueError: unknown operator, unaddressable nested key, or an unsupported value.
    """
    if not filter:
        return "1", []
    if not isinstance(filter, Mapping):
        raise InvalidValueError(f"filter must be a dict, got {type(filter).__name__}")
    sql = _Sql(column)
    for key, expected in filter.items():
        sql.clauses.append(_key_condition(sql, filter_key_paths(key), expected))
    return " AND ".join(sql.clauses), sql.params


def _key_condition(sql: _Sql, paths: list[tuple[str, ...]], expected: Any) -> str:
    """`expected` at the first of `paths` that an item has (the last one when it has none)."""
    literal, *rest = ["$" + "".join(_label(label) for label in path) for path in paths]
    if not rest:
        return _equals(sql, literal, expected)
    present = f"{sql.path_expr('json_type', literal)} IS NOT NULL"
    first = _equals(sql, literal, expected)
    return f"(CASE WHEN {present} THEN {first} ELSE {_equals(sql, rest[0], expected)} END)"
