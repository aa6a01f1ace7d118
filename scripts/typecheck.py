"""Type-check the package as it installs: `hippograph.{graph,nodes,prompts,store}`.

The top-level folders are mapped into `hippograph` by setuptools, which mypy cannot follow.
This script lays out `build/typecheck/hippograph` as symlinks to the real sources, runs mypy
on it and maps reported paths back to the repository files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("graph", "nodes", "prompts", "store")


def stage() -> Path:
    """Build the symlinked package tree and return its root."""
    out = ROOT / "build" / "typecheck"
    shutil.rmtree(out, ignore_errors=True)
    pkg = out / "hippograph"
    pkg.mkdir(parents=True)
    for entry in (ROOT / "hippograph").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name in SUBPACKAGES:
        (pkg / name).symlink_to(ROOT / name, target_is_directory=True)
    return out


def main() -> int:
    """Run mypy over the staged package, then over tests and benchmarks."""
    staged = stage()
    env = dict(os.environ, MYPYPATH=str(staged))
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "-p",
        "hippograph",
    ]
    proc = subprocess.run(cmd, cwd=staged, env=env, capture_output=True, text=True, check=False)
    text = (proc.stdout + proc.stderr).replace("hippograph/store/", "store/")
    for name in ("graph", "nodes", "prompts"):
        text = text.replace(f"hippograph/{name}/", f"{name}/")
    print(text, end="")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
