"""Turning tracing on and off: one process-wide setup, idempotent and explicit.

Core pieces:
    - `setup_tracing(settings=None)`: start exporting spans when `HIPPOGRAPH_TRACING=otlp`
      (or the given settings) asks for it; returns the active `Tracing`, or `None` when off.
    - `Tracing`: what is running — the tracer provider, the instrumentation — with
      `flush()` and `shutdown()` (also run at interpreter exit).
    - `user_pseudonym(user_id)`: the `user.id` a span carries for a user.

OpenTelemetry is an optional dependency (the `tracing` extra): nothing here imports it until
tracing is actually switched on, and a missing extra is a `TracingUnavailableError` that
says what to install.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hippograph.config import TracingSettings

if TYPE_CHECKING:
    from openinference.instrumentation import OITracer
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

INSTALL_HINT = "pip install 'hippograph[tracing]'"


class TracingUnavailableError(RuntimeError):
    """Tracing was asked for but its packages (the `tracing` extra) are not installed."""


@functools.cache
def _process_key() -> bytes:
    """The hash key of a process without `HIPPOGRAPH_TRACING_SALT`: random, drawn once."""
    return secrets.token_bytes(32)


def _pseudonym_function(settings: TracingSettings) -> Callable[[str], str | None]:
    """How user ids appear on spans: keyed hash (default), as is, or not at all."""
    if settings.user == "off":
        return lambda _user: None
    if settings.user == "plain":
        return lambda user: user
    key = settings.salt.encode() if settings.salt else _process_key()

    def pseudonym(user: str) -> str:
        digest = hmac.new(key, user.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return f"u-{digest.hexdigest()[:16]}"

    return pseudonym


@dataclass(slots=True)
class Tracing:
    """The process's active tracing: where spans go and what is instrumented.

    Attributes:
        settings: The `HIPPOGRAPH_TRACING*` settings it was started with.
        provider: The OpenTelemetry `TracerProvider` hippograph's spans are created by.
        tracer: OpenInference's tracer over that provider (honours `OPENINFERENCE_HIDE_*`).
        pseudonym: Maps a user id to what spans carry as `user.id` (`None`: nothing).
    """

    settings: TracingSettings
    provider: TracerProvider
    tracer: OITracer
    pseudonym: Callable[[str], str | None]
    _undo: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every finished span now; False if the exporter did not finish in time."""
        return bool(self.provider.force_flush(timeout_millis))

    def shutdown(self) -> None:
        """Flush, stop exporting and remove the instrumentation (idempotent)."""
        with _LOCK:
            if _ACTIVE.get("tracing") is not self:
                return
            del _ACTIVE["tracing"]
            undo, self._undo = self._undo, []
        atexit.unregister(self.shutdown)
        for step in reversed(undo):
            step()
        self.provider.shutdown()


_ACTIVE: dict[str, Tracing] = {}
"""The process's one active setup, under `"tracing"` (absent: tracing is off)."""
_LOCK = threading.Lock()


def active_tracing() -> Tracing | None:
    """The tracing `setup_tracing` started in this process, if any."""
    return _ACTIVE.get("tracing")


def setup_tracing(
    settings: TracingSettings | None = None, *, exporter: SpanExporter | None = None
) -> Tracing | None:
    """Start tracing this process if `settings` (default: the environment) ask for it.

    With `HIPPOGRAPH_TRACING=otlp`, spans go over OTLP/HTTP to the endpoint the standard
    OpenTelemetry variables name (`OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT`,
    `..._HEADERS`; `OTEL_SERVICE_NAME` names the service and the Phoenix project, default
    `hippograph`). Every LangGraph / LangChain run of the process is traced from then on.
    Calling it again returns the running setup.

    Args:
        settings: Tracing settings (default: `TracingSettings.from_env()`).
        exporter: Send spans here instead of OTLP (tests, other backends); tracing starts
            even when the settings say off.

    Returns:
        The active `Tracing`, or `None` when tracing is off.

    Raises:
        TracingUnavailableError: The `tracing` extra is not installed.
        TracingConfigError: A `HIPPOGRAPH_TRACING*` variable has an unknown value.

    Example:
        ```python
        from hippograph.tracing import setup_tracing

        setup_tracing()  # HIPPOGRAPH_TRACING=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006
        agent.invoke(...)  # one trace: hippograph → retrieve → respond → extract → reconcile
        ```
    """
    settings = settings or TracingSettings.from_env()
    if not settings.enabled and exporter is None:
        return None
    with _LOCK:
        if "tracing" in _ACTIVE:
            return _ACTIVE["tracing"]
        pseudonym = _pseudonym_function(settings)
        try:
            from hippograph.tracing import pipeline

            provider, tracer, undo = pipeline.start(exporter, pseudonym)
        except ImportError as exc:
            raise TracingUnavailableError(
                f"tracing needs the package that provides {exc.name!r}: {INSTALL_HINT}"
            ) from exc
        tracing = _ACTIVE["tracing"] = Tracing(settings, provider, tracer, pseudonym, undo)
        atexit.register(tracing.shutdown)
        return tracing


def user_pseudonym(user_id: str, settings: TracingSettings | None = None) -> str | None:
    """What spans carry as `user.id` for `user_id` in this process (`None`: nothing).

    With the default `HIPPOGRAPH_TRACING_USER=hash`, this is `u-` + the first 16 hex digits
    of HMAC-SHA256(`HIPPOGRAPH_TRACING_SALT`, user id): stable across processes that share
    the salt, unlinkable to the id without it. Without a salt the key is random, drawn once
    per process, so the value matches only the spans of this process.
    """
    tracing = active_tracing()
    if tracing is not None and settings is None:
        return tracing.pseudonym(user_id)
    return _pseudonym_function(settings or TracingSettings.from_env())(user_id)
