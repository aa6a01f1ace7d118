"""OpenTelemetry tracing of the memory agent, its subgraphs and the evaluation (issue 19).

Core pieces:
    - `setup_tracing()`: with `HIPPOGRAPH_TRACING=otlp`, export spans over OTLP to the
      standard `OTEL_EXPORTER_OTLP_ENDPOINT` (Arize Phoenix, Langfuse, Jaeger, MLflow, an
      OpenTelemetry collector…); idempotent, `None` when tracing is off.
    - `Tracing`: the active setup (`flush()`, `shutdown()`, `tracer`).
    - `user_pseudonym(user_id)`: what spans carry as `user.id` (a keyed hash by default).

The span tree comes from OpenInference's LangChain instrumentation (every graph, node and
chat-model call); hippograph adds what only it knows: the user and thread of each run,
embedder calls as child spans, and the memory operations and recall scores of each turn.
`LANGSMITH_TRACING=true` is LangChain's own tracer and works with or without this.
"""

from hippograph.tracing.setup import (
    Tracing,
    TracingUnavailableError,
    active_tracing,
    setup_tracing,
    user_pseudonym,
)

__all__ = [
    "Tracing",
    "TracingUnavailableError",
    "active_tracing",
    "setup_tracing",
    "user_pseudonym",
]
