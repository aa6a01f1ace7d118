"""Memories page: the user's memories as a table — filter, edit inline, delete (with
confirmation), add, export and import JSONL. Every change goes through `MemoryManager`,
which validates it; bad input is reported inline and changes nothing."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd
import streamlit as st

from hippograph.memories import (
    DuplicateMemoryError,
    ImportValidationError,
    MemoryManager,
    validated_value,
)
from hippograph.store import Memory
from hippograph.store.memory import CATEGORIES
from hippograph.ui import theme
from hippograph.ui.session import (
    UIContext,
    bump_data_version,
    current_context,
    data_version,
    flash,
)

_CONFIRM_KEY = "hg_confirm_delete"
EDITABLE = ("content", "category", "importance")


@dataclass(frozen=True)
class Filters:
    """What the filter row asks for."""

    text: str = ""
    categories: tuple[str, ...] = ()
    importance: tuple[float, float] = (0.0, 1.0)
    dates: tuple[date, ...] = ()

    def apply(self, manager: MemoryManager) -> list[Memory]:
        """The user's memories matching every filter, newest first."""
        low, high = self.importance
        since = until = None
        if self.dates:
            since = datetime.combine(self.dates[0], time.min, UTC)
            until = datetime.combine(self.dates[-1], time.max, UTC)
        found = manager.list(
            category=self.categories[0] if len(self.categories) == 1 else None,
            min_importance=low if low > 0.0 else None,
            max_importance=high if high < 1.0 else None,
            since=since,
            until=until,
            text=self.text.strip() or None,
        )
        if len(self.categories) > 1:
            found = [m for m in found if m.category in self.categories]
        return found


def table(memories: list[Memory]) -> pd.DataFrame:
    """The rows of the memory table (one per memory, in the given order)."""
    return pd.DataFrame(
        {
            "content": [m.content for m in memories],
            "category": [m.category for m in memories],
            "importance": [m.importance for m in memories],
            "stated": [m.timestamp for m in memories],
            "source": [theme.describe_source(m.source, shown_at=m.timestamp) for m in memories],
            "key": [m.id for m in memories],
        }
    )


def apply_edits(
    manager: MemoryManager, memories: list[Memory], edited_rows: Mapping[Any, Mapping[str, Any]]
) -> tuple[int, list[str]]:
    """Write the table's edits; all rows are validated first, so one bad row writes nothing.

    Returns:
        `(rows written, errors)`; with errors, nothing was written.
    """
    changes: list[tuple[str, dict[str, Any]]] = []
    errors: list[str] = []
    for row, edits in edited_rows.items():
        memory = memories[int(row)]
        wanted = {k: v for k, v in edits.items() if k in EDITABLE}
        if "importance" in wanted and wanted["importance"] is None:
            errors.append(f"“{memory.content[:40]}”: importance must be a number in [0, 1]")
            continue
        try:
            validated_value(memory.id, {**memory.to_value(), **wanted})
        except ValueError as exc:
            errors.append(f"“{memory.content[:40]}”: {exc}")
            continue
        changes.append((memory.id, wanted))
    if errors:
        return 0, errors
    for key, wanted in changes:
        manager.edit(key, **wanted)
    return len(changes), []


def _filters(memories_exist: bool) -> Filters:
    text_col, cat_col, imp_col, date_col = st.columns([3, 3, 2, 2.4])
    text = text_col.text_input(
        "Text", placeholder="words in the memory", disabled=not memories_exist
    )
    categories = cat_col.multiselect(
        "Categories", CATEGORIES, placeholder="all categories", disabled=not memories_exist
    )
    importance = imp_col.slider(
        "Importance", 0.0, 1.0, (0.0, 1.0), step=0.05, disabled=not memories_exist
    )
    dates = date_col.date_input(
        "Stated between", value=[], format="YYYY-MM-DD", disabled=not memories_exist
    )
    return Filters(text, tuple(categories), tuple(importance), tuple(dates or ()))  # type: ignore[arg-type]


