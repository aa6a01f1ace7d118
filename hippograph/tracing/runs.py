"""Who and which conversation: every span of a LangGraph run carries its user and thread.

Core pieces:
    - `run_attributes(context, config, pseudonym)`: the `user.id` (pseudonymised) and
      `session.id` (the thread) of one run, from its runtime context and config.
    - `instrument_runs(pseudonym)`: wraps `Pregel.stream` / `astream` (which `invoke` and
      `ainvoke` go through) so each step of a run executes with those attributes in the
      OpenTelemetry context, where OpenInference copies them onto every span. Returns the
      undo step.

The user lives in the run's `context` (`context={"user_id": ...}`), which LangChain
callbacks never see; reading it where the run starts keeps the nodes untouched and the
checkpoints unchanged (run metadata would be copied into every checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import wrapt
from langgraph.pregel import Pregel
from openinference.instrumentation import using_attributes

Pseudonym = Callable[[str], str | None]

_METHODS = ("stream", "astream")


def _user_id(context: Any) -> str | None:
    value = context.get("user_id") if isinstance(context, Mapping) else None
    if value is None:
        value = getattr(context, "user_id", None)
    return value if isinstance(value, str) and value else None


def _thread_id(config: Any) -> str | None:
    if not isinstance(config, Mapping):
        return None
    value = (config.get("configurable") or {}).get("thread_id")
    return str(value) if value not in (None, "") else None


def run_attributes(context: Any, config: Any, pseudonym: Pseudonym) -> dict[str, str]:
    """`{"user_id", "session_id"}` for a run (keys absent when unknown or not shown)."""
    attributes: dict[str, str] = {}
    user = _user_id(context)
    shown = pseudonym(user) if user is not None else None
    if shown:
        attributes["user_id"] = shown
    thread = _thread_id(config)
    if thread:
        attributes["session_id"] = thread
    return attributes


class _WithRunAttributes:
    """A `wrapt` wrapper of `Pregel.stream` / `astream`: runs the stream under the run's
    user and thread (OpenInference's `using_attributes` follows a generator step by step,
    so nothing leaks into the caller between steps)."""

    def __init__(self, pseudonym: Pseudonym) -> None:
        self.pseudonym = pseudonym

    def __call__(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        context = kwargs.get("context")
        config = args[1] if len(args) > 1 else kwargs.get("config")
        attributes = run_attributes(context, config, self.pseudonym) if context else {}
        if not attributes:  # e.g. a subgraph step: its parent run's attributes hold
            return wrapped(*args, **kwargs)
        scope = using_attributes(
            user_id=attributes.get("user_id", ""), session_id=attributes.get("session_id", "")
        )
        return scope(wrapped)(*args, **kwargs)


def instrument_runs(pseudonym: Pseudonym) -> Callable[[], None]:
    """Wrap `Pregel.stream` and `Pregel.astream`; return the step that unwraps them."""
    originals = {name: Pregel.__dict__[name] for name in _METHODS}
    for name in _METHODS:
        wrapt.wrap_function_wrapper(Pregel, name, _WithRunAttributes(pseudonym))

    def undo() -> None:
        for name, original in originals.items():
            setattr(Pregel, name, original)

    return undo
