"""Profile memory: one structured, validated profile per user, kept beside their memories.

Core pieces:
    - `read_profile` / `write_profile` / `clear_profile`: the profile item of a user, in
      `("memories", <user>, "profile")` under key `"profile"`, validated by the developer's
      pydantic schema when one is given.
    - `merge_profile`: a patch applied to a profile (fields given replace, the rest stay),
      checked by the schema.
    - `update_profile`: the graph step after reconcile: the model patches the profile from
      what the turn changed (one structured-output call, only when something changed).

The profile lives under the user's memory namespace, so erasing the user erases it and
their searches stay theirs. It is stored without a vector: searches of the memories skip it
(it has no score), and it never takes a recalled memory's place. Writes go through the
store with provenance, so `hippograph memories history` shows how it changed. Offline (no
model) the profile is not inferred: set it with `write_profile` (or the developer's own
code), and read it back anywhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from pydantic import BaseModel, ValidationError, create_model

from hippograph.store import memory_namespace, provenance
from hippograph.store.memory import as_utc

logger = logging.getLogger(__name__)

PROFILE_KEY = "profile"
"""The key of a user's profile item."""

PROFILE_LABEL = "profile"
"""The last label of the profile's namespace: `("memories", <user>, "profile")`."""


class ProfileError(ValueError):
    """A profile (or a patch of one) does not fit its schema; nothing was written."""


def profile_namespace(user_id: str) -> tuple[str, ...]:
    """Where `user_id`'s profile lives (under their memory namespace)."""
    return memory_namespace(user_id, PROFILE_LABEL)


def _validated(schema: type[BaseModel] | None, profile: Mapping[str, Any]) -> dict[str, Any]:
    if schema is None:
        return json.loads(json.dumps(dict(profile), default=str))
    try:
        return schema.model_validate(dict(profile)).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ProfileError(f"the profile does not fit {schema.__name__}: {problems}") from None


def read_profile(store: BaseStore, user_id: str) -> dict[str, Any] | None:
    """The user's profile fields, or `None` when they have none."""
    item = store.get(profile_namespace(user_id), PROFILE_KEY)
    if item is None or not isinstance(item.value.get("profile"), Mapping):
        return None
    return dict(item.value["profile"])


def write_profile(
    store: BaseStore,
    user_id: str,
    profile: BaseModel | Mapping[str, Any],
    *,
    schema: type[BaseModel] | None = None,
    source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Store `profile` as the user's profile (validated by `schema`, or by the profile's own
    model); returns the stored fields.

    Raises:
        ProfileError: the profile does not fit the schema; nothing is written.
    """
    if isinstance(profile, BaseModel):
        schema = schema or type(profile)
        profile = profile.model_dump(mode="json")
    fields = _validated(schema, profile)
    value: dict[str, Any] = {"profile": fields}
    if schema is not None:
        value["schema"] = schema.__name__
    written = {"origin": "profile", "turn_at": datetime.now(UTC).isoformat(), **(source or {})}
    with provenance(written):
        store.put(profile_namespace(user_id), PROFILE_KEY, value, index=False)
    return fields


def clear_profile(store: BaseStore, user_id: str) -> bool:
    """Delete the user's profile; `False` if there was none."""
    if store.get(profile_namespace(user_id), PROFILE_KEY) is None:
        return False
    store.delete(profile_namespace(user_id), PROFILE_KEY)
    return True


def profile_line(store: BaseStore, user_id: str) -> dict[str, Any] | None:
    """The user's profile as an export line (`{"kind": "profile", "profile": {...}, ...}`)."""
    item = store.get(profile_namespace(user_id), PROFILE_KEY)
    if item is None:
        return None
    return {"kind": "profile", **item.value, "updated_at": item.updated_at.isoformat()}


def parse_profile_line(line: str) -> dict[str, Any] | None:
    """The profile an export line holds, or `None` when the line is not a profile line.

    Raises:
        ValueError: a profile line whose `profile` is not an object.
    """
    if '"profile"' not in line:
        return None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return None  # reported as a bad memory line
    if not isinstance(raw, dict) or raw.get("kind") != "profile":
        return None
    if not isinstance(raw.get("profile"), Mapping):
        raise ValueError("a profile line needs a JSON object in 'profile'")
    return raw


