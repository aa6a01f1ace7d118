"""Per-turn overhead of hippograph's memory nodes, with the LLM taken out.

The chat model is a `ScriptedChatModel` answering instantly, so what is timed is our
work: embedding, FAISS + SQLite search and writes, prompt building, structured-output
parsing, checkpointing. The store is a real `FaissSqliteStore` on a temp file seeded with
`--seed` memories, the embedder the real local MiniLM.

Modes, interleaved turn by turn in a shuffled order so machine noise (and the disk work
one mode leaves for the next) hits them alike:
    - llm / offline: the agent invoked directly (a checkpoint after every node) on the
      checkpointer `build_agent` opens by default (`open_checkpointer`: a
      `TurnSqliteSaver`, one fsync per turn; LangGraph's default durability, `"async"`:
      each save handed to a background thread while the next node runs).
    - offline_sync: the same with `durability="sync"` (each step's save waited for before
      the next starts) — the same-run A/B of that setting.
    - chat: the offline agent invoked with `TurnStream`'s `durability="exit"` (one
      checkpoint per turn), as `hippograph chat` and the UI checkpoint a turn.
    - chat_stream: the offline agent through `TurnStream` itself, as `hippograph chat` and
      the UI run it: `durability="exit"` and the `messages` + `values` stream modes (with
      `messages`, LangGraph runs each node on a worker thread beside a stream waiter).
    - offline_thread_per_save: offline with `max_concurrency` set to the size of the pool
      LangGraph makes when none is set (`min(32, cores + 4)`): a new background thread per
      checkpoint save, as before the agent's runs kept their saves on one thread — the
      same-run A/B of that cut.
    - offline_sqlitesaver: the offline agent on LangGraph's own `SqliteSaver` (an fsync
      per checkpoint write), as when a user passes one.
    - offline_memory_saver: the offline agent on LangGraph's `InMemorySaver` at the default
      durability: every step saved, nothing written to disk (not durable) — the least a
      checkpointer saving every step can cost, the reference for the SQLite one.
    - offline_no_window: the offline agent with `recall_window=0` (no second recall
      query) — not a product setting, the measure of what that query costs (the floor).
    - offline_no_prefetch / chat_no_prefetch: offline / chat with the agent's run not
      starting the embedding of its message (`AgentBuilder.prefetches = False`): retrieve
      embeds it, as before issue 16's prefetch — the same-run A/B of that cut.
    - bare graph: START → respond → END with the same model on LangGraph's `SqliteSaver` —
      a graph without memory; the memory overhead of a turn is the difference.
    - noop chain: the agent's loop with no work in it — four nodes that return nothing,
      compiled like the agent (`AgentBuilder`: thread check, the default checkpointer and
      its one fsync) — and noop chain bare: the same four nodes in a plain
      `StateGraph` with no checkpointer or store. What LangGraph's loop itself costs.
      noop chain sync / exit: the noop chain with `durability="sync"` / `"exit"` (the
      latter: the chat path's loop).
    - bare store: one `store.search` + one `store.put` of the turn — the least any memory
      layer must do per turn (issue 16's baseline: a turn's p95 ≤ 1.5x its p95).

Whole turns are timed without instrumentation, as a user runs them (the bare store has
none either); each agent mode also runs as many turns with a `NodeTimer` callback, and
the per-node breakdown (and the instrumented whole turn, for comparison) comes from those.

Writes `agent_overhead.json`, `.md` and `.png` to `benchmarks/results/` (or `--results`);
never asserts on time. With `--before JSON` (this script's JSON from a run of earlier code,
just before), the Markdown also sets that run's same-run ratios beside this run's.

    python benchmarks/agent_overhead.py [--turns 60] [--seed 500] [--before old.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import PutOp
from langgraph.types import Durability
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from hippograph.backends import memory_index_config, open_checkpointer
from hippograph.graph import build_agent
from hippograph.graph.agent import AgentBuilder, build_agent_graph
from hippograph.graph.context import Context
from hippograph.graph.state import State
from hippograph.scripted import ScriptedChatModel
from hippograph.store import FaissSqliteStore, LocalEmbeddings, Memory, memory_namespace
from hippograph.turns import CHAT_DURABILITY, TurnStream

RESULTS = Path(__file__).resolve().parent / "results"
NODES = ("retrieve", "respond", "extract", "reconcile")
AGENT_MODES = (
    "llm",
    "offline",
    "offline_sync",
    "chat",
    "chat_stream",
    "offline_thread_per_save",
    "offline_sqlitesaver",
    "offline_memory_saver",
    "offline_no_window",
    "offline_no_prefetch",
    "chat_no_prefetch",
)
# whole turns only (no per-node breakdown)
UNINSTRUMENTED = (
    "offline_sync",
    "offline_memory_saver",
    "offline_thread_per_save",
    "chat_stream",
    "offline_no_prefetch",
    "chat_no_prefetch",
    "noop_chain_sync",
    "noop_chain_exit",
)
LANGGRAPH_POOL = min(32, (os.cpu_count() or 1) + 4)
"""The thread pool a LangGraph run makes when its config sets no `max_concurrency`."""
TURNS_PER_THREAD = 5
WARMUP = 5

SUBJECTS = ["Python", "Rust", "NeoVim", "Lisbon", "jazz", "chess", "tea", "cycling", "Go", "Kafka"]
VERBS = ["I use", "I like", "I work with", "I learned", "I prefer", "I moved on from"]


def _sentence(n: int) -> str:
    subject = SUBJECTS[n % len(SUBJECTS)]
    verb = VERBS[(n // len(SUBJECTS)) % len(VERBS)]
    return f"{verb} {subject} since {1990 + n % 35}, note #{n}."


def _instant_answer(messages: list[BaseMessage]) -> Any:
    """Instant scripted replies: one fact per turn, always ADDed."""
    system = messages[0].text if messages else ""
    if "You extract durable facts" in system:
        turn = messages[-1].text.split("<message>")[-1].split("</message>")[0].strip()
        return {
            "facts": [{"content": f"User said: {turn}", "category": "other", "importance": 0.5}]
        }
    if "long-term memory consistent" in system:
        return {"actions": [{"op": "ADD"}]}
    return "Noted."


class NodeTimer(BaseCallbackHandler):
    """Wall time of each graph node run, from LangChain's chain callbacks."""

    def __init__(self) -> None:
        self.started: dict[Any, tuple[str, float]] = {}
        self.times: dict[str, list[float]] = defaultdict(list)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        name = kwargs.get("name")
        if name in NODES and (kwargs.get("metadata") or {}).get("langgraph_node") == name:
            self.started[run_id] = (name, time.perf_counter())

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        if run_id in self.started:
            name, began = self.started.pop(run_id)
            self.times[name].append(time.perf_counter() - began)