def _metrics(ctx: UIContext, shown: list[Memory], total: int) -> None:
    cols = st.columns(4)
    cols[0].metric("Memories", total)
    cols[1].metric("Matching filters", len(shown))
    average = sum(m.importance for m in shown) / len(shown) if shown else 0.0
    cols[2].metric("Average importance", f"{average:.2f}")
    newest = max((m.timestamp for m in shown), default=None)
    cols[3].metric("Newest", newest.strftime("%Y-%m-%d") if newest else "—")


def _profile(ctx: UIContext) -> None:
    """The user's structured profile (`build_agent(profile=...)`), when they have one."""
    profile = ctx.manager.profile()
    if not profile:
        return
    with st.expander("Profile", expanded=True, icon=":material/badge:"):
        rows = [
            {"field": name, "value": ", ".join(map(str, v)) if isinstance(v, list) else str(v)}
            for name, v in profile.items()
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _editor(ctx: UIContext, shown: list[Memory]) -> None:
    key = f"hg_editor::{ctx.user_id}::{data_version()}"
    st.data_editor(
        table(shown),
        key=key,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 460),
        column_config={
            "content": st.column_config.TextColumn("Memory", width="large", required=True),
            "category": st.column_config.SelectboxColumn(
                "Category", options=list(CATEGORIES), required=True, width=120
            ),
            # No min/max: the grid would clamp 1.7 to 1.00 unseen; `apply_edits` refuses it.
            "importance": st.column_config.NumberColumn(
                "Importance",
                step=0.05,
                format="%.2f",
                width=110,
            ),
            "stated": st.column_config.DatetimeColumn("Stated", format="YYYY-MM-DD HH:mm"),
            "source": st.column_config.TextColumn("Source"),
            "key": st.column_config.TextColumn("Key", width="small"),
        },
        disabled=["stated", "source", "key"],
    )
    edited = (st.session_state.get(key) or {}).get("edited_rows") or {}
    label = (
        f"Save {len(edited)} edited row{'s' if len(edited) != 1 else ''}"
        if edited
        else "Save edits"
    )
    if st.button(label, type="primary", disabled=not edited, icon=":material/save:"):
        written, errors = apply_edits(ctx.manager, shown, edited)
        if errors:
            st.error("Nothing was saved:\n\n" + "\n".join(f"- {theme.md(e)}" for e in errors))
        else:
            bump_data_version()
            flash("success", f"Saved {written} edited memor{'y' if written == 1 else 'ies'}.")
            st.rerun()


def _label(memory: Memory) -> str:
    text = memory.content if len(memory.content) <= 90 else memory.content[:89] + "…"
    return f"{text} · {memory.category}"


def _delete(ctx: UIContext, shown: list[Memory]) -> None:
    by_key = {m.id: m for m in shown}
    picked = st.multiselect(
        "Select memories to delete",
        list(by_key),
        format_func=lambda key: _label(by_key[key]),
        placeholder="type to find memories…",
        key=f"hg_delete_pick::{ctx.user_id}::{data_version()}",
    )
    if st.button(
        f"Delete {len(picked)} selected" if picked else "Delete selected",
        disabled=not picked,
        icon=":material/delete:",
    ):
        st.session_state[_CONFIRM_KEY] = (ctx.user_id, list(picked))
    pending = st.session_state.get(_CONFIRM_KEY)
    if not pending or pending[0] != ctx.user_id:
        return
    keys = pending[1]
    with st.container(border=True):
        st.warning(
            f"Delete {len(keys)} memor{'y' if len(keys) == 1 else 'ies'} of "
            f"**{theme.md(ctx.user_id)}**? They disappear from recall at once; the history "
            "keeps their text."
        )
        buttons = st.container(horizontal=True)
        if buttons.button("Yes, delete", type="primary", key="hg_confirm_yes"):
            deleted = ctx.manager.delete(keys)
            del st.session_state[_CONFIRM_KEY]
            bump_data_version()
            flash("success", f"Deleted {len(deleted)} memor{'y' if len(deleted) == 1 else 'ies'}.")
            st.rerun()
        if buttons.button("Cancel", key="hg_confirm_no"):
            del st.session_state[_CONFIRM_KEY]
            st.rerun()


def _added(memory: Memory) -> None:
    bump_data_version()  # a fresh form: the box is empty for the next memory
    flash("success", f"Added “{theme.md(memory.content)}”.")


