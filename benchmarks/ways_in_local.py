"""The ways in with the bundled local model (`HIPPOGRAPH_MODEL=local`), measured in one run.

1. **Latency a user sees**: the same conversation turns through the agent with memory formed
   in the turn (hot path) and formed in the background (`build_agent(background=...)`),
   alternating which goes first; each background turn's formation is timed too (it runs
   after the reply; the next turn waits for it, so the two never share the CPU).
2. **Memory tools**: a LangChain `create_agent` with `create_memory_tools()` on the same
   model, asked plainly to remember, recall and forget: how many tool calls it made, and
   what it answered instead.

    python -m benchmarks.ways_in_local [--turns 3] [--out benchmarks/results]

Needs `pip install -e ".[dev,local]"`. Writes `ways_in_local.{json,md,png}`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from hippograph import Context, MemoryManager, build_agent
from hippograph.backends import memory_index_config
from hippograph.background import MemoryFormer
from hippograph.store import FaissSqliteStore

TURNS = [
    "Hi! I'm Ana and I live in Lisbon.",
    "I work as a data engineer at Acme.",
    "I mostly code in Python and I use NeoVim every day.",
    "My cat is called Miso.",
    "I'm learning German for a move next year.",
    "I prefer dark roast coffee, no sugar.",
    "I run 10 km every Sunday morning.",
    "My sister Clara lives in Porto.",
]

TOOL_PROMPTS = [
    "Please remember that I'm allergic to peanuts.",
    "Save this to your memory: my favourite band is Radiohead.",
    "What do you remember about where I live? Search your memory.",
    "Forget that I live in Lisbon.",
]


@dataclass
class Turn:
    """One measured turn."""

    mode: str
    index: int
    reply_s: float
    formed_s: float | None = None
    memories: int = 0


def _store(path: Path) -> FaissSqliteStore:
    store = FaissSqliteStore(str(path), index=memory_index_config("local"), hybrid=True)
    store.setup()
    return store


def _ask(agent: Any, text: str, thread: str, user: str) -> float:
    started = time.perf_counter()
    agent.invoke(
        {"messages": [{"role": "user", "content": text}]},
        config={"configurable": {"thread_id": thread}},
        context={"user_id": user},
    )
    return time.perf_counter() - started


def measure_latency(model: Any, turns: list[str], workdir: Path) -> list[Turn]:
    """Each turn through the hot-path agent and the background agent (same model)."""
    hot_store, bg_store = _store(workdir / "hot.db"), _store(workdir / "bg.db")
    former = MemoryFormer(bg_store, model=model, delay=0.5)
    hot = build_agent(store=hot_store, checkpointer=InMemorySaver(), model=model)
    background = build_agent(
        store=bg_store, checkpointer=InMemorySaver(), model=model, background=former
    )
    results: list[Turn] = []
    try:
        for index, text in enumerate(turns):
            order = ("hot", "background") if index % 2 == 0 else ("background", "hot")
            for mode in order:
                if mode == "hot":
                    reply = _ask(hot, text, "hot", "ana")
                    count = MemoryManager(hot_store, "ana").count()
                    results.append(Turn(mode, index, reply, None, count))
                else:
                    reply = _ask(background, text, "bg", "ana")
                    started = time.perf_counter()
                    former.flush(timeout=None)
                    formed = time.perf_counter() - started
                    count = MemoryManager(bg_store, "ana").count()
                    results.append(Turn(mode, index, reply, formed, count))
                print(f"turn {index + 1}/{len(turns)} {mode:>10}: reply {reply:6.1f} s", flush=True)
    finally:
        former.close()
        hot_store.close()
        bg_store.close()
    return results


def try_tools(model: Any, workdir: Path) -> list[dict[str, Any]]:
    """The memory tools in a `create_agent` loop on `model`: what it did with each prompt."""
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage, ToolMessage

    from hippograph.tools import create_memory_tools

    store = _store(workdir / "tools.db")
    MemoryManager(store, "ana").add("Lives in Lisbon", category="personal")
    agent = create_agent(model, tools=create_memory_tools(), store=store, context_schema=Context)
    found = []
    try:
        for prompt in TOOL_PROMPTS:
            row: dict[str, Any] = {"prompt": prompt}
            started = time.perf_counter()
            try:
                out = agent.invoke(
                    {"messages": [{"role": "user", "content": prompt}]},
                    context=Context(user_id="ana"),
                )
            except Exception as exc:  # the point is to record what a user would meet
                row.update(error=f"{type(exc).__name__}: {str(exc)[:300]}", tool_calls=0)
            else:
                messages = out["messages"]
                calls = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
                row.update(
                    tool_calls=len(calls),
                    tool_messages=sum(isinstance(m, ToolMessage) for m in messages),
                    reply=messages[-1].text[:240],
                )
            row["seconds"] = round(time.perf_counter() - started, 1)
            row["memories_after"] = sorted(m.content for m in MemoryManager(store, "ana").list())
            found.append(row)
            print(f"tools: {prompt[:40]!r}: {row.get('tool_calls')} tool call(s)", flush=True)
    finally:
        store.close()
    return found


def _summary(turns: list[Turn]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for mode in ("hot", "background"):
        replies = [t.reply_s for t in turns if t.mode == mode]
        out[mode] = {
            "reply_p50_s": statistics.median(replies),
            "reply_mean_s": statistics.fmean(replies),
            "reply_max_s": max(replies),
        }
    formed = [t.formed_s for t in turns if t.formed_s is not None]
    out["background"]["formed_after_reply_p50_s"] = statistics.median(formed)
    out["background"]["formed_after_reply_max_s"] = max(formed)
    return out


def _plot(turns: list[Turn], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    indices = sorted({t.index for t in turns})
    hot = [next(t.reply_s for t in turns if t.mode == "hot" and t.index == i) for i in indices]
    bg = [next(t for t in turns if t.mode == "background" and t.index == i) for i in indices]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.38
    xs = list(range(len(indices)))
    ax.bar([x - width / 2 for x in xs], hot, width, label="memory in the turn", color="#8c564b")
    ax.bar(
        [x + width / 2 for x in xs],
        [t.reply_s for t in bg],
        width,
        label="background: reply",
        color="#1f77b4",
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [t.formed_s or 0.0 for t in bg],
        width,
        bottom=[t.reply_s for t in bg],
        label="background: formed after the reply",
        color="#aec7e8",
    )
    ax.set_xticks(xs, [f"turn {i + 1}" for i in indices])
    ax.set_ylabel("seconds")
    ax.set_title("Local model (Qwen2.5-Coder-1.5B, 2 cores): what the user waits for")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _markdown(summary: dict[str, Any], turns: list[Turn], tools: list[dict[str, Any]]) -> str:
    hot, bg = summary["hot"], summary["background"]
    ratio = bg["reply_p50_s"] / hot["reply_p50_s"]
    lines = [
        "# The ways in with the local model (same run)",
        "",
        f"Model: bundled Qwen2.5-Coder-1.5B-Instruct (llama.cpp), {platform.machine()}, "
        f"{len(turns) // 2} turns per mode, alternating which mode goes first.",
        "",
        "## Latency a user sees",
        "",
        "| | reply p50 | reply mean | reply max | memories formed, after the reply (p50 / max) |",
        "|---|---|---|---|---|",
        f"| memory in the turn (hot path) | {hot['reply_p50_s']:.1f} s | "
        f"{hot['reply_mean_s']:.1f} s | {hot['reply_max_s']:.1f} s | — (before the reply) |",
        f"| background formation | {bg['reply_p50_s']:.1f} s | {bg['reply_mean_s']:.1f} s | "
        f"{bg['reply_max_s']:.1f} s | {bg['formed_after_reply_p50_s']:.1f} s / "
        f"{bg['formed_after_reply_max_s']:.1f} s |",
        "",
        f"Background reply p50 = **{ratio:.2f}×** the hot path's in the same run.",
        "",
        "| turn | hot: reply | background: reply | background: formed after |",
        "|---|---|---|---|",
    ]
    for index in sorted({t.index for t in turns}):
        h = next(t for t in turns if t.mode == "hot" and t.index == index)
        b = next(t for t in turns if t.mode == "background" and t.index == index)
        lines.append(
            f"| {index + 1} | {h.reply_s:.1f} s | {b.reply_s:.1f} s | {b.formed_s or 0:.1f} s |"
        )
    lines += [
        "",
        "## Memory tools on the local model",
        "",
        "| prompt | tool calls | memories after | what it answered |",
        "|---|---|---|---|",
    ]
    for row in tools:
        said = row.get("error") or row.get("reply", "")
        said = " ".join(str(said).split())[:160].replace("|", "\\|")
        lines.append(
            f"| {row['prompt']} | {row['tool_calls']} | {len(row['memories_after'])} | {said} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run both measurements and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    from hippograph.local_model import local_chat_model

    model = local_chat_model()
    started = time.perf_counter()
    model.invoke("Say hello.")  # load the weights before anything is timed
    print(f"model ready in {time.perf_counter() - started:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        turns = measure_latency(model, TURNS[: args.turns], workdir)
        tools = try_tools(model, workdir)
    summary = _summary(turns)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "summary": summary,
        "turns": [t.__dict__ for t in turns],
        "tools": tools,
        "machine": platform.platform(),
    }
    (args.out / "ways_in_local.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "ways_in_local.md").write_text(_markdown(summary, turns, tools))
    _plot(turns, args.out / "ways_in_local.png")
    print(_markdown(summary, turns, tools))


if __name__ == "__main__":
    main()