def _pcts(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "n": len(ordered),
    }


class _Mode:
    """One configuration under test: a turn runner and its timings. Agent modes run each
    turn twice, on threads of their own: once as a user does (timed whole), once with a
    `NodeTimer` attached (the per-node breakdown)."""

    def __init__(
        self,
        name: str,
        graph: Any = None,
        *,
        store: FaissSqliteStore | None = None,
        durability: Durability | None = None,
        context: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        instrumented: bool = False,
        streamed: bool = False,
    ):
        self.name, self.graph, self.store = name, graph, store
        self.durability = durability
        self.context = context or {}
        self.config = config or {}
        self.streamed = streamed  # run through `TurnStream`, as the chat surfaces do
        self.user = f"user-{name}"
        self.timer = NodeTimer() if instrumented else None
        self.turns: list[float] = []
        self.instrumented_turns: list[float] = []
        self.threads = ["", ""]

    def turn(self, n: int, text: str) -> None:
        """Run turn `n` on `text` (and, instrumented, again on a variant of it)."""
        self._timed(n, text, self.turns, None)
        if self.timer is not None:
            self._timed(n, f"{text} (again)", self.instrumented_turns, self.timer)

    def _timed(self, n: int, text: str, into: list[float], timer: NodeTimer | None) -> None:
        slot = 0 if timer is None else 1
        if n % TURNS_PER_THREAD == 0:
            self.threads[slot] = f"{self.name}-{slot}-{uuid.uuid4().hex[:8]}"
        config: dict[str, Any] = {"configurable": {"thread_id": self.threads[slot]}, **self.config}
        if timer is not None:
            config["callbacks"] = [timer]
        began = time.perf_counter()
        if self.graph is None:  # bare store: the least a memory layer does per turn
            assert self.store is not None
            namespace = memory_namespace(self.user)
            self.store.search(namespace, query=text, limit=5)
            self.store.put(namespace, uuid.uuid4().hex, Memory(content=text).to_value())
        elif self.streamed:
            "".join(TurnStream(self.graph, text, thread_id=self.threads[slot], user_id=self.user))
        else:
            self.graph.invoke(
                {"messages": [{"role": "user", "content": text}]},
                config=config,
                context={"user_id": self.user, **self.context},
                durability=self.durability,
            )
        if n >= WARMUP:
            into.append(time.perf_counter() - began)

    def results(self) -> dict[str, Any]:
        """Whole-turn percentiles; per-node (and instrumented whole-turn) ones if timed."""
        out: dict[str, Any] = {"turn": _pcts(self.turns)}
        if self.timer is not None:
            out["nodes"] = {name: _pcts(times[WARMUP:]) for name, times in self.timer.times.items()}
            out["instrumented_turn"] = _pcts(self.instrumented_turns)
        return out


