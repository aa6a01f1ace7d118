"""Run LangGraph's own store test suites against `FaissSqliteStore` (a CI step).

Usage: `python tests/upstream/run.py [pytest args...]`

For each suite in `SUITES`, downloads the sdist of the *installed* version of that LangGraph
distribution from the package registry (`pip download`, cached in `build/upstream/`),
extracts its `tests/` folder beside it, and runs the listed test modules in a pytest process
of their own, with `langgraph_adapter` pointing them at our store. Nothing of the upstream
code is committed here. Exits non-zero when any suite fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "upstream"
SUITES: dict[str, list[str]] = {
    "langgraph-checkpoint-sqlite": [
        "tests/test_store.py",
        "tests/test_async_store.py",
        "tests/test_ttl.py",
    ],
    "langgraph-checkpoint": ["tests/test_store.py"],
}
"""Distribution → its test modules that exercise a store (SqliteStore, InMemoryStore)."""


def sdist(distribution: str, release: str) -> Path:
    """The sdist of `distribution==release`, downloaded once into the cache."""
    stem = f"{distribution.replace('-', '_')}-{release}"
    cached = CACHE / "sdists" / f"{stem}.tar.gz"
    if not cached.exists():
        print(f"== downloading the {distribution} {release} sdist", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(cached.parent),
                f"{distribution}=={release}",
            ],
            check=True,
        )
    if not cached.exists():
        raise SystemExit(f"pip did not leave {cached.name} in {cached.parent}")
    return cached


def extract_tests(archive: Path, into: Path) -> Path:
    """Unpack the sdist's `tests/` and `pyproject.toml` (its pytest settings) into `into`."""
    if (into / "tests").is_dir():
        return into
    with tarfile.open(archive) as tar:
        members = [
            member
            for member in tar.getmembers()
            if member.isfile()
            and (
                member.name.split("/", 1)[-1].startswith("tests/")
                or member.name.split("/", 1)[-1] == "pyproject.toml"
            )
        ]
        for member in members:
            member.name = member.name.split("/", 1)[-1]
        tar.extractall(into, members=members, filter="data")
    return into


def run_suite(distribution: str, modules: list[str], extra: list[str]) -> int:
    """Run one distribution's store tests against our store; returns pytest's exit code."""
    release = version(distribution)
    folder = extract_tests(sdist(distribution, release), CACHE / f"{distribution}-{release}")
    print(f"== LangGraph's {distribution} {release} store tests against FaissSqliteStore")
    env_path = f"{Path(__file__).parent}:{folder}"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "langgraph_adapter",
        "-p",
        "no:cacheprovider",
        "--upstream-suite",
        distribution,
        "--rootdir",
        str(folder),
        "-c",
        str(folder / "pyproject.toml"),
        "-o",
        "addopts=--strict-markers",
        "-q",
        "-rxX",
        *modules,
        *extra,
    ]
    env = dict(os.environ, PYTHONPATH=env_path)
    return subprocess.run(command, cwd=folder, env=env, check=False).returncode


def main(argv: list[str]) -> int:
    """Run every suite; non-zero when any failed."""
    codes = [run_suite(name, modules, argv) for name, modules in SUITES.items()]
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
