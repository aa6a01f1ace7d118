"""History page: the audit trail of every change to the user's memories — added, updated
(old → new), deleted, expired, linked and unlinked — with the turn or tool that made it."""

from __future__ import annotations

from html import escape
from typing import Any

import streamlit as st

from hippograph.memories import HistoryUnavailableError
from hippograph.store import HistoryEntry
from hippograph.ui import theme
from hippograph.ui.session import UIContext, current_context

OPS = ("ADD", "UPDATE", "DELETE", "EXPIRE", "LINK", "UNLINK")


def _value_details(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed besides the text: category and importance (`personal → work`)."""
    details = []
    if new.get("category") and old.get("category") not in (None, new["category"]):
        details.append(f"category {escape(str(old['category']))} → {escape(str(new['category']))}")
    if (
        isinstance(new.get("importance"), int | float)
        and isinstance(old.get("importance"), int | float)
        and old["importance"] != new["importance"]
    ):
        details.append(f"importance {old['importance']:.2f} → {new['importance']:.2f}")
    return details


def _source(entry: HistoryEntry) -> str:
    return escape(theme.describe_source(entry["source"], shown_at=entry["at"]))


def link_html(entry: HistoryEntry, texts: dict[str, str]) -> str:
    """A link change as a card: the two memories (their text, when they still exist), the
    relation, and the source."""
    link = entry["new"] or entry["old"] or {}
    dst = str(link.get("dst", ""))
    ends = [escape(texts.get(key) or f"key {key}") for key in (entry["key"], dst)]
    text = f"{ends[0]} → {ends[1]}"
    if entry["op"] == "UNLINK":
        text = f'<span class="hg-old">{text}</span>'
    weight = link.get("weight")
    details = [f"relation {escape(str(link.get('relation', '')))}"]
    if isinstance(weight, int | float) and weight != 1:
        details.append(f"weight {weight:.2f}")
    when = entry["at"].strftime("%Y-%m-%d %H:%M:%S")
    return theme.card(
        f"{theme.op_pill(entry['op'])} {when} · {_source(entry)}",
        text,
        " · ".join(details),
    )


def entry_html(entry: HistoryEntry, texts: dict[str, str] | None = None) -> str:
    """One audit-trail entry as a card: operation, when, what changed, and its source
    (`texts`: memory texts by key, for link changes)."""
    if entry["op"] in ("LINK", "UNLINK"):
        return link_html(entry, texts or {})
    old, new = entry["old"] or {}, entry["new"] or {}
    before, after = str(old.get("content", "")), str(new.get("content", ""))
    details = _value_details(old, new)
    if entry["op"] in ("DELETE", "EXPIRE"):
        text = f'<span class="hg-old">{escape(before)}</span>'
    elif before and after and before != after:
        text = f'<span class="hg-old">{escape(before)}</span> → {escape(after)}'
    else:
        text = escape(after)
        if before and not details:
            details.append("same text; sources merged")
    category = str(new.get("category") or old.get("category") or "other")
    when = entry["at"].strftime("%Y-%m-%d %H:%M:%S")
    return theme.card(
        f"{theme.op_pill(entry['op'])} {when} · {_source(entry)}",
        f"{text} {theme.category_pill(category)}",
        " · ".join([*details, f"key {escape(entry['key'])}"]),
    )


def render(ctx: UIContext) -> None:
    """Draw the history page for `ctx.user_id`."""
    st.title("History")
    st.caption(
        f"Every change to **{theme.md(ctx.user_id)}**'s memories, newest first, with its source."
    )
    op_col, text_col, limit_col = st.columns([3, 4, 2])
    ops = op_col.multiselect("Changes", OPS, placeholder="all changes")
    text = text_col.text_input("Text", placeholder="words in the old or new text")
    limit = limit_col.selectbox("Show", [50, 200, 1000], format_func=lambda n: f"latest {n}")
    try:
        entries = ctx.manager.history(limit=limit)
    except HistoryUnavailableError as exc:
        st.info(
            f"No audit trail on this backend: {exc}. Changes are still applied; only "
            "their history is not kept.",
            icon=":material/history_toggle_off:",
        )
        return
    needle = text.strip().casefold()
    shown = [
        entry
        for entry in entries
        if (not ops or entry["op"] in ops)
        and (
            not needle
            or needle in str((entry["old"] or {}).get("content", "")).casefold()
            or needle in str((entry["new"] or {}).get("content", "")).casefold()
        )
    ]
    if not entries:
        st.info(
            f"Nothing has changed in **{theme.md(ctx.user_id)}**'s memory yet.",
            icon=":material/inbox:",
        )
        return
    if not shown:
        st.info("No changes match these filters.", icon=":material/filter_alt_off:")
        return
    counts = {op: sum(1 for e in shown if e["op"] == op) for op in OPS}
    st.caption(" · ".join(f"{n} {theme.OP_LABELS[op].lower()}" for op, n in counts.items() if n))
    texts = _texts(ctx, entries)
    st.html("".join(entry_html(entry, texts) for entry in shown))


def _texts(ctx: UIContext, entries: list[HistoryEntry]) -> dict[str, str]:
    """The text of every memory a link change names: the store's, else the last one the
    history shows (for deleted memories), by key."""
    changes = [e for e in entries if e["op"] in ("LINK", "UNLINK")]
    if not changes:
        return {}
    keys = {e["key"] for e in changes}
    keys |= {str((e["new"] or e["old"] or {}).get("dst")) for e in changes}
    texts: dict[str, str] = {}
    for entry in reversed(entries):  # oldest first, so the newest text wins
        value = entry["new"] if entry["op"] not in ("LINK", "UNLINK") else None
        value = value or (entry["old"] if entry["op"] in ("DELETE", "EXPIRE") else None)
        if value and value.get("content"):
            texts[entry["key"]] = str(value["content"])
    return {**texts, **ctx.manager.contents_of(keys)}


if __name__ == "__main__":
    render(current_context())
