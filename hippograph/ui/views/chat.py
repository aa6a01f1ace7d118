"""Chat page: talk to the memory agent and watch, beside the conversation, what every turn
recalled and did to memory (ADDED / UPDATED old → new / DELETED / no change)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NotRequired, TypedDict

import streamlit as st

from hippograph.ui import theme
from hippograph.ui.session import UIContext, bump_data_version, current_context

_THREADS_KEY = "hg_chat_threads"
_TURNS_KEY = "hg_chat_turns"


class Turn(TypedDict):
    """One exchange as the page shows it."""

    user: str
    answer: str
    recalled: list[dict[str, Any]]
    ops: list[dict[str, Any]]
    at: str
    error: str | None
    warnings: NotRequired[list[str]]
    """What the memory steps could not do this turn (the answer was kept)."""


def thread_id(user_id: str) -> str:
    """This session's conversation thread for `user_id` (a new one on first use)."""
    threads: dict[str, str] = st.session_state.setdefault(_THREADS_KEY, {})
    if user_id not in threads:
        threads[user_id] = f"ui-{uuid.uuid4().hex[:8]}"
    return threads[user_id]


def _new_thread(user_id: str) -> None:
    st.session_state.setdefault(_THREADS_KEY, {})[user_id] = f"ui-{uuid.uuid4().hex[:8]}"


def turns(user_id: str, thread: str) -> list[Turn]:
    """The turns of `thread` shown in this session (per user: switching never mixes them)."""
    log: dict[tuple[str, str], list[Turn]] = st.session_state.setdefault(_TURNS_KEY, {})
    return log.setdefault((user_id, thread), [])


def _markdown_text(text: str) -> str:
    """Chat text for `st.markdown`: `$` would start LaTeX, so it is escaped."""
    return text.replace("$", "\\$")


# What the chat page says when no model is configured, and how to set one. (A page script
# must not hold bare strings after its docstring: Streamlit's "magic" would print them.)
OFFLINE_NOTICE = (
    "**Offline mode: no chat model is configured.** Answers list what I remember, with "
    "similarity scores; each message is stored verbatim, near-duplicates are skipped and "
    "“forget …” deletes the closest memory. To chat with a model, start the UI with "
    "`hippograph ui --model openai:gpt-4o-mini` (any `provider:model`; or set "
    "`HIPPOGRAPH_MODEL`, or `HIPPOGRAPH_BASE_URL` for an OpenAI-compatible server)."
)


def _load_agent(ctx: UIContext) -> Any | None:
    from hippograph.memory.chat_models import MODEL_HELP, ModelUnavailableError

    try:
        return ctx.agent()
    except ModelUnavailableError as exc:
        st.error(f"The chat model cannot be used: {exc}\n\n{MODEL_HELP}")
        return None


def _show_exchange(turn: Turn) -> None:
    with st.chat_message("user"):
        st.markdown(_markdown_text(turn["user"]))
    with st.chat_message("assistant"):
        if turn["error"]:
            st.error(turn["error"])
        else:
            st.markdown(_markdown_text(turn["answer"]))
            _show_warnings(turn.get("warnings") or [])


def _show_warnings(warnings: list[str]) -> None:
    """A memory step that failed while the answer was kept (the CLI's `! memory:` lines)."""
    for warning in warnings:
        st.warning(f"Memory: {warning}", icon=":material/warning:")