def _add_anyway(ctx: UIContext, content: str, category: str, importance: float) -> None:
    _added(ctx.manager.add(content, category=category, importance=importance))


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _add(ctx: UIContext) -> None:
    """The "Add a memory" form. Like chat, it skips what is already remembered
    (`MemoryManager.duplicate_of`); a near-duplicate in other words can be added anyway,
    an exact duplicate cannot."""
    with st.form(f"hg_add_memory::{ctx.user_id}::{data_version()}"):
        content = st.text_area("Memory", placeholder="e.g. Prefers dark mode in every editor")
        left, right = st.columns(2)
        category = left.selectbox("Category", CATEGORIES)
        importance = right.number_input(
            "Importance (0 to 1)",
            value=0.5,
            step=0.05,
            format="%.2f",
            help="0 = trivia, 1 = essential to remember",
        )
        submitted = st.form_submit_button("Add memory", type="primary", icon=":material/add:")
    if not submitted:
        return
    try:
        memory = ctx.manager.add(
            content, category=category, importance=importance, allow_duplicate=False
        )
    except DuplicateMemoryError as exc:
        existing = exc.existing
        same = _same_text(content, existing.memory.content)
        st.warning(
            f"Not added: already remembered as “{theme.md(existing.memory.content)}” "
            f"(similarity {existing.score:.2f})."
            + ("" if same else " Edit that memory in the table, or add this one anyway.")
        )
        if not same:
            st.button(
                "Add anyway",
                icon=":material/add:",
                on_click=_add_anyway,
                args=(ctx, content, category, importance),
            )
    except ValueError as exc:
        st.error(f"Not added: {exc}")
    else:
        _added(memory)
        st.rerun()


def _export(manager: MemoryManager) -> str:
    out = io.StringIO()
    manager.export_jsonl(out)
    return out.getvalue()


def _import(ctx: UIContext) -> None:
    upload = st.file_uploader(
        "Import JSONL (one memory per line; lines with a known key replace that memory)",
        type=["jsonl", "json", "txt"],
        key=f"hg_import::{ctx.user_id}::{data_version()}",
    )
    if upload is None or not st.button("Import", icon=":material/upload:"):
        return
    try:
        text = upload.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.error("Nothing imported: the file is not UTF-8 text.")
        return
    try:
        report = ctx.manager.import_jsonl(io.StringIO(text))
    except ImportValidationError as exc:
        lines = "\n".join(f"- line {e.line}: {e.error}" for e in exc.errors[:20])
        more = f"\n- … and {len(exc.errors) - 20} more" if len(exc.errors) > 20 else ""
        st.error(f"Nothing imported: {len(exc.errors)} invalid line(s).\n\n{lines}{more}")
        return
    bump_data_version()
    flash("success", f"Imported {report.imported} memor{'y' if report.imported == 1 else 'ies'}.")
    st.rerun()


def render(ctx: UIContext) -> None:
    """Draw the memories page for `ctx.user_id`."""
    st.title("Memories")
    st.caption(
        f"Everything **{theme.md(ctx.user_id)}** has taught the agent. Edit cells, then save."
    )
    total = ctx.manager.count()
    filters = _filters(total > 0)
    shown = filters.apply(ctx.manager) if total else []
    _metrics(ctx, shown, total)
    _profile(ctx)
    if not total:
        st.info(
            f"No memories yet for **{theme.md(ctx.user_id)}**. Chat on the Chat page, add one "
            "below, or import a JSONL file.",
            icon=":material/inbox:",
        )
    elif not shown:
        st.info("No memories match these filters.", icon=":material/filter_alt_off:")
    else:
        _editor(ctx, shown)
        _delete(ctx, shown)
    add_tab, io_tab = st.tabs(["Add a memory", "Export / import"])
    with add_tab:
        _add(ctx)
    with io_tab:
        st.download_button(
            "Export all memories (JSONL)",
            data=lambda: _export(ctx.manager),
            file_name=f"hippograph-{ctx.user_id}.jsonl",
            mime="application/jsonl",
            icon=":material/download:",
            disabled=not total,
        )
        _import(ctx)


if __name__ == "__main__":
    render(current_context())
