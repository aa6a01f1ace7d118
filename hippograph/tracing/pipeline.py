"""The OpenTelemetry pipeline: resource, exporter, processor and the instrumentation.

Imported only when tracing is switched on (it needs the `tracing` extra).

Core pieces:
    - `otlp_exporter()`: the OTLP exporter the standard `OTEL_EXPORTER_OTLP_*` variables
      describe (HTTP/protobuf by default, gRPC when the protocol says so), behind a
      `GuardedExporter`.
    - `start(exporter, pseudonym)`: a `TracerProvider` exporting through
      `MemoryAttributesExporter`, OpenInference's LangChain instrumentation on it, plus
      hippograph's run and embedder instrumentation; returns the undo steps.

Why OpenInference rather than LangSmith's OTel mode: it emits the OpenInference semantic
conventions (span kinds LLM / CHAIN / RETRIEVER / EMBEDDING, messages, token counts) that
Phoenix, Arize, Langfuse and MLflow render natively; it needs no LangSmith configuration
(LangSmith's OTel export rides on `LANGSMITH_TRACING` and its own run tree); and it leaves
`LANGSMITH_TRACING` free to keep doing exactly what LangChain defines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.langchain import LangChainInstrumentor
from openinference.semconv.resource import ResourceAttributes
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from hippograph.config import TracingConfigError
from hippograph.tracing.embeddings import instrument_embeddings
from hippograph.tracing.guard import GuardedExporter, otlp_traces_endpoint
from hippograph.tracing.memory import MemoryAttributesExporter
from hippograph.tracing.runs import Pseudonym, instrument_runs

DEFAULT_SERVICE = "hippograph"


def _version() -> str:
    try:
        return version("hippograph")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def resource() -> Resource:
    """`service.name` (and Phoenix's project) from `OTEL_SERVICE_NAME`, else `hippograph`;
    `OTEL_RESOURCE_ATTRIBUTES` may set either."""
    base = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    service = str(base.attributes.get(SERVICE_NAME, ""))
    if not service or service.startswith("unknown_service"):
        service = DEFAULT_SERVICE
        base = base.merge(Resource({SERVICE_NAME: service}))
    return Resource({ResourceAttributes.PROJECT_NAME: service}).merge(base)


def otlp_exporter() -> SpanExporter:
    """The OTLP span exporter configured by the standard `OTEL_EXPORTER_OTLP_*` variables,
    guarded against an unreachable backend."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GuardedExporter(GrpcExporter(), endpoint=None)
    if protocol != "http/protobuf":
        raise TracingConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf "
            "(default) or grpc"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return GuardedExporter(OTLPSpanExporter(), endpoint=otlp_traces_endpoint())


def start(
    exporter: SpanExporter | None, pseudonym: Pseudonym
) -> tuple[TracerProvider, OITracer, list[Callable[[], None]]]:
    """Build the provider, instrument LangChain / LangGraph / embedders; return the undo."""
    provider = TracerProvider(resource=resource(), shutdown_on_exit=False)
    provider.add_span_processor(
        BatchSpanProcessor(MemoryAttributesExporter(exporter or otlp_exporter()))
    )
    tracer = OITracer(provider.get_tracer("hippograph", _version()), config=TraceConfig())
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
    undo: list[Callable[[], None]] = [instrumentor.uninstrument]
    undo.append(instrument_runs(pseudonym))
    undo.append(instrument_embeddings(tracer))
    return provider, tracer, undo
