"""Type-check what `[tool.mypy] files` in pyproject.toml names (the package, benchmarks, …).

`graph/`, `nodes/`, `prompts/` and `store/` are subpackages of `hippograph` through committed
symlinks, so mypy follows the real package from the repository root: no staging needed.
Kept as a script so CI and colleagues call one stable command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Run mypy with the repository's configuration; return its exit code."""
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    return subprocess.run([*command, *sys.argv[1:]], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
