"""Configuration from `HIPPOGRAPH_*` environment variables, as one frozen dataclass.

Core pieces:
    - `Settings`: what model, embedder and storage a process uses; `Settings.from_env()`.
    - `DEFAULT_OPENAI_MODEL`: the model picked when only `OPENAI_API_KEY` is set.

Variables (DESIGN §6):
    HIPPOGRAPH_MODEL       `provider:model` for `init_chat_model`; unset = no LLM (offline).
    HIPPOGRAPH_BASE_URL    OpenAI-compatible server (vLLM, llama.cpp, LM Studio…); with it,
                           HIPPOGRAPH_MODEL may be a bare model name.
    HIPPOGRAPH_EMBEDDINGS  `local` (default, offline all-MiniLM-L6-v2) or `provider:model`.
    HIPPOGRAPH_DB          SQLite file of the memory store (default: the user data dir).
    HIPPOGRAPH_STORE_URL   `postgresql://…` to scale out (overrides HIPPOGRAPH_DB).
    HIPPOGRAPH_USER        Default user id for the CLI and UI (default: the OS user name).
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import platformdirs

DEFAULT_OPENAI_MODEL = "openai:gpt-4o-mini"
"""Used when `OPENAI_API_KEY` is set and `HIPPOGRAPH_MODEL` is not."""

ENV_PREFIX = "HIPPOGRAPH_"

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
"""URL prefixes that select the PostgreSQL backend."""

SQLITE_SCHEME = "sqlite:///"
"""`sqlite:///path` names a SQLite file explicitly (`sqlite:////abs/path` for an absolute one)."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")


class StoreTargetError(ValueError):
    """A store location that is neither a SQLite path nor a supported URL. The message
    names the scheme only, never the rest of the URL (it may hold a password)."""


def check_store_target(target: str) -> str:
    """`target` unchanged if it names a store hippograph can open, else `StoreTargetError`.

    Accepted: a file path, `":memory:"`, `sqlite:///path`, `postgresql://…` / `postgres://…`.
    """
    if target.startswith((*POSTGRES_SCHEMES, SQLITE_SCHEME)):
        return target
    match = _SCHEME.match(target)
    if match and len(match.group(1)) > 1:  # "C:/…" is a Windows path, not a scheme
        raise StoreTargetError(
            f"unsupported store URL scheme {match.group(1)!r}: use a SQLite file path, "
            f"{SQLITE_SCHEME}path or postgresql://user:password@host/database"
        )
    if not target.strip():
        raise StoreTargetError("the store location is empty: give a SQLite file path or URL")
    return target