def _bare_graph(model: ScriptedChatModel) -> Any:
    builder = StateGraph(State)
    builder.add_node("respond", lambda state: {"messages": [model.invoke(state["messages"])]})
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder


def _noop(state: State) -> dict[str, Any]:
    return {}


def _noop_chain(builder: StateGraph[Any, Any, Any, Any]) -> StateGraph[Any, Any, Any, Any]:
    """`builder` wired as START → four nodes that do nothing → END: the agent's loop."""
    previous = START
    for node in NODES:
        builder.add_node(node, _noop)
        builder.add_edge(previous, node)
        previous = node
    builder.add_edge(previous, END)
    return builder


def _seed(store: FaissSqliteStore, users: list[str], count: int) -> None:
    for user in tqdm(users, desc="seeding", leave=False):
        namespace = memory_namespace(user)
        for start in range(0, count, 250):
            store.batch(
                [
                    PutOp(
                        namespace, f"seed-{n}", Memory(content=f"{_sentence(n)} {user}").to_value()
                    )
                    for n in range(start, min(count, start + 250))
                ]
            )


BASELINES = (
    "bare_graph",
    "noop_chain",
    "noop_chain_sync",
    "noop_chain_exit",
    "noop_chain_bare",
    "bare_store",
)
UNSEEDED = BASELINES[:-1]  # modes whose users have no memories (they search none)


