"""Encoding and validation at the store's boundary: namespaces, keys, values, vectors.

Everything that crosses into SQLite passes through here first, so a bad value is rejected
with `InvalidValueError` before a transaction starts and the store stays unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from langgraph.store.base import get_text_at_path

from hippograph.store.errors import EmbeddingDimensionError, InvalidValueError

NS_SEPARATOR = "."


def ns_to_text(namespace: Iterable[str]) -> str:
    """Join namespace labels with `.` (labels are validated never to contain one)."""
    return NS_SEPARATOR.join(namespace)


def text_to_ns(text: str) -> tuple[str, ...]:
    """Split a stored namespace back into its labels."""
    return tuple(text.split(NS_SEPARATOR))


def _escape_glob(text: str) -> str:
    return text.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")


def prefix_condition(prefix: tuple[str, ...], column: str) -> tuple[str, list[str]]:
    """SQL matching `prefix` and its descendants on whole labels (`("a",)` never matches `("ab",)`).

    GLOB, not LIKE: LIKE is case-insensitive for ASCII, and namespaces are case-sensitive.
    """
    if not prefix:
        return "1", []
    path = ns_to_text(prefix)
    return f"({column} = ? OR {column} GLOB ?)", [path, _escape_glob(path) + ".*"]


def validate_key(key: object) -> str:
    """Return `key` if it is a string without NUL bytes; else raise `InvalidValueError`."""
    if not isinstance(key, str):
        raise InvalidValueError(f"Item keys must be strings, got {type(key).__name__}")
    if "\x00" in key:
        raise InvalidValueError("Item keys cannot contain NUL bytes ('\\x00')")
    _check_unicode(key, "key")
    return key


def _check_unicode(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValueError(f"{where} is not valid Unicode text: {exc.reason}") from exc


def _check_json_tree(value: Any, path: str, depth: int = 0) -> None:
    """Reject what `json.dumps` would silently change: non-str keys, NaN/inf, odd types."""
    if depth > _MAX_DEPTH:
        raise InvalidValueError(f"value is nested too deeply at {path}")
    if isinstance(value, str):
        _check_unicode(value, f"string at {path}")
    elif isinstance(value, bool) or value is None or isinstance(value, int):
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"value at {path} is {value}; NaN and infinity are not JSON")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidValueError(
                    f"value at {path} has a key of type {type(k).__name__}; keys must be strings"
                )
            _check_unicode(k, f"key at {path}")
            _check_json_tree(v, f"{path}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json_tree(v, f"{path}[{i}]", depth + 1)
    else:
        raise InvalidValueError(
            f"value at {path} has type {type(value).__name__}, which is not JSON-serialisable"
        )


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_MAKE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None without the C speedups
_C_ENCODER = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
)
"""`_ENCODER`'s own C encoder, built once: `JSONEncoder.encode` builds it again on every
call, which costs as much as encoding a small value. Used for plain trees only (no cycles,
bounded depth: `_plain_tree`); same output, by construction (these are the arguments
`JSONEncoder.iterencode` passes it)."""
_MAX_DEPTH = 200


def _plain_tree(value: Any, depth: int = 0) -> bool:
    """Whether `value` is made of plain dicts with str keys and lists only, no deeper than
    `_MAX_DEPTH` — then the JSON encoder itself rejects whatever else could be wrong."""
    if depth > _MAX_DEPTH:
        return False
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) in (dict, list) and not _plain_tree(item, depth + 1):
                return False
        return True
    if kind is list:
        return all(type(item) not in (dict, list) or _plain_tree(item, depth + 1) for item in value)
    return kind not in (tuple,) and not isinstance(value, (Mapping, list))


def encode_value(value: object, max_bytes: int | None) -> str:
    """Validate a `PutOp` value and return its JSON text.

    Plain values (dicts with str keys, lists, scalars) take a fast path: the encoder rejects
    NaN, infinity and unknown types, and encoding the text as UTF-8 rejects lone
    surrogates. Anything else — or any failure — goes through `_check_json_tree`, which
    names what is wrong and where.

    Raises:
        InvalidValueError: not a mapping with string keys, not JSON-serialisable, contains
            NaN/inf or invalid Unicode, or larger than `max_bytes` once encoded.
    """
    if type(value) is not dict and not isinstance(value, Mapping):  # dict: skip the ABC check
        raise InvalidValueError(
            f"Item values must be dicts (mappings with string keys), got {type(value).__name__}"
        )
    text: str | None = None
    if _plain_tree(value):
        try:
            text = "".join(_C_ENCODER(value, 0)) if _C_ENCODER else _ENCODER.encode(value)
            size = len(text) if text.isascii() else len(text.encode("utf-8"))
        except (ValueError, TypeError):  # NaN/inf, an odd type, a lone surrogate
            text = None
    if text is None:
        _check_json_tree(value, "$")
        text = _ENCODER.encode(value)
        size = len(text.encode("utf-8"))
    if max_bytes is not None and size > max_bytes:
        raise InvalidValueError(
            f"value is {size:,} bytes encoded; this store's limit is {max_bytes:,} "
            "(raise it with FaissSqliteStore(max_value_bytes=...))"
        )
    return text


def texts_at_path(value: Any, tokens: str | list[str]) -> list[str]:
    """LangGraph's `get_text_at_path`, answered directly in the common case — a string
    under one top-level key — which otherwise costs a recursive walk per indexed field."""
    if type(tokens) is list and len(tokens) == 1 and type(value) is dict:
        key = tokens[0]
        text = value.get(key)
        if type(text) is str and not key.startswith(("[", "{")) and key != "*":
            return [text]
    return get_text_at_path(value, tokens)


def decode_value(text: str) -> dict[str, Any]:
    """Parse stored JSON text back into a dict."""
    value = json.loads(text)
    if not isinstance(value, dict):  # pragma: no cover - only dicts are ever written
        raise InvalidValueError("stored value is not a JSON object")
    return value


def validate_ttl(ttl: object) -> float | None:
    """Return a TTL in minutes (`None` = never expires); reject non-positive or non-finite."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise InvalidValueError(f"ttl must be a number of minutes or None, got {ttl!r}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise InvalidValueError(f"ttl must be a positive, finite number of minutes, got {ttl!r}")
    return float(ttl)


def text_hash(text: str) -> str:
    """Content hash used to skip re-embedding unchanged text."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def to_unit_vectors(vectors: object, dims: int, count: int) -> np.ndarray:
    """Check an embedder's output and return it as float32 unit rows.

    Raises:
        EmbeddingDimensionError: wrong count, wrong size, non-finite numbers or a zero vector.
    """
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingDimensionError(
            f"embedder returned something that is not vectors: {exc}"
        ) from exc
    if array.ndim != 2 or array.shape[0] != count:
        raise EmbeddingDimensionError(
            f"embedder returned {array.shape[0] if array.ndim else 0} vectors of shape "
            f"{array.shape[1:]} for {count} texts"
        )
    if array.shape[1] != dims:
        raise EmbeddingDimensionError(
            f"embedder returned {array.shape[1]}-dimensional vectors; the store's index is "
            f"{dims}-dimensional (IndexConfig 'dims')"
        )
    if not np.isfinite(array).all():
        raise EmbeddingDimensionError("embedder returned NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms == 0).any():
        raise EmbeddingDimensionError("embedder returned a zero vector")
    return np.ascontiguousarray(array / norms, dtype=np.float32)
