"""Make `hippograph.store`, `hippograph.graph`, … importable from a source checkout.

The design card keeps `graph/`, `nodes/`, `prompts/` and `store/` at the top level of the
repository; an installed wheel maps them under `hippograph/` (setuptools `package-dir`).
When Python imports `hippograph` straight from a checkout (the repository root is the
working directory, so `./hippograph` shadows the installed copy), the subpackages sit
beside the package rather than inside it. Adding the repository root to the package's
search path makes both layouts resolve to the same modules.
"""

from __future__ import annotations

from pathlib import Path

SUBPACKAGES = ("graph", "nodes", "prompts", "store")


def source_root(package_dir: Path) -> Path | None:
    """Return the repository root if `package_dir` lives in a hippograph checkout."""
    root = package_dir.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or not (root / "store" / "__init__.py").is_file():
        return None
    try:
        head = pyproject.read_text(encoding="utf-8")[:4096]
    except OSError:
        return None
    return root if 'name = "hippograph"' in head else None
