"""`hippograph doctor`: the config, model and store this process would use, and if they work.

Every check is one row; a failure is one line saying what is wrong and what to do, and sets
the exit code (`hippograph.cli.errors.ExitCode`). How to configure a model is said once,
below the table, when no model is set or it failed. Doctor never creates a store.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from hippograph.cli._common import StoreOption, UserOption, console, load_settings
from hippograph.cli.errors import ExitCode, translate
from hippograph.config import Settings


def _one_line(exc: BaseException) -> str:
    """A failure as one line: our own message, or the exception's type and first line."""
    known = translate(exc)
    if known is not None:
        return known.message
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _model_status(spec: str | None, base_url: str | None, ping: bool) -> tuple[bool, str]:
    from hippograph.memory.chat_models import ModelUnavailableError, resolve_chat_model

    if spec is None:
        return True, "offline: no model configured (memories are stored verbatim)"
    if spec == "local":
        from hippograph.local_model import LocalModelUnavailableError, local_model_status

        ok, status = local_model_status()
        if not (ok and ping):
            return ok, status
        from hippograph.cli.local_progress import start_local_model

        try:
            start_local_model()
        except LocalModelUnavailableError as exc:
            return False, _one_line(exc)
    try:
        model = resolve_chat_model(spec, base_url=base_url)
    except ModelUnavailableError as exc:
        return False, _one_line(exc)
    if not ping:
        return True, f"{spec}: provider loads (use --ping to call it)"
    assert model is not None
    try:
        reply = model.invoke("Reply with the single word: ok")
    except Exception as exc:
        return False, f"{spec}: unreachable: {_one_line(exc)}"
    return True, f"{spec}: answered {reply.text[:40]!r}"


def _extras(store: Any) -> list[tuple[str, str]]:
    """One row per hippograph extra: available, or why not and what to do instead."""
    from hippograph.backends import FEATURES, FeatureUnavailableError, require

    rows = []
    for feature in FEATURES:
        try:
            require(store, feature)
        except FeatureUnavailableError as exc:
            rows.append((feature.replace("_", " "), f"no: {exc}"))
        else:
            rows.append((feature.replace("_", " "), "yes"))
    return rows


def _store_status(settings: Settings) -> tuple[ExitCode, list[tuple[str, str]]]:
    """Rows describing the store, and `ExitCode.OK` or why it failed."""
    from hippograph.backends import StoreNotFoundError, backend_name, open_store
    from hippograph.store import memory_namespace
    from hippograph.store.extras import ExtendedStore

    rows: list[tuple[str, str]] = []
    try:
        with open_store(settings=settings, create=False) as store:
            rows.append(("backend", f"{backend_name(store)} ({type(store).__name__})"))
            users = store.list_namespaces(prefix=("memories",), max_depth=2, limit=10_000)
            rows.append(("users with memories", str(len(users))))
            if isinstance(store, ExtendedStore):
                rows.append(("memories (all users)", str(store.count(("memories",)))))
                mine = store.count(memory_namespace(settings.user_id))
                rows.append((f"memories of {settings.user_id}", str(mine)))
            rows += _extras(store)
    except StoreNotFoundError as exc:
        if settings.db_is_default:
            return ExitCode.OK, [("store check", "not created yet: the first write creates it")]
        return ExitCode.NOT_FOUND, [("store error", _one_line(exc))]
    except Exception as exc:
        known = translate(exc)
        code = ExitCode(known.exit_code) if known else ExitCode.STORE_UNAVAILABLE
        return code, [("store error", _one_line(exc))]
    return ExitCode.OK, rows


def doctor(
    user: str | None = UserOption,
    store: str | None = StoreOption,
    ping: bool = typer.Option(False, "--ping", help="Send one short prompt to the model."),
) -> None:
    """Print the configuration, check the model and the store, count memories, list extras."""
    from hippograph.memory.chat_models import MODEL_HELP

    settings = load_settings(user=user, store=store)
    table = Table(show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("model", escape(settings.model or "(none: offline)"))
    table.add_row("base url", escape(settings.base_url or "(none)"))
    table.add_row("embeddings", escape(settings.embeddings))
    table.add_row("store", escape(settings.store_label))
    checkpoints = (
        "PostgresSaver, in the store's database"
        if settings.uses_postgres
        else str(settings.checkpoint_path)
    )
    table.add_row("checkpoints", escape(checkpoints))
    table.add_row("user", escape(settings.user_id))
    model_ok, model_text = _model_status(settings.model, settings.base_url, ping)
    model_text = model_text.replace(MODEL_HELP, "").strip()  # said once, below the table
    table.add_row(
        "model check", ("[green]ok[/] " if model_ok else "[red]failed[/] ") + escape(model_text)
    )
    store_code, store_rows = _store_status(settings)
    for name, value in store_rows:
        table.add_row(name, ("" if store_code == ExitCode.OK else "[red]") + escape(value))
    console.print(table)
    if settings.offline or not model_ok:
        console.print(f"[dim]hint: {escape(MODEL_HELP)}[/]")
    if store_code != ExitCode.OK:
        raise typer.Exit(store_code)
    if not model_ok:
        raise typer.Exit(ExitCode.MODEL_UNAVAILABLE)
