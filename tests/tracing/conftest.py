"""Tracing fixtures: a real Arize Phoenix server on loopback, and helpers to read it back.

`phoenix` starts `phoenix serve` (the `tracing-server` extra, part of `dev`) once per test
session on free ports with its own working directory, waits until it answers, and stops
it at the end. It takes ~25 s to start on a 2-core machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port, stop_group, wait_for

PHOENIX = shutil.which("phoenix", path=str(Path(sys.executable).parent)) or shutil.which("phoenix")
HIPPOGRAPH = str(Path(sys.executable).with_name("hippograph"))
PROJECT = "hippograph-tests"


def run_hippograph(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `hippograph` executable, as a user runs it; fails the test on a non-zero exit."""
    done = subprocess.run(
        [HIPPOGRAPH, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any tracing or hippograph setting, plus `overrides`."""
    prefixes = ("HIPPOGRAPH_", "OTEL_", "LANGSMITH_", "LANGCHAIN_", "OPENINFERENCE_", "PHOENIX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(overrides)
    return env


@dataclass
class Phoenix:
    """A running Phoenix: its base URL (UI, REST API and OTLP/HTTP at `/v1/traces`)."""

    url: str

    def client(self) -> Any:
        """Phoenix's own Python client on this server."""
        from phoenix.client import Client

        return Client(base_url=self.url)

    def spans(self, project: str = PROJECT) -> list[dict[str, Any]]:
        """Every span of `project`, read through Phoenix's REST API (its client)."""
        return list(self.client().spans.get_spans(project_identifier=project, limit=100_000))

    def wait_for_spans(
        self, condition: Callable[[list[dict[str, Any]]], bool], what: str, project: str = PROJECT
    ) -> list[dict[str, Any]]:
        """The project's spans once `condition` holds for them (Phoenix ingests async)."""
        return wait_for(
            lambda: (spans := self.spans(project)) and condition(spans) and spans,
            timeout=60,
            what=what,
        )


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """`phoenix serve` on 127.0.0.1, fresh working directory, stopped at the end."""
    assert PHOENIX, "phoenix is not installed: pip install -e '.[dev]' (extra tracing-server)"
    work = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = clean_env(
        PHOENIX_WORKING_DIR=str(work),
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(free_port()),
        PHOENIX_TELEMETRY_ENABLED="false",
    )
    log = (work / "phoenix.log").open("wb")
    process = subprocess.Popen(
        [PHOENIX, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: (
                process.poll() is None
                and urllib.request.urlopen(f"{url}/healthz", timeout=2).status == 200
            ),
            timeout=180,
            what=f"Phoenix to start (log: {work / 'phoenix.log'})",
        )
        yield Phoenix(url)
    finally:
        stop_group(process, grace_s=20)
        log.close()
