"""Optional extras: which `pip install 'hippograph[...]'` a feature needs, checked up front.

Core pieces:
    - `EXTRAS`: each extra and the modules that show it is installed.
    - `require_extra(extra, feature)`: raise `MissingExtraError` naming the install command
      when a module of `extra` is missing, before any work starts.
    - `MissingExtraError`: an `ImportError` whose message is one line: what needs what, and
      the command that installs it.

Core (agent, store, CLI) needs no extra; `ui`, `eval`, `bench`, `postgres`, `local` and `mcp` do.
"""

from __future__ import annotations

from importlib.util import find_spec

EXTRAS: dict[str, tuple[str, ...]] = {
    "ui": ("streamlit", "altair"),
    "eval": ("matplotlib", "rank_bm25", "tqdm", "langsmith"),
    "bench": ("matplotlib",),
    "postgres": ("psycopg", "psycopg_pool", "langgraph.store.postgres"),
    "local": ("xllamacpp",),
    "mcp": ("mcp",),
}
"""Extra name → importable modules it provides (see `[project.optional-dependencies]`)."""


class MissingExtraError(ImportError):
    """A feature needs an optional extra that is not installed; the message says which."""


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (empty: it is installed)."""
    return [module for module in EXTRAS[extra] if not _installed(module)]


def require_extra(extra: str, feature: str) -> None:
    """Raise `MissingExtraError` unless every module of `extra` is importable.

    Args:
        extra: A key of `EXTRAS`, e.g. `"ui"`.
        feature: What the user asked for, for the message (e.g. `"hippograph ui"`).

    Example:
        ```python
        require_extra("postgres", "a postgresql:// store")
        # MissingExtraError: a postgresql:// store needs the postgres extra (psycopg is not
        # installed): pip install 'hippograph[postgres]'
        ```
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install 'hippograph[{extra}]'"
        )
