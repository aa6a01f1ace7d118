"""`hippograph chat`: talk to the memory agent and watch its memory change turn by turn."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import typer
from rich.markup import escape

from hippograph.cli._common import StoreOption, UserOption, console, fail, load_settings
from hippograph.cli.errors import ExitCode
from hippograph.config import Settings

EXIT_WORDS = {"/exit", "/quit", "exit", "quit"}


def _lines(interactive: bool) -> Iterator[str]:
    """User turns: prompted on a terminal, read line by line (and echoed) from a pipe."""
    while True:
        if interactive:
            try:
                line = console.input("[bold cyan]you ›[/] ")
            except (EOFError, KeyboardInterrupt):
                console.print()
                return
        else:
            raw = sys.stdin.readline()
            if not raw:
                return
            line = raw.rstrip("\n")
            if line.strip():
                console.print(f"[bold cyan]you ›[/] {escape(line)}")
        if line.strip():
            yield line.strip()


def render_ops(state: dict[str, Any]) -> None:
    """Print what the turn did to memory: recalled (with scores), then each operation."""
    recalled = state.get("recalled") or []
    if recalled:
        shown = ", ".join(f"{escape(m['content'])} [dim]({m['score']:.2f})[/]" for m in recalled)
        console.print(f"  [dim]recalled:[/] {shown}")
    ops = state.get("ops") or []
    for warning in state.get("warnings") or []:
        console.print(f"  [yellow]! memory:[/] {escape(warning)}")
    if not ops:
        console.print("  [dim]memory: no change[/]")
    for op in ops:
        content = escape(str(op.get("content", "")))
        reason = f" [dim]({escape(op['reason'])})[/]" if op.get("reason") else ""
        if op["op"] == "ADD":
            console.print(f"  [green]+ ADDED[/]   {content}")
        elif op["op"] == "UPDATE":
            old = escape(str(op.get("old_content", "")))
            console.print(f"  [yellow]~ UPDATED[/] {old} [bold]→[/] {content}")
        elif op["op"] == "DELETE":
            console.print(f"  [red]- DELETED[/] {content}")
        else:
            console.print(f"  [dim]= NOOP    {content}[/]{reason}")


def _offline_notice() -> None:
    from hippograph.memory.chat_models import MODEL_HELP

    console.print(
        "[bold yellow]No chat model is configured[/] — answers list what I remember, and "
        "each statement you make is stored verbatim, one memory each (not chatter or "
        "questions).\n"
        f"[dim]{escape(MODEL_HELP)}[/]"
    )


def _turn(agent: Any, text: str, thread_id: str, user_id: str) -> dict[str, Any]:
    from hippograph.turns import TurnStream

    turn = TurnStream(agent, text, thread_id=thread_id, user_id=user_id)
    console.print("[bold magenta]hippograph ›[/] ", end="")
    for token in turn:
        console.print(escape(token), end="")
    console.print()
    render_ops(turn.state)
    return turn.state


def chat(
    user: str | None = UserOption,
    thread: str | None = typer.Option(
        None, "--thread", "-t", help="Conversation thread to continue (default: a new one)."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Chat model spec (default: HIPPOGRAPH_MODEL)."
    ),
    store: str | None = StoreOption,
) -> None:
    """Chat with the memory agent; after each answer, see what it recalled and changed.

    Reads stdin line by line when it is not a terminal, so sessions can be scripted:
    `printf 'I live in Berlin\\nWhere do I live?\\n' | hippograph chat`. Agents on other
    machines share memories when they use the same `--store postgresql://…`.
    """
    from hippograph.graph import open_agent
    from hippograph.store.threads import ThreadOwnerError, claim_thread

    settings = load_settings(user=user, store=store, model=model)
    thread_id = thread or f"cli-{uuid.uuid4().hex[:8]}"
    if settings.model == "local":
        from hippograph.cli.local_progress import start_local_model

        start_local_model()  # with progress, before the agent resolves "local"
    with open_agent(settings=settings) as agent:  # failures: one line (cli/errors.py)
        try:
            if agent.store is not None:
                claim_thread(agent.store, settings.user_id, thread_id)
        except ThreadOwnerError as exc:
            raise fail(f"{exc} (omit --thread for a new one)", ExitCode.REFUSED) from exc
        _repl(agent, settings, thread_id)


def _repl(agent: Any, settings: Settings, thread_id: str) -> None:
    from hippograph.memory.chat_models import ModelCallError
    from hippograph.recalls import RecallLog

    interactive = sys.stdin.isatty()
    console.print(
        f"[bold]hippograph chat[/] — user [bold]{escape(settings.user_id)}[/], "
        f"thread [bold]{thread_id}[/], store {escape(settings.store_label)}"
    )
    if settings.offline:
        _offline_notice()
    elif settings.model == "local":
        from hippograph.local_model import QWEN_CODER_1_5B

        console.print(f"model: [bold]local[/] ({escape(QWEN_CODER_1_5B.name)}, in this process)")
    else:
        console.print(f"model: [bold]{escape(str(settings.model))}[/]")
    if interactive:
        console.print("[dim]Type /exit (or Ctrl-D) to leave.[/]")
    recall_log = RecallLog.for_settings(settings)
    try:
        for line in _lines(interactive):
            if line.lower() in EXIT_WORDS:
                return
            try:
                state = _turn(agent, line, thread_id, settings.user_id)
            except ModelCallError as exc:
                console.print()
                console.print(f"[bold red]model error:[/] {escape(str(exc))}")
                console.print("[dim]No answer, and nothing was written to memory for this turn.[/]")
            else:
                recall_log.record(settings.user_id, state.get("recalled") or [])
    finally:
        recall_log.close()
