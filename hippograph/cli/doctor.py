"""`hippograph doctor`: the config, model and store this process would use, and if they work."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from hippograph.cli._common import StoreOption, UserOption, console, load_settings
from hippograph.config import Settings


def _model_status(spec: str | None, base_url: str | None, ping: bool) -> tuple[bool, str]:
    from hippograph.nodes.models import MODEL_HELP, ModelUnavailableError, resolve_chat_model

    if spec is None:
        return True, f"offline (no model). {MODEL_HELP}"
    try:
        model = resolve_chat_model(spec, base_url=base_url)
    except ModelUnavailableError as exc:
        return False, str(exc)
    if not ping:
        return True, f"{spec}: provider loads (use --ping to call it)"
    assert model is not None
    try:
        reply = model.invoke("Reply with the single word: ok")
    except Exception as exc:
        return False, f"{spec}: unreachable: {exc!r}"
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


def _store_status(settings: Settings) -> tuple[bool, list[tuple[str, str]]]:
    from hippograph.backends import backend_name, open_store
    from hippograph.store import memory_namespace
    from hippograph.store.extras import ExtendedStore

    rows: list[tuple[str, str]] = []
    try:
        with open_store(settings=settings) as store:
            rows.append(("backend", f"{backend_name(store)} ({type(store).__name__})"))
            users = store.list_namespaces(prefix=("memories",), max_depth=2, limit=10_000)
            rows.append(("users with memories", str(len(users))))
            if isinstance(store, ExtendedStore):
                rows.append(("memories (all users)", str(store.count(("memories",)))))
                mine = store.count(memory_namespace(settings.user_id))
                rows.append((f"memories of {settings.user_id}", str(mine)))
            rows += _extras(store)
    except Exception as exc:
        return False, [("store error", repr(exc))]
    return True, rows


def doctor(
    user: str | None = UserOption,
    store: str | None = StoreOption,
    ping: bool = typer.Option(False, "--ping", help="Send one short prompt to the model."),
) -> None:
    """Print the configuration, check the model and the store, count memories, list extras."""
    settings = load_settings(user=user, store=store)
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
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
    table.add_row(
        "model check", ("[green]ok[/] " if model_ok else "[red]failed[/] ") + escape(model_text)
    )
    store_ok, store_rows = _store_status(settings)
    for name, value in store_rows:
        table.add_row(name, ("" if store_ok else "[red]") + escape(value))
    console.print(table)
    if not (model_ok and store_ok):
        raise typer.Exit(1)
