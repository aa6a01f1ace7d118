"""The UI's look: one colour per category and per operation, and the small HTML pieces
(pills, op lines, provenance) every page builds from.

Core pieces:
    - `CATEGORY_COLORS` / `OP_COLORS`: the palette, shared by badges and Altair charts.
    - `STYLE`: the page CSS, injected once per run by the app.
    - `category_pill`, `op_line`, `recalled_line`, `describe_source`: escaped HTML / text;
      `md`: user data escaped for Markdown (captions, banners).

Memory text is user data: everything here escapes it, and pages render it with `st.html`
(no Markdown pass, so `$`, `*` or `<` in a memory show as typed), or through `md` where it
goes into Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

CATEGORY_COLORS: dict[str, str] = {
    "tools": "#2563eb",
    "skills": "#7c3aed",
    "preferences": "#db2777",
    "personal": "#ea580c",
    "work": "#0d9488",
    "habits": "#ca8a04",
    "goals": "#16a34a",
    "other": "#64748b",
}
"""Category → colour, in `CATEGORIES` order (badges, tables and charts all use it)."""

OP_COLORS: dict[str, str] = {
    "ADD": "#16a34a",
    "UPDATE": "#d97706",
    "DELETE": "#dc2626",
    "NOOP": "#64748b",
    "EXPIRE": "#64748b",
    "LINK": "#4f46e5",
    "UNLINK": "#94a3b8",
}
"""Memory operation → colour."""

OP_LABELS: dict[str, str] = {
    "ADD": "ADDED",
    "UPDATE": "UPDATED",
    "DELETE": "DELETED",
    "NOOP": "NO CHANGE",
    "EXPIRE": "EXPIRED",
    "LINK": "LINKED",
    "UNLINK": "UNLINKED",
}
"""Memory operation → the word shown to a person."""

LOGO = str(Path(__file__).parent / "static" / "logo.svg")
"""The sidebar logo (shipped as package data)."""

PRIMARY_COLOR = "#4f46e5"
"""Accent colour (Streamlit theme `primaryColor`, passed by `hippograph ui`)."""

STYLE = """
<style>
[data-testid="stMainBlockContainer"] {padding-top: 4rem;}  /* below the 3.75rem header */
[data-testid="stAlert"] code {white-space: nowrap;}
.hg-pill {display:inline-block; padding:0.05rem 0.5rem; border-radius:999px; font-size:0.72rem;
  font-weight:600; letter-spacing:0.02em; color:#fff; vertical-align:middle; white-space:nowrap;}
.hg-op {display:inline-block; min-width:5.6rem; text-align:center;}
.hg-line {margin:0.15rem 0 0.45rem 0; line-height:1.45;}
.hg-muted {color:#64748b; font-size:0.8rem;}
.hg-old {color:#94a3b8; text-decoration:line-through;}
.hg-score {display:inline-block; width:3.2rem; height:0.45rem; background:#e2e8f0;
  border-radius:4px; margin-right:0.4rem; vertical-align:middle; overflow:hidden;}
.hg-score > span {display:block; height:100%; background:#4f46e5;}
.hg-turn {border-left:3px solid #e2e8f0; padding:0.1rem 0 0.1rem 0.75rem; margin-bottom:0.9rem;}
.hg-turn-title {font-size:0.78rem; color:#64748b; margin-bottom:0.25rem;}
.hg-card {border:1px solid #e2e8f0; border-radius:0.6rem; padding:0.7rem 0.9rem;
  margin-bottom:0.6rem; background:#fff;}
.hg-card-content {font-size:1rem; margin:0.3rem 0;}
</style>
"""


_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation


def md(text: str) -> str:
    """`text` (user data: a memory, a user id, a relation) for a Markdown string such as an
    `st.caption` or `st.info`: ASCII punctuation is backslash-escaped, so `$` starts no
    formula and `*` or `_` no emphasis — it shows as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def category_pill(category: str) -> str:
    """A coloured pill naming `category` (unknown categories get the "other" colour)."""
    color = CATEGORY_COLORS.get(category, CATEGORY_COLORS["other"])
    return f'<span class="hg-pill" style="background:{color}">{escape(category)}</span>'


def op_pill(op: str) -> str:
    """A coloured pill for a memory operation (`ADD` → "ADDED", …)."""
    color = OP_COLORS.get(op, OP_COLORS["NOOP"])
    label = escape(OP_LABELS.get(op, op))
    return f'<span class="hg-pill hg-op" style="background:{color}">{label}</span>'


def score_bar(score: float) -> str:
    """A small bar filled to `score` (clamped to [0, 1]) followed by the number."""
    width = round(max(0.0, min(1.0, score)) * 100)
    return f'<span class="hg-score"><span style="width:{width}%"></span></span>{score:.2f}'


def op_line(op: Mapping[str, Any]) -> str:
    """One memory operation of a turn, as HTML: pill, text (old → new for updates), details."""
    name = str(op.get("op", "NOOP"))
    content = escape(str(op.get("content", "")))
    if name == "UPDATE":
        text = f'<span class="hg-old">{escape(str(op.get("old_content", "")))}</span> → {content}'
    elif name == "DELETE":
        text = f'<span class="hg-old">{content}</span>'
    else:
        text = content
    details = []
    if op.get("category") and name in ("ADD", "UPDATE"):
        details.append(category_pill(str(op["category"])))
    if isinstance(op.get("importance"), int | float) and name in ("ADD", "UPDATE"):
        details.append(f'<span class="hg-muted">importance {float(op["importance"]):.2f}</span>')
    if op.get("reason"):
        details.append(f'<span class="hg-muted">{escape(str(op["reason"]))}</span>')
    links = op.get("links") or []
    if links:
        relations = ", ".join(dict.fromkeys(str(x.get("relation", "")) for x in links))
        count = f"{len(links)} memor{'y' if len(links) == 1 else 'ies'}"
        details.append(f'<span class="hg-muted">linked to {count} ({escape(relations)})</span>')
    tail = " " + " ".join(details) if details else ""
    return f'<div class="hg-line">{op_pill(name)} {text}{tail}</div>'


def recalled_line(memory: Mapping[str, Any]) -> str:
    """One recalled memory, as HTML: score bar, text, category (and the link that brought
    it, if one did)."""
    score = float(memory.get("score") or 0.0)
    category = category_pill(str(memory.get("category", "other")))
    content = escape(str(memory.get("content", "")))
    via = memory.get("via")
    reached = ""
    if isinstance(via, Mapping):
        relation = escape(str(via.get("relation", "")))
        reached = f' <span class="hg-muted">via link ({relation})</span>'
    return f'<div class="hg-line">{score_bar(score)} {content} {category}{reached}</div>'


def card(top: str, content: str, *details: str) -> str:
    """A bordered card: a muted top line, the main content, then muted detail lines (all
    already-escaped HTML)."""
    lines = "".join(f'<div class="hg-muted">{line}</div>' for line in details)
    return (
        f'<div class="hg-card"><div class="hg-muted">{top}</div>'
        f'<div class="hg-card-content">{content}</div>{lines}</div>'
    )


def short_time(value: datetime | str | None) -> str:
    """`2024-05-08 13:56` for a datetime or ISO string; `""` for nothing."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _short_id(text: str) -> str:
    """Long ids (UUIDs) cut to their first 8 characters; short ones (`D1:3`) kept."""
    return text if len(text) <= 12 else text[:8] + "…"


def describe_source(
    source: Mapping[str, Any] | None, *, shown_at: datetime | str | None = None
) -> str:
    """Provenance in words: `chat · thread t1 · messages m1, m2 · 2024-05-08 13:56`.

    Args:
        source: The memory's (or history entry's) `source`.
        shown_at: A time already shown beside it (when stated, when changed): the source's
            own time is left out when it is the same minute, so it is not said twice.
    """
    if not source:
        return "unknown source"
    parts = []
    origin = source.get("origin")
    thread = source.get("thread_id")
    if origin:
        parts.append(str(origin))
    elif thread:
        parts.append("chat")
    if thread:
        parts.append(f"thread {thread}")
    ids = [_short_id(str(m)) for m in source.get("message_ids") or []]
    if ids:
        shown = ", ".join(ids[:3]) + (f" (+{len(ids) - 3})" if len(ids) > 3 else "")
        parts.append(("message " if len(ids) == 1 else "messages ") + shown)
    when = short_time(source.get("turn_at"))
    if when and when != short_time(shown_at):
        parts.append(when)
    return " · ".join(parts) or "unknown source"