def mask_url(url: str) -> str:
    """`url` safe to print: a password (in the user part or `?password=`) becomes `***`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password:
            userinfo, _, host = netloc.rpartition("@")
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
        query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)]
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*/")))
    except ValueError:  # not even parseable: show the scheme only
        return url.split("://", 1)[0] + "://***"


def default_data_dir() -> Path:
    """Where hippograph keeps its files when no path is configured."""
    return Path(platformdirs.user_data_dir("hippograph", appauthor=False))


def _default_user() -> str:
    try:
        return getpass.getuser() or "default"
    except (KeyError, OSError):
        return "default"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a hippograph process needs to know about its model and storage.

    Attributes:
        model: `provider:model` chat model spec, or `None` for the offline mode (no LLM).
        base_url: Base URL of an OpenAI-compatible server, or `None`.
        embeddings: `"local"` or a `provider:model` embeddings spec.
        db_path: SQLite file of the memory store (used unless `store_url` is set).
        store_url: `postgresql://…` URL, or `None` for the embedded SQLite store.
        user_id: Default user for the CLI and UI.
    """

    model: str | None = None
    base_url: str | None = None
    embeddings: str = "local"
    db_path: Path = default_data_dir() / "memories.db"
    store_url: str | None = None
    user_id: str = "default"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read `HIPPOGRAPH_*` variables (and `OPENAI_API_KEY` for the default model)."""
        env = os.environ if env is None else env
        model = _clean(env.get(f"{ENV_PREFIX}MODEL"))
        if model is None and _clean(env.get("OPENAI_API_KEY")):
            model = DEFAULT_OPENAI_MODEL
        db = _clean(env.get(f"{ENV_PREFIX}DB"))
        return cls(
            model=model,
            base_url=_clean(env.get(f"{ENV_PREFIX}BASE_URL")),
            embeddings=_clean(env.get(f"{ENV_PREFIX}EMBEDDINGS")) or "local",
            db_path=Path(db).expanduser() if db else default_data_dir() / "memories.db",
            store_url=_clean(env.get(f"{ENV_PREFIX}STORE_URL")),
            user_id=_clean(env.get(f"{ENV_PREFIX}USER")) or _default_user(),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given fields replaced (`None` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @property
    def offline(self) -> bool:
        """True when no chat model is configured."""
        return self.model is None

    @property
    def uses_postgres(self) -> bool:
        """True when the store is PostgreSQL rather than the embedded SQLite file."""
        return self.store_url is not None and self.store_url.startswith(POSTGRES_SCHEMES)

    def with_store(self, target: str | Path | None) -> Settings:
        """A copy whose memory store is `target` (`None`: unchanged).

        A `postgresql://` URL sets `store_url`; a file path or `sqlite:///path` sets
        `db_path` and clears `store_url`, so an explicit path beats `HIPPOGRAPH_STORE_URL`.

        Raises:
            StoreTargetError: another URL scheme (e.g. `mysql://`), or an empty string.
        """
        if target is None:
            return self
        text = check_store_target(str(target).strip())
        if text.startswith(POSTGRES_SCHEMES):
            return replace(self, store_url=text)
        return replace(
            self, store_url=None, db_path=Path(text.removeprefix(SQLITE_SCHEME)).expanduser()
        )

    @property
    def db_is_default(self) -> bool:
        """True when the SQLite store is the default one (no path or URL configured)."""
        return self.store_url is None and self.db_path == default_data_dir() / "memories.db"

    @property
    def checkpoint_path(self) -> Path:
        """SQLite file of the short-term (per-thread) checkpoints, beside the memory store."""
        return self.db_path.with_name(
            f"{self.db_path.stem}-checkpoints{self.db_path.suffix or '.db'}"
        )

    @property
    def store_target(self) -> str:
        """The store location as one string: the Postgres URL or the SQLite path."""
        return self.store_url if self.store_url else str(self.db_path)

    @property
    def store_label(self) -> str:
        """`store_target` safe to print: a password in the URL is masked as `***`."""
        target = self.store_target
        return mask_url(target) if "://" in target else target


# --- Tracing (issue 19) -------------------------------------------------------------------

TRACING_MODES = ("off", "otlp")
"""Values of `HIPPOGRAPH_TRACING`: no tracing, or OpenTelemetry over OTLP."""

TRACING_USER_MODES = ("hash", "plain", "off")
"""Values of `HIPPOGRAPH_TRACING_USER`: how the user id appears on spans."""


class TracingConfigError(ValueError):
    """A `HIPPOGRAPH_TRACING*` variable has a value hippograph does not know."""


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (_clean(env.get(f"{ENV_PREFIX}{name}")) or default).lower()
    if value in ("none", "false", "0", ""):
        value = "off"
    if value not in allowed:
        raise TracingConfigError(
            f"{ENV_PREFIX}{name} must be one of {', '.join(allowed)}, got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True, repr=False)
class TracingSettings:
    """How a process traces its agent runs and evaluations (`HIPPOGRAPH_TRACING*`).

    Variables:
        HIPPOGRAPH_TRACING       `otlp`: OpenTelemetry spans to the standard
                                 `OTEL_EXPORTER_OTLP_ENDPOINT`; `off` (default).
        HIPPOGRAPH_TRACING_USER  `hash` (default): spans carry a keyed hash of the user id;
                                 `plain`: the id itself; `off`: no user attribute.
        HIPPOGRAPH_TRACING_SALT  The key of that hash. Set the same secret on every process
                                 to find one user's traces across them; unset, each process
                                 draws a random key (traces of one user correlate only
                                 within a process).

    Attributes:
        mode: `"off"` or `"otlp"`.
        user: `"hash"`, `"plain"` or `"off"`.
        salt: The hash key, or `None` for a random one per process (never printed).
    """

    mode: str = "off"
    user: str = "hash"
    salt: str | None = None

    def __repr__(self) -> str:
        salt = "None" if self.salt is None else "'***'"
        return f"TracingSettings(mode={self.mode!r}, user={self.user!r}, salt={salt})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TracingSettings:
        """Read the `HIPPOGRAPH_TRACING*` variables; `TracingConfigError` on a bad value."""
        env = os.environ if env is None else env
        return cls(
            mode=_choice(env, "TRACING", TRACING_MODES, "off"),
            user=_choice(env, "TRACING_USER", TRACING_USER_MODES, "hash"),
            salt=_clean(env.get(f"{ENV_PREFIX}TRACING_SALT")),
        )

    @property
    def enabled(self) -> bool:
        """True when spans are exported."""
        return self.mode != "off"
