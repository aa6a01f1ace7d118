"""Turn a model spec into a LangChain chat model, or say clearly why it cannot be had.

Core pieces:
    - `resolve_chat_model`: a `BaseChatModel`, a `provider:model` string (anything
      `init_chat_model` accepts) or `None` (offline) → a chat model or `None`.
    - `ModelUnavailableError`: the provider package is missing, the spec is unknown, or the
      provider refused to initialise (e.g. no API key).
    - `describe_model`: a short human name for a model, for logs, the CLI and errors.
    - `call_model` / `call_structured`: how nodes call a model — failures become a named
      `ModelCallError`; unusable structured output is retried once, then skipped.

With a `base_url` (HIPPOGRAPH_BASE_URL), a bare model name goes to an OpenAI-compatible
server (vLLM, llama.cpp, LM Studio, Ollama's /v1 …).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel

logger = logging.getLogger(__name__)

ModelSpec = BaseChatModel | str | None
"""What a caller may pass as a model: an instance, a spec string, or `None` for offline."""

MODEL_HELP = (
    "Set HIPPOGRAPH_MODEL to any init_chat_model string, e.g. "
    "HIPPOGRAPH_MODEL=openai:gpt-4o-mini or HIPPOGRAPH_MODEL=ollama:llama3.1, "
    "or HIPPOGRAPH_BASE_URL=http://localhost:8000/v1 (plus HIPPOGRAPH_MODEL=<name>) "
    "for an OpenAI-compatible local server."
)
"""How to configure a model; shown wherever the offline mode or a model error is reported."""

_CACHE: dict[tuple[str, str | None], BaseChatModel] = {}
_CACHE_LOCK = threading.Lock()


class ModelUnavailableError(RuntimeError):
    """A chat model spec cannot be turned into a usable model."""


def describe_model(model: ModelSpec) -> str:
    """`"openai:gpt-4o-mini"`, `"ScriptedChatModel"` or `"offline (no model)"`."""
    if model is None:
        return "offline (no model)"
    if isinstance(model, str):
        return model
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    return f"{type(model).__name__}({name})" if isinstance(name, str) else type(model).__name__


def resolve_chat_model(model: ModelSpec, *, base_url: str | None = None) -> BaseChatModel | None:
    """Return the chat model `model` names (`None` stays `None`: the offline mode).

    String specs are initialised once per process and cached.

    Args:
        model: A chat model, a spec such as `"openai:gpt-4o-mini"` / `"ollama:llama3.1"`,
            or `None`.
        base_url: An OpenAI-compatible server; a bare model name is then served by it.

    Raises:
        ModelUnavailableError: the provider package is missing, the provider is unknown, or
            the provider could not be initialised (missing key, bad options).
    """
    if model is None or isinstance(model, BaseChatModel):
        return model
    spec = model.strip()
    if not spec:
        return None
    with _CACHE_LOCK:
        cached = _CACHE.get((spec, base_url))
    if cached is not None:
        return cached
    chat_model = _init(spec, base_url)
    with _CACHE_LOCK:
        return _CACHE.setdefault((spec, base_url), chat_model)


def _init(spec: str, base_url: str | None) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url
        if ":" not in spec:
            kwargs["model_provider"] = "openai"
            # Local servers rarely check the key, but the OpenAI client insists on one.
            kwargs["api_key"] = os.environ.get("OPENAI_API_KEY") or "not-needed"
    try:
        chat_model = init_chat_model(spec, **kwargs)
    except ImportError as exc:
        package = f"langchain-{spec.split(':', 1)[0].replace('_', '-')}" if ":" in spec else None
        hint = f"pip install {package}" if package else "install the provider's package"
        raise ModelUnavailableError(
            f"Model {spec!r} needs a provider package that is not installed: {hint} "
            f"({' '.join(str(exc).split())})"
        ) from exc
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(
            f"Cannot initialise model {spec!r}: {reason} {MODEL_HELP}"
        ) from exc
    if not isinstance(chat_model, BaseChatModel):
        raise ModelUnavailableError(f"{spec!r} is not a chat model ({type(chat_model).__name__})")
    return chat_model


class ModelCallError(RuntimeError):
    """The chat model failed (timeout, connection, provider error) while a node called it.

    The turn fails with this error; nothing the failed node would have written is written.
    """


_SchemaT = TypeVar("_SchemaT", bound=BaseModel)


def call_model(node: str, model: BaseChatModel, messages: list[BaseMessage]) -> BaseMessage:
    """`model.invoke(messages)`, with failures raised as a `ModelCallError` naming the node."""
    try:
        return model.invoke(messages)
    except Exception as exc:
        raise ModelCallError(
            f"{node}: the chat model {describe_model(model)} failed: {exc!r}"
        ) from exc


def call_structured(
    node: str,
    model: BaseChatModel,
    schema: type[_SchemaT],
    messages: list[BaseMessage],
    *,
    check: Callable[[_SchemaT], None] | None = None,
) -> _SchemaT | None:
    """Ask `model` for a `schema` object; retry once on unusable output, then skip.

    Output is unusable when it is not valid JSON, does not match `schema`, is empty, or
    fails `check` (which raises `ValueError`). The retry tells the model what was wrong.
    A second failure is logged and gives `None` — the caller skips its step and the turn
    goes on. A failing *call* (timeout, connection error) is not output: it raises
    `ModelCallError` at once.
    """
    structured = model.with_structured_output(schema, include_raw=True)
    attempt = list(messages)
    problem = ""
    for tries in (1, 2):
        try:
            out = structured.invoke(attempt)
        except Exception as exc:
            raise ModelCallError(
                f"{node}: the chat model {describe_model(model)} failed: {exc!r}"
            ) from exc
        assert isinstance(out, dict)
        parsed, error = out.get("parsed"), out.get("parsing_error")
        if error is not None:
            problem = f"output did not match the schema: {error}"
        elif not isinstance(parsed, schema):
            problem = "no structured output was returned"
        else:
            try:
                if check is not None:
                    check(parsed)
            except ValueError as exc:
                problem = f"output was invalid: {exc}"
            else:
                return parsed
        logger.warning("%s: unusable model output (attempt %d of 2): %s", node, tries, problem)
        attempt = [
            *messages,
            HumanMessage(
                f"Your previous answer was unusable ({problem[:500]}). "
                f"Answer again, calling {schema.__name__} with valid arguments."
            ),
        ]
    logger.warning("%s: skipped after two unusable answers from %s", node, describe_model(model))
    return None


def pick_model(override: str | None, bound: BaseChatModel | None) -> BaseChatModel | None:
    """The model a node uses: the run context's `model` spec if set, else the graph's own."""
    return resolve_chat_model(override) if override else bound