def restore_profile(
    store: BaseStore,
    user_id: str,
    number: int,
    line: Mapping[str, Any],
    *,
    on_conflict: str,
    kept: list[Any],
) -> bool:
    """Write an imported profile line unless the stored profile wins under `on_conflict`
    (then it is reported in `kept`, like a memory line); returns whether it was written."""
    from hippograph.memory_jsonl import LineError

    stored = store.get(profile_namespace(user_id), PROFILE_KEY)
    if stored is not None and on_conflict != "overwrite":
        at = line.get("updated_at")
        newer = at is not None and as_utc(datetime.fromisoformat(str(at))) > as_utc(
            stored.updated_at
        )
        if on_conflict == "skip" or not newer:
            kept.append(LineError(number, "the stored profile is kept"))
            return False
    value = {k: v for k, v in line.items() if k not in ("kind", "updated_at")}
    with provenance({"origin": "import", "turn_at": datetime.now(UTC).isoformat()}):
        store.put(profile_namespace(user_id), PROFILE_KEY, value, index=False)
    return True


def merge_profile(
    schema: type[BaseModel] | None,
    current: Mapping[str, Any] | None,
    patch: Mapping[str, Any],
) -> dict[str, Any]:
    """`current` with the fields of `patch` replacing its own (`None` in a patch means
    "unchanged"), checked by `schema`.

    Raises:
        ProfileError: the result does not fit the schema.
    """
    merged = {**(current or {}), **{k: v for k, v in patch.items() if v is not None}}
    return _validated(schema, merged)


def patch_schema(schema: type[BaseModel]) -> type[BaseModel]:
    """`schema` with every field optional (default `None`): what the model answers."""
    fields: dict[str, Any] = {
        name: (field.annotation | None, None)  # type: ignore[operator]
        for name, field in schema.model_fields.items()
    }
    return create_model(f"{schema.__name__}Patch", __doc__=schema.__doc__, **fields)


def _changes(ops: list[Mapping[str, Any]]) -> list[str]:
    """This turn's memory changes, one line each, as the profile prompt shows them."""
    lines = []
    for op in ops:
        if op.get("op") == "ADD":
            lines.append(f"+ {op.get('content')}")
        elif op.get("op") == "UPDATE":
            lines.append(f"~ {op.get('old_content', '?')} → now: {op.get('content')}")
        elif op.get("op") == "DELETE":
            lines.append(f"- deleted (no longer true): {op.get('content')}")
    return lines


PROFILE_MAX_TOKENS = 256
"""The longest profile patch the model may write."""


def update_profile(
    state: Mapping[str, Any],
    runtime: Runtime[Any],
    *,
    model: BaseChatModel | None,
    schema: type[BaseModel],
) -> dict[str, Any]:
    """Patch the run user's profile from what this turn changed in their memories.

    No model, or no ADD / UPDATE / DELETE this turn: nothing to do (no call). A failing
    model, or an answer that does not fit the schema (after one retry), leaves the profile
    as it was and says so in the turn's `warnings`; the answer and memories are kept.
    """
    from hippograph.graph.context import memory_context
    from hippograph.memory.chat_models import (
        ModelCallError,
        UnusableOutputError,
        call_structured,
        pick_model,
    )
    from hippograph.prompts.profile import PROMPT

    context = memory_context(runtime)
    chat = pick_model(context.model, model)
    changes = _changes(list(state.get("ops") or []))
    if chat is None or not changes or runtime.store is None:
        return {}
    current = read_profile(runtime.store, context.user_id)
    prompt = PROMPT.invoke(
        {
            "schema": json.dumps(schema.model_json_schema(), ensure_ascii=False),
            "profile": json.dumps(current or {}, ensure_ascii=False),
            "facts": "\n".join(changes),
        }
    ).to_messages()

    def fits(patch: BaseModel) -> None:
        merge_profile(schema, current, patch.model_dump())  # ProfileError is a ValueError

    try:
        patch = call_structured(
            "profile",
            chat,
            patch_schema(schema),
            prompt,
            max_tokens=PROFILE_MAX_TOKENS,
            check=fits,
        )
    except (ModelCallError, UnusableOutputError) as exc:
        logger.warning("the profile was not updated: %s", exc)
        return {"warnings": [*(state.get("warnings") or []), f"profile not updated: {exc}"]}
    merged = merge_profile(schema, current, patch.model_dump())
    if merged != current:
        keys = [op.get("key") for op in state.get("ops") or [] if op.get("key")]
        write_profile(
            runtime.store, context.user_id, merged, schema=schema, source={"memories": keys}
        )
    return {}
