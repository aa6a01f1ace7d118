"""A tracing backend that is down must cost a user nothing: no hang, no flood of logs.

Core pieces:
    - `otlp_traces_endpoint()`: the URL the OTLP/HTTP exporter sends to, from the same
      standard variables it reads.
    - `GuardedExporter`: wraps the exporter; before sending, and only until a send has
      worked (or after one failed), checks with a one-second TCP connect that something
      listens at the endpoint. A failure drops that batch, is reported once as a one-line
      warning, and pauses exporting for `pause_s` seconds — so a chat with the backend
      down neither waits for the exporter's retries (~10 s per batch) nor logs each one.

Tracing is best effort: spans are dropped while the backend is unreachable, never queued
without bound and never allowed to fail or slow a turn.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:4318"


def otlp_traces_endpoint() -> str:
    """`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`
    (the OTLP/HTTP default is `http://localhost:4318/v1/traces`)."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
    return base.rstrip("/") + "/v1/traces"


def _listening(endpoint: str, timeout_s: float = 1.0) -> str | None:
    """`None` if a TCP connect to `endpoint` works, else why not."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{parts.hostname}:{port}: {exc.strerror or exc}"


class GuardedExporter(SpanExporter):
    """Exports through `inner` unless the backend is unreachable (see the module doc).

    Args:
        inner: The exporter that sends the spans.
        endpoint: Where `inner` sends them (checked with a TCP connect), or `None` to
            skip that check (an exporter that is not a network client).
        pause_s: Seconds to drop spans after a failed export before trying again.
    """

    def __init__(self, inner: SpanExporter, endpoint: str | None, pause_s: float = 30.0) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self.pause_s = pause_s
        self._verified = False
        self._paused_until = 0.0
        self._warned = False
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send `spans`, or drop them while the backend is known to be unreachable."""
        if time.monotonic() < self._paused_until:
            return SpanExportResult.FAILURE
        if self.endpoint is not None and not self._verified:
            problem = _listening(self.endpoint)
            if problem is not None:
                return self._failed(f"nothing listens at {problem}")
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        if result is not SpanExportResult.SUCCESS:
            return self._failed(f"{self.endpoint or 'the exporter'} did not accept them")
        self._verified = True
        return result

    def _failed(self, why: str) -> SpanExportResult:
        with self._lock:
            self._verified = False
            self._paused_until = time.monotonic() + self.pause_s
            warn, self._warned = not self._warned, True
        if warn:
            logger.warning(
                "tracing: spans dropped (%s); start the tracing backend or fix "
                "OTEL_EXPORTER_OTLP_ENDPOINT (further failures are not reported)",
                why,
            )
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the wrapped exporter."""
        return bool(self.inner.force_flush(timeout_millis))