def run(turns: int, seed: int) -> dict[str, Any]:
    """Run all configurations turn by turn, interleaved in a shuffled order each round, so
    machine noise hits them alike."""
    embeddings = LocalEmbeddings()
    with tempfile.TemporaryDirectory() as tmp:
        store = FaissSqliteStore(f"{tmp}/store.db", index=memory_index_config(embeddings))
        with (
            open_checkpointer(f"{tmp}/store.db") as saver,
            SqliteSaver.from_conn_string(f"{tmp}/plain-checkpoints.db") as plain,
        ):
            model = ScriptedChatModel(default=_instant_answer)
            offline = build_agent_graph(model=None).compile(store=store, checkpointer=saver)
            unprefetched = build_agent_graph(model=None)
            unprefetched.prefetches = False  # retrieve embeds the message itself
            no_prefetch = unprefetched.compile(store=store, checkpointer=saver)
            on_plain = build_agent_graph(model=None).compile(store=store, checkpointer=plain)
            in_memory = build_agent_graph(model=None).compile(
                store=store, checkpointer=InMemorySaver()
            )
            llm = build_agent(store=store, checkpointer=saver, model=model)
            agent_loop = AgentBuilder(State, context_schema=Context)
            agent_loop.one_node_per_step = True  # its saves on one thread, as the agent's
            noop = _noop_chain(agent_loop)
            modes = [
                _Mode("llm", llm, instrumented=True),
                _Mode("offline", offline, instrumented=True),
                _Mode("offline_sync", offline, durability="sync"),
                _Mode("chat", offline, durability=CHAT_DURABILITY, instrumented=True),
                _Mode("chat_stream", offline, streamed=True),
                _Mode(
                    "offline_thread_per_save",
                    offline,
                    config={"max_concurrency": LANGGRAPH_POOL},
                ),
                _Mode("offline_sqlitesaver", on_plain, instrumented=True),
                _Mode("offline_memory_saver", in_memory),
                _Mode(
                    "offline_no_window", offline, context={"recall_window": 0}, instrumented=True
                ),
                _Mode("offline_no_prefetch", no_prefetch),
                _Mode("chat_no_prefetch", no_prefetch, durability=CHAT_DURABILITY),
                _Mode("bare_graph", _bare_graph(model).compile(checkpointer=plain)),
                _Mode("noop_chain", noop.compile(store=store, checkpointer=saver)),
                _Mode(
                    "noop_chain_sync",
                    noop.compile(store=store, checkpointer=saver),
                    durability="sync",
                ),
                _Mode(
                    "noop_chain_exit",
                    noop.compile(store=store, checkpointer=saver),
                    durability=CHAT_DURABILITY,
                ),
                _Mode("noop_chain_bare", _noop_chain(StateGraph(State)).compile()),
                _Mode("bare_store", store=store),
            ]
            _seed(store, [mode.user for mode in modes if mode.name not in UNSEEDED], seed)
            order = random.Random(0)  # modes in a new order each round: no position effects
            for n in tqdm(range(turns + WARMUP), desc="turns (all modes)"):
                for offset, mode in order.sample(list(enumerate(modes)), len(modes)):
                    mode.turn(n, _sentence(10_000 * (offset + 1) + n))
        store.close()
    results = {mode.name: mode.results() for mode in modes}
    bare = results["bare_graph"]["turn"]["p50_ms"]
    store_ops = results["bare_store"]["turn"]
    for name in AGENT_MODES:
        turn = results[name]["turn"]
        results[name]["overhead_vs_bare_graph_p50_ms"] = round(turn["p50_ms"] - bare, 2)
        for pct in ("p50", "p95"):
            results[name][f"ratio_vs_bare_store_{pct}"] = round(
                turn[f"{pct}_ms"] / store_ops[f"{pct}_ms"], 2
            )
    return results


