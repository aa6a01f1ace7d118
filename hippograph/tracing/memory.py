"""What a turn did to memory, as span attributes: derived from the spans, at export time.

Core pieces:
    - `memory_attributes(output)`: recall scores and memory operations from a run's output
      (the agent's state keys `recalled`, `ops`, `candidates`).
    - `MemoryAttributesExporter`: wraps any `SpanExporter`; before a span leaves, adds those
      attributes to every span whose output carries them (the retrieve and reconcile nodes,
      the subgraphs, the whole turn), and shows a run that only recalls as a RETRIEVER span
      listing its memories with their scores.

It reads OpenInference's standard `output.value` (the node's output as JSON), so the nodes
stay untouched, and it runs in the exporter's background thread, not in the turn. A span
whose outputs are hidden (`OPENINFERENCE_HIDE_OUTPUTS`) gets no memory attributes either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from openinference.semconv.trace import (
    DocumentAttributes,
    OpenInferenceSpanKindValues,
    SpanAttributes,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util.types import AttributeValue

RECALL_COUNT = "hippograph.recall.count"
RECALL_SCORES = "hippograph.recall.scores"
RECALL_KEYS = "hippograph.recall.keys"
MEMORY_OPS = "hippograph.memory.ops"
MEMORY_KEYS = "hippograph.memory.keys"
MEMORY_CANDIDATES = "hippograph.memory.candidates"
OP_COUNTS = {
    "ADD": "hippograph.memory.added",
    "UPDATE": "hippograph.memory.updated",
    "DELETE": "hippograph.memory.deleted",
    "NOOP": "hippograph.memory.unchanged",
}
"""One counter attribute per operation, present (possibly 0) whenever `ops` is."""

_MARKERS = ('"recalled"', '"ops"', '"candidates"')


def _recall(recalled: list[Any]) -> dict[str, AttributeValue]:
    memories = [m for m in recalled if isinstance(m, dict)]
    return {
        RECALL_COUNT: len(memories),
        RECALL_SCORES: [float(m.get("score") or 0.0) for m in memories],
        RECALL_KEYS: [str(m.get("key", "")) for m in memories],
    }


def _ops(ops: list[Any]) -> dict[str, AttributeValue]:
    done = [op for op in ops if isinstance(op, dict)]
    counts = Counter(str(op.get("op", "")) for op in done)
    attributes: dict[str, AttributeValue] = {
        MEMORY_OPS: [str(op.get("op", "")) for op in done],
        MEMORY_KEYS: [str(op.get("key") or "") for op in done],
    }
    attributes.update({name: counts.get(op, 0) for op, name in OP_COUNTS.items()})
    return attributes


def _documents(recalled: list[Any]) -> dict[str, AttributeValue]:
    """OpenInference's retrieval documents, so a backend lists the memories with scores."""
    out: dict[str, AttributeValue] = {}
    prefix = SpanAttributes.RETRIEVAL_DOCUMENTS
    for i, memory in enumerate(m for m in recalled if isinstance(m, dict)):
        out[f"{prefix}.{i}.{DocumentAttributes.DOCUMENT_ID}"] = str(memory.get("key", ""))
        out[f"{prefix}.{i}.{DocumentAttributes.DOCUMENT_CONTENT}"] = str(memory.get("content", ""))
        out[f"{prefix}.{i}.{DocumentAttributes.DOCUMENT_SCORE}"] = float(memory.get("score") or 0)
    return out


def memory_attributes(output: Any) -> dict[str, AttributeValue]:
    """Span attributes for a run's `output` (a state dict, or its JSON text).

    Returns `hippograph.recall.*` for `recalled`, `hippograph.memory.ops` and one counter
    per operation for `ops`, `hippograph.memory.candidates` for `candidates`; for an output
    of only `recalled` (the recall subgraph; the retrieve node, beside its scratch
    `recent_vectors`), also OpenInference's
    retrieval documents and the RETRIEVER span kind. Anything else gives `{}`.
    """
    if isinstance(output, str):
        if not any(marker in output for marker in _MARKERS):
            return {}
        try:
            output = json.loads(output)
        except ValueError:
            return {}
    if not isinstance(output, dict):
        return {}
    attributes: dict[str, AttributeValue] = {}
    recalled, ops = output.get("recalled"), output.get("ops")
    if isinstance(recalled, list):
        attributes.update(_recall(recalled))
        if set(output) - {"recent_vectors"} == {"recalled"}:  # retrieve's scratch vectors
            attributes.update(_documents(recalled))
            attributes[SpanAttributes.OPENINFERENCE_SPAN_KIND] = (
                OpenInferenceSpanKindValues.RETRIEVER.value
            )
    if isinstance(ops, list):
        attributes.update(_ops(ops))
    if isinstance(output.get("candidates"), list):
        attributes[MEMORY_CANDIDATES] = len(output["candidates"])
    return attributes


def with_memory_attributes(span: ReadableSpan) -> ReadableSpan:
    """`span`, plus the memory attributes its output carries (the same span if none)."""
    attributes = span.attributes or {}
    extra = memory_attributes(attributes.get(SpanAttributes.OUTPUT_VALUE))
    if not extra:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**attributes, **extra},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class MemoryAttributesExporter(SpanExporter):
    """A `SpanExporter` that adds memory attributes, then hands the spans to `inner`."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export `spans` with their memory attributes."""
        return self.inner.export([with_memory_attributes(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the wrapped exporter."""
        return bool(self.inner.force_flush(timeout_millis))
