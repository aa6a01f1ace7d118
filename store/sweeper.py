"""A daemon thread that calls a function at a fixed interval (the TTL sweeper)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Sweeper:
    """Runs `sweep()` every `interval` seconds until stopped; failures are logged, not fatal.

    The LangGraph server skips its own TTL sweeper for custom stores, so the store sweeps
    itself.
    """

    def __init__(self, sweep: Callable[[], int], interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"sweep interval must be positive, got {interval}")
        self._sweep = sweep
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (no-op if it is running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hippograph-ttl", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                swept = self._sweep()
            except Exception:
                logger.exception("TTL sweep failed; retrying in %.0fs", self.interval)
                continue
            if swept:
                logger.info("TTL sweep removed %d expired items", swept)

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to stop and wait up to `timeout`; `True` once it has stopped."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if stopped:
            self._thread = None
        return stopped