def _markdown(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Memory agent: per-turn overhead (LLM excluded)",
        "",
        f"{meta['turns']} measured turns per mode after {WARMUP} warm-up turns; store seeded "
        f"with {meta['seed']} memories per user; real FaissSqliteStore + local MiniLM; "
        f"scripted instant chat model; SQLite checkpoints (`open_checkpointer`'s, and "
        f"LangGraph's `SqliteSaver` where named). Machine: {meta['machine']}.",
        "",
        "Whole turns, timed as a user runs them (no callback handler; the bare store has "
        "none either). The instrumented column is the same mode's turns with the benchmark's "
        "`NodeTimer` callback attached, where the per-node figures below come from.",
        "",
        "| mode | turn p50 ms | turn p95 ms | instrumented p50 / p95 ms | "
        "turn / bare store p50 | turn / bare store p95 (goal ≤ 1.5x) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in (*AGENT_MODES, *BASELINES):
        data = results[mode]
        turn, timed = data["turn"], data.get("instrumented_turn")
        lines.append(
            f"| {mode} | {turn['p50_ms']} | {turn['p95_ms']} | "
            + (f"{timed['p50_ms']} / {timed['p95_ms']} | " if timed else "| ")
            + (
                f"{data['ratio_vs_bare_store_p50']}x | {data['ratio_vs_bare_store_p95']}x |"
                if mode in AGENT_MODES
                else "| |"
            )
        )
    lines += [
        "",
        "Per node (instrumented runs):",
        "",
        "| mode | node | p50 ms | p95 ms |",
        "|---|---|---:|---:|",
    ]
    for mode in AGENT_MODES:
        nodes = results[mode].get("nodes", {})  # none for UNINSTRUMENTED modes
        for node, stats in sorted(nodes.items(), key=lambda kv: NODES.index(kv[0])):
            lines.append(f"| {mode} | {node} | {stats['p50_ms']} | {stats['p95_ms']} |")
    lines += ["", *_floor(results)]
    before = meta.get("before")
    if before:
        lines += [
            "",
            f"Before ({before['label']}; its own same-run ratios, run just before this one):",
            "",
            "| mode | turn p50 / p95 ms before | now | turn / bare store p50 / p95 before | now |",
            "|---|---:|---:|---:|---:|",
        ]
        for mode in (*AGENT_MODES, *BASELINES):
            old, new = before["results"].get(mode), results[mode]
            if old is None:
                continue
            ratios = (
                f"{old['ratio_vs_bare_store_p50']}x / {old['ratio_vs_bare_store_p95']}x | "
                f"{new['ratio_vs_bare_store_p50']}x / {new['ratio_vs_bare_store_p95']}x |"
                if mode in AGENT_MODES
                else "| |"
            )
            lines.append(
                f"| {mode} | {old['turn']['p50_ms']} / {old['turn']['p95_ms']} | "
                f"{new['turn']['p50_ms']} / {new['turn']['p95_ms']} | {ratios}"
            )
    return "\n".join(lines) + "\n"


def _floor(results: dict[str, Any]) -> list[str]:
    """Where the offline turn's time goes beyond the store work, from this run's figures."""
    nodes = results["offline"]["nodes"]
    window = (
        nodes["retrieve"]["p50_ms"] - results["offline_no_window"]["nodes"]["retrieve"]["p50_ms"]
    )
    timed = results["offline"]["instrumented_turn"]["p50_ms"]
    rest = timed - sum(stats["p50_ms"] for stats in nodes.values())
    callbacks = timed - results["offline"]["turn"]["p50_ms"]
    store = results["bare_store"]["turn"]["p50_ms"]
    loop, bare_loop = results["noop_chain"]["turn"], results["noop_chain_bare"]["turn"]
    chat_loop = results["noop_chain_exit"]["turn"]
    chat_nodes = results["chat"]["turn"]["p50_ms"] - chat_loop["p50_ms"]
    offline, in_memory = results["offline"], results["offline_memory_saver"]
    on_disk = offline["turn"]["p50_ms"] - in_memory["turn"]["p50_ms"]
    return [
        f"Floor (p50, this run): retrieve's second query (the recent-turns window) costs "
        f"{window:.1f} ms, {window / store:.2f}x the whole bare store work ({store} ms). "
        f"Beside the nodes the offline turn spends {rest:.1f} ms (instrumented turns: turn "
        f"minus its nodes): LangGraph's loop, the checkpoints, the thread check and the "
        f"`NodeTimer` callbacks, which alone add {callbacks:.1f} ms to a turn (instrumented "
        f"minus uninstrumented turn). "
        f"The same loop with no work in its four nodes (noop chain: thread check, default "
        f"checkpointer, its fsync) takes {loop['p50_ms']} / {loop['p95_ms']} ms p50 / p95, "
        f"{loop['p50_ms'] / store:.2f}x / "
        f"{loop['p95_ms'] / results['bare_store']['turn']['p95_ms']:.2f}x the bare store; "
        f"LangGraph's loop alone (no checkpointer, no store) {bare_loop['p50_ms']} / "
        f"{bare_loop['p95_ms']} ms. Without the window query the turn is "
        f"{results['offline_no_window']['ratio_vs_bare_store_p50']}x / "
        f"{results['offline_no_window']['ratio_vs_bare_store_p95']}x the bare store at "
        f'p50 / p95. The chat path\'s loop with no work (noop chain, `durability="exit"`) '
        f"takes {chat_loop['p50_ms']} / {chat_loop['p95_ms']} ms, "
        f"{chat_loop['p50_ms'] / store:.2f}x / "
        f"{chat_loop['p95_ms'] / results['bare_store']['turn']['p95_ms']:.2f}x the bare store; "
        f"the chat turn's nodes (its turn minus that loop, p50) do "
        f"{chat_nodes:.1f} ms of work, {chat_nodes / store:.2f}x the bare store. "
        f"At the default durability with LangGraph's `InMemorySaver` (every step saved, "
        f"nothing on disk) the offline turn is {in_memory['ratio_vs_bare_store_p50']}x / "
        f"{in_memory['ratio_vs_bare_store_p95']}x the bare store: saving every step to SQLite "
        f"durably adds {on_disk:.1f} ms at p50 ({offline['ratio_vs_bare_store_p50']}x / "
        f"{offline['ratio_vs_bare_store_p95']}x).",
    ]


def _plot(results: dict[str, Any], path: Path) -> None:
    """Stacked per-node p50 (instrumented runs) of each agent mode, topped up to its
    uninstrumented turn p50 (whole turns only for `UNINSTRUMENTED` modes), beside the
    baselines' whole turns, with each mode's turn p95 marked and the goal (1.5x the bare
    store's p95) as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [*AGENT_MODES, *BASELINES]
    fig, ax = plt.subplots(figsize=(13, 5))
    for x, mode in enumerate(modes):
        bottom = 0.0
        nodes = results[mode].get("nodes", {})
        for node in NODES if mode in AGENT_MODES else ():
            height = nodes.get(node, {}).get("p50_ms", 0.0)
            ax.bar(x, height, bottom=bottom, color=f"C{NODES.index(node)}", width=0.6)
            bottom += height
        turn = results[mode]["turn"]
        rest = max(0.0, turn["p50_ms"] - bottom)
        ax.bar(x, rest, bottom=bottom, color="lightgrey", width=0.6)
        ax.plot(x, turn["p95_ms"], marker="_", markersize=30, color="black")
    goal = 1.5 * results["bare_store"]["turn"]["p95_ms"]
    ax.axhline(goal, color="crimson", linestyle="--", linewidth=1)
    ax.text(
        len(modes) - 0.5,
        goal,
        " goal: 1.5x bare store p95",
        color="crimson",
        va="bottom",
        ha="right",
        fontsize=8,
    )
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{i}") for i in range(len(NODES))]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="lightgrey"))
    labels = [*NODES, "rest: loop + checkpoints (whole turn where not instrumented)"]
    ax.legend(handles, labels, fontsize=8)
    ax.set_xticks(range(len(modes)), [mode.replace("_", "\n") for mode in modes], fontsize=7)
    ax.set_ylabel("ms per turn (bars: p50, nodes instrumented; tick: p95)")
    ax.set_title("Offline memory turn vs its store work (same run, uninstrumented turns)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Parse arguments, run, print a table and write JSON + Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--seed", type=int, default=500, help="memories per user beforehand")
    parser.add_argument("--before", type=Path, help="this script's JSON from earlier code")
    parser.add_argument("--before-label", default="the previous code", help="what --before ran")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write")
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    results = run(args.turns, args.seed)
    meta = {
        "turns": args.turns,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    if args.before is not None:
        earlier = json.loads(args.before.read_text())
        earlier.pop("meta", None)
        meta["before"] = {"label": args.before_label, "results": earlier}
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / "agent_overhead.json"
    out.write_text(json.dumps({"meta": meta, **results}, indent=2))
    markdown = _markdown(results, meta)
    (args.results / "agent_overhead.md").write_text(markdown)
    _plot(results, args.results / "agent_overhead.png")
    table = Table(title="whole turns, uninstrumented (ms)")
    for column in ("mode", "p50", "p95", "/ bare store p50", "/ bare store p95"):
        table.add_column(column)
    for mode, data in results.items():
        ratios = [f"{data.get(f'ratio_vs_bare_store_{pct}', '')}" for pct in ("p50", "p95")]
        table.add_row(mode, str(data["turn"]["p50_ms"]), str(data["turn"]["p95_ms"]), *ratios)
    Console().print(table)
    print(_floor(results)[0])


if __name__ == "__main__":
    main()
