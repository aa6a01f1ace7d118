"""Agent replicas in their own OS processes, for tests of storage shared between processes.

Core pieces:
    - `ChatProcess`: `hippograph chat` as a subprocess with piped stdin; `turn(text)` says a
      line and returns what the CLI printed for that turn.
    - `AgentProcess`: `open_agent(store_url=...)` in a `spawn`ed process; `turn(...)` runs one
      agent turn for any user and returns its `recalled` and `ops` state.

Both fail with the process's output (or traceback) instead of hanging when it stops early.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import subprocess
import sys
import threading
import time
import traceback
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

TIMEOUT = 180.0
"""Seconds a replica may take to start or to answer (cold imports on a busy 2-core box)."""

TURN_END = re.compile(r"^\s+(memory: no change|\+ ADDED|~ UPDATED|- DELETED|= NOOP)")
"""The line `hippograph chat` prints last for an offline turn (one operation at most)."""


class _Replica:
    """A process used as a context manager: `stop()` on exit (`failed`: the block raised)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(failed=exc_type is not None)

    def stop(self, *, failed: bool) -> None:
        """End the process."""
        raise NotImplementedError


class ChatProcess(_Replica):
    """`hippograph chat <args>` in a subprocess, fed line by line through stdin."""

    def __init__(self, args: list[str], *, cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from hippograph.cli import main; main()", "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=env,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: re.Pattern[str] | str) -> list[str]:
        """Lines printed up to and including the first one matching `pattern`."""
        deadline = time.monotonic() + TIMEOUT
        seen: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise AssertionError(self._report(f"no {pattern!r} within {TIMEOUT}s")) from None
            if line is None:
                raise AssertionError(self._report(f"chat exited ({self.proc.wait()})"))
            self.output.append(line)
            seen.append(line)
            if re.search(pattern, line):
                return seen

    def turn(self, text: str) -> str:
        """Say `text`; the turn's output (answer, recalled memories, memory operation)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return "".join(self.wait_for(TURN_END))

    def _report(self, problem: str) -> str:
        return f"{problem}; output so far:\n{''.join(self.output)}"

    def stop(self, *, failed: bool) -> None:
        """Close stdin (the REPL ends and closes its storage) and check the exit code."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        if not failed and self.proc.returncode != 0:
            raise AssertionError(self._report(f"chat exited with {self.proc.returncode}"))


def _serve(store_url: str, conn: Connection) -> None:
    """The replica's main loop: build the agent, then answer `(user, thread, text)` turns."""
    try:
        from hippograph.graph import open_agent

        with open_agent(store_url=store_url) as agent:
            conn.send(("ready", type(agent.store).__name__, type(agent.checkpointer).__name__))
            while (request := conn.recv()) is not None:
                user, thread, text = request
                out = agent.invoke(
                    {"messages": [{"role": "user", "content": text}]},
                    config={"configurable": {"thread_id": thread}},
                    context={"user_id": user, "store_questions": False},
                )
                conn.send(("ok", {"recalled": out["recalled"], "ops": out["ops"]}))
    except BaseException:
        conn.send(("error", traceback.format_exc()))


class AgentProcess(_Replica):
    """An agent built with `open_agent(store_url=...)` in a freshly spawned interpreter."""

    def __init__(self, store_url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.proc = context.Process(target=_serve, args=(store_url, child), daemon=True)
        self.proc.start()
        child.close()

    def _receive(self) -> Any:
        if not self._conn.poll(TIMEOUT):
            raise AssertionError(f"the agent process did not answer within {TIMEOUT}s")
        status, *payload = self._conn.recv()
        if status == "error":
            raise AssertionError(f"the agent process failed:\n{payload[0]}")
        return payload

    def ready(self) -> tuple[str, str]:
        """Wait until the agent is built; the class names of its store and checkpointer."""
        store, checkpointer = self._receive()
        return store, checkpointer

    def turn(self, user: str, thread: str, text: str) -> dict[str, Any]:
        """One agent turn; `{"recalled": [...], "ops": [...]}` from the returned state."""
        self._conn.send((user, thread, text))
        (state,) = self._receive()
        return dict(state)

    def stop(self, *, failed: bool) -> None:
        """Ask the replica to finish; kill it if it does not."""
        with suppress(OSError):  # a replica that failed has closed its end already
            self._conn.send(None)
        self.proc.join(TIMEOUT)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self._conn.close()
