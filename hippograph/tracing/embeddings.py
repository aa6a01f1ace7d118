"""Embedder calls as child spans (LangChain's `Embeddings` send no callbacks).

Core pieces:
    - `instrument_embeddings(tracer)`: wraps `embed_documents` / `embed_query` (and their
      async twins) of every LangChain `Embeddings` class that defines them — those loaded
      now and those defined later — so each call is an EMBEDDING span under the node (or
      evaluation step) that made it. Returns the undo step.

A call made inside another embedding span (a caching wrapper around the real model) is not
a span of its own: one span per embedding request, as the store sees it. Texts go on the
span the OpenInference way (`embedding.embeddings.N.embedding.text`, hidden with
`OPENINFERENCE_HIDE_EMBEDDINGS_TEXT`); vectors never do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import wrapt
from langchain_core.embeddings import Embeddings
from openinference.instrumentation import OITracer
from openinference.instrumentation.langchain import get_current_span
from openinference.semconv.trace import (
    EmbeddingAttributes,
    OpenInferenceSpanKindValues,
    SpanAttributes,
)
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from hippograph.store.embedding_cache import model_of

EMBEDDING_COUNT = "hippograph.embedding.count"
MAX_TEXTS_ON_SPAN = 32
"""Texts beyond this many are counted, not attached (a bulk import embeds thousands)."""

_SYNC = ("embed_documents", "embed_query", "embed_queries")  # the last: LocalEmbeddings
_ASYNC = ("aembed_documents", "aembed_query")
_inside = ContextVar("hippograph_tracing_inside_embedding", default=False)


def _model_name(embedder: Any) -> str:
    return model_of(embedder) or type(embedder).__name__


def _texts(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    value = args[0] if args else kwargs.get("texts", kwargs.get("text"))
    if method.endswith("query"):
        return [value] if isinstance(value, str) else []
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def _attributes(embedder: Any, texts: list[str]) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        SpanAttributes.EMBEDDING_MODEL_NAME: _model_name(embedder),
        EMBEDDING_COUNT: len(texts),
    }
    prefix = SpanAttributes.EMBEDDING_EMBEDDINGS
    for i, text in enumerate(texts[:MAX_TEXTS_ON_SPAN]):
        attributes[f"{prefix}.{i}.{EmbeddingAttributes.EMBEDDING_TEXT}"] = text
    return attributes


def _parent() -> Context | None:
    """The span of the LangChain run making the call (a graph node), else the current one."""
    span = get_current_span()
    return trace.set_span_in_context(span) if span is not None else None


class _Spans:
    """Opens the EMBEDDING span around one call (the wrappers' shared part)."""

    def __init__(self, tracer: OITracer) -> None:
        self.tracer = tracer

    @contextmanager
    def around(self, method: str, embedder: Any, args: Any, kwargs: Any) -> Iterator[None]:
        if _inside.get():
            yield
            return
        token = _inside.set(True)
        try:
            with self.tracer.start_as_current_span(
                method,
                context=_parent(),
                attributes={
                    SpanAttributes.OPENINFERENCE_SPAN_KIND: (
                        OpenInferenceSpanKindValues.EMBEDDING.value
                    ),
                    **_attributes(embedder, _texts(method, args, kwargs)),
                },
            ):
                yield
        finally:
            _inside.reset(token)

    def sync(self, method: str) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            with self.around(method, instance, args, kwargs):
                return wrapped(*args, **kwargs)

        return wrapper

    def async_(self, method: str) -> Callable[..., Any]:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any
        ) -> Any:
            with self.around(method, instance, args, kwargs):
                return await wrapped(*args, **kwargs)

        return wrapper


def _subclasses(cls: type) -> Iterator[type]:
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        yield sub
        yield from _subclasses(sub)


class _Patcher:
    """Wraps embedder classes once each and remembers how to restore them."""

    def __init__(self, spans: _Spans) -> None:
        self.spans = spans
        self.originals: dict[tuple[type, str], Any] = {}

    def patch(self, cls: type) -> None:
        for method in (*_SYNC, *_ASYNC):
            if method not in cls.__dict__ or (cls, method) in self.originals:
                continue
            self.originals[cls, method] = cls.__dict__[method]
            make = self.spans.async_ if method in _ASYNC else self.spans.sync
            wrapt.wrap_function_wrapper(cls, method, make(method))

    def restore(self) -> None:
        for (cls, method), original in self.originals.items():
            setattr(cls, method, original)
        self.originals.clear()


def instrument_embeddings(tracer: OITracer) -> Callable[[], None]:
    """Trace every embedder's calls as EMBEDDING spans; return the step that stops it.

    Classes already defined are wrapped now; classes defined later (a provider package
    imported after tracing started) are wrapped as they are created, through
    `Embeddings.__init_subclass__`.
    """
    patcher = _Patcher(_Spans(tracer))
    for cls in set(_subclasses(Embeddings)):
        patcher.patch(cls)
    had_hook = "__init_subclass__" in Embeddings.__dict__
    previous = Embeddings.__dict__.get("__init_subclass__")

    def on_subclass(cls: type[Embeddings], **kwargs: Any) -> None:
        super(Embeddings, cls).__init_subclass__(**kwargs)
        patcher.patch(cls)

    Embeddings.__init_subclass__ = classmethod(on_subclass)  # type: ignore[assignment,method-assign]

    def undo() -> None:
        if had_hook:
            Embeddings.__init_subclass__ = previous  # type: ignore[assignment,method-assign]
        else:
            del Embeddings.__init_subclass__
        patcher.restore()

    return undo