def run_turn(ctx: UIContext, agent: Any, text: str, thread: str) -> Turn:
    """Run one turn, streaming the answer into the current container; count its recalls."""
    from hippograph.memory.chat_models import ModelCallError
    from hippograph.turns import TurnStream

    at = datetime.now().astimezone().isoformat(timespec="seconds")
    with st.chat_message("user"):
        st.markdown(_markdown_text(text))
    stream = TurnStream(agent, text, thread_id=thread, user_id=ctx.user_id)
    with st.chat_message("assistant"):
        try:
            st.write_stream(_markdown_text(token) for token in stream)
        except ModelCallError as exc:
            message = f"The model failed, so nothing was written to memory this turn: {exc}"
            st.error(message)
            return Turn(user=text, answer="", recalled=[], ops=[], at=at, error=message)
        warnings = [str(w) for w in stream.state.get("warnings") or []]
        _show_warnings(warnings)
    recalled = [dict(m) for m in stream.state.get("recalled") or []]
    if ctx.recall_log is not None:
        ctx.recall_log.record(ctx.user_id, recalled)
    ops = [dict(op) for op in stream.state.get("ops") or []]
    if any(op["op"] != "NOOP" for op in ops):
        bump_data_version()
    return Turn(
        user=text,
        answer=stream.answer,
        recalled=recalled,
        ops=ops,
        at=at,
        error=None,
        warnings=warnings,
    )


def activity_html(turns: list[Turn]) -> str:
    """The memory-activity panel: newest turn first, its operations, then what it recalled."""
    blocks = []
    for number, turn in reversed(list(enumerate(turns, start=1))):
        when = theme.short_time(turn["at"])[11:]
        said = theme.escape(turn["user"][:60] + ("…" if len(turn["user"]) > 60 else ""))
        lines = [f'<div class="hg-turn-title">Turn {number} · {when} · “{said}”</div>']
        if turn["error"]:
            lines.append('<div class="hg-line hg-muted">model error: nothing written</div>')
        elif turn["ops"]:
            lines += [theme.op_line(op) for op in turn["ops"]]
        elif not turn.get("warnings"):
            lines.append('<div class="hg-line hg-muted">no change to memory</div>')
        lines += [
            f'<div class="hg-line hg-muted">memory step failed: {theme.escape(w)}</div>'
            for w in turn.get("warnings") or []
        ]
        if turn["recalled"]:
            lines.append('<div class="hg-muted">recalled</div>')
            lines += [theme.recalled_line(m) for m in turn["recalled"]]
        blocks.append(f'<div class="hg-turn">{"".join(lines)}</div>')
    return "".join(blocks)


def _summary(turns: list[Turn]) -> str:
    counts = {"ADD": 0, "UPDATE": 0, "DELETE": 0}
    for turn in turns:
        for op in turn["ops"]:
            if op["op"] in counts:
                counts[op["op"]] += 1
    return (
        " · ".join(f"{n} {theme.OP_LABELS[op].lower()}" for op, n in counts.items() if n)
        or "nothing changed yet"
    )


def render(ctx: UIContext) -> None:
    """Draw the chat page for `ctx.user_id`."""
    thread = thread_id(ctx.user_id)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        with st.container():
            st.title("Chat")
            st.caption(f"Talking as **{theme.md(ctx.user_id)}** · conversation `{thread}`")
        if st.button("New conversation", icon=":material/add_comment:"):  # as wide as its text
            _new_thread(ctx.user_id)
            st.rerun()
    if ctx.settings.offline:
        st.info(OFFLINE_NOTICE, icon=":material/cloud_off:")
    agent = _load_agent(ctx)
    shown = turns(ctx.user_id, thread)
    left, right = st.columns([3, 2], gap="large")
    with left:
        box = st.container(height=440, border=True)
        prompt = st.chat_input(
            "Tell me about yourself, ask what I remember, or say “forget …”",
            disabled=agent is None,
        )
        with box:
            if not shown and not prompt:
                st.caption(
                    "Nothing said yet in this conversation. Try “I live in Lisbon and work "
                    "as a data engineer”, then “Where do I live?”."
                )
            for turn in shown:
                _show_exchange(turn)
            if prompt and prompt.strip() and agent is not None:
                shown.append(run_turn(ctx, agent, prompt.strip(), thread))
    with right:
        st.subheader("Memory activity")
        st.caption(f"This conversation: {_summary(shown)}")
        if shown:
            st.html(activity_html(shown))
        else:
            st.caption("Each turn's memory operations and recalled memories appear here.")


if __name__ == "__main__":
    render(current_context())
