"""`hippograph memories profile`: show the user's structured profile (`hippograph.profile`).

Registered on the `memories` app (`hippograph/cli/memories.py`). The profile is kept by an
agent built with `build_agent(profile=...)`; the command shows its fields as stored, with
`--json` for scripts.
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from hippograph.cli._common import StoreOption, UserOption, console, open_manager


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value in (None, "") else str(value)


def show_profile(
    user: str | None = UserOption,
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
) -> None:
    """Show the user's profile (kept by an agent built with a profile schema)."""
    with open_manager(user=user, store=store, create=False) as manager:
        profile = manager.profile()
        who = manager.user_id
    if as_json:
        console.print_json(json.dumps(profile or {}, ensure_ascii=False))
        return
    if not profile:
        console.print(f"No profile for user {escape(repr(who))} yet.")
        return
    table = Table(title=f"Profile of {escape(who)}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in profile.items():
        table.add_row(escape(name), escape(_shown(value)))
    console.print(table)
