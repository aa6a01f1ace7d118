"""`hippograph mcp`: serve one user's memories to MCP clients (stdio or streamable HTTP).

Over stdio (the default, what Claude Desktop and most clients start) stdout carries the
protocol only: everything the command says goes to stderr. Over HTTP it listens on a
loopback address only, since the server has no authentication.
"""

from __future__ import annotations

import contextlib
import socket
from enum import StrEnum

import typer

from hippograph.cli._common import StoreOption, UserOption, errors, fail, load_settings
from hippograph.cli.errors import ExitCode
from hippograph.extras import require_extra


class Transport(StrEnum):
    """How MCP clients reach the server."""

    stdio = "stdio"
    http = "http"


def _check_address(host: str, port: int) -> None:
    """Refuse a non-loopback host (exit 2) or a port already taken (exit 1), before any
    store is opened."""
    from hippograph.mcp_server import LOOPBACK_HOSTS

    if host not in LOOPBACK_HOSTS:
        raise fail(
            f"--host {host} is not a loopback address: the MCP server has no authentication, "
            f"so it only listens on this machine ({', '.join(LOOPBACK_HOSTS)})",
            ExitCode.USAGE,
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise fail(
                f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port",
                ExitCode.FAILED,
            ) from exc


TransportOption = typer.Option(
    Transport.stdio,
    "--transport",
    "-t",
    help="stdio (a client starts the command) or http (streamable HTTP on --host:--port).",
)


def mcp(
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    transport: Transport = TransportOption,
    host: str = typer.Option("127.0.0.1", "--host", help="HTTP: loopback address to listen on."),
    port: int = typer.Option(8765, "--port", "-p", min=1, max=65535, help="HTTP: port."),
    path: str = typer.Option("/mcp", "--path", help="HTTP: the endpoint's path."),
) -> None:
    """Serve the user's memories to MCP clients: search, list, add, update, delete."""
    settings = load_settings(user=user, store=store)
    require_extra("mcp", "hippograph mcp")
    if transport is Transport.http:
        _check_address(host, port)  # before the store is opened
    from hippograph.backends import open_store
    from hippograph.mcp_server import build_mcp_server, serve

    with open_store(settings=settings) as opened:
        server = build_mcp_server(opened, settings.user_id)
        if transport is Transport.http:
            errors.print(
                f"serving {settings.user_id!r}'s memories over MCP at http://{host}:{port}{path} "
                "(Ctrl-C stops)"
            )
        with contextlib.suppress(KeyboardInterrupt):
            serve(server, transport=transport.value, host=host, port=port, path=path)
