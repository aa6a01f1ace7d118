"""What tracing costs a turn: the same turns with tracing off and on, in one run.

Three conditions, interleaved in blocks so machine noise hits them alike:
    - off: no tracing (the default);
    - on, in memory: the instrumentation alone (OpenInference's LangChain spans, run
      attributes, embedder spans), spans kept in memory;
    - on, OTLP: what a user runs — spans batched and sent over OTLP/HTTP to a collector
      on loopback (a sink in a subprocess that accepts and discards them, so the number
      is hippograph's cost, not a backend's).

Each in two modes: `llm` (a scripted instant model, so the model calls are traced but
cost nothing) and `offline` (no model). Real `FaissSqliteStore` + local MiniLM on a temp
file seeded with `--seed` memories per user, `SqliteSaver` checkpoints.

Writes `benchmarks/results/tracing_overhead.{json,md,png}`; never asserts on time.

    python benchmarks/tracing_overhead.py [--turns 60] [--block 10] [--seed 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent_overhead import WARMUP, _instant_answer, _pcts, _seed, _sentence
from langgraph.checkpoint.sqlite import SqliteSaver
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tqdm import tqdm

from hippograph.backends import memory_index_config
from hippograph.config import TracingSettings
from hippograph.graph import build_agent
from hippograph.scripted import ScriptedChatModel
from hippograph.store import FaissSqliteStore, LocalEmbeddings
from hippograph.tracing import setup_tracing

RESULTS = Path(__file__).resolve().parent / "results"
CONDITIONS = ("off", "on_memory", "on_otlp")
MODES = ("llm", "offline")
TURNS_PER_THREAD = 5


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that reads each export and answers 200 (empty response)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _serve_sink(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Sink).serve_forever()


def _start_sink() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return sink, f"http://127.0.0.1:{port}"


class _Runner:
    """Turns of one mode; per-condition turn times."""

    def __init__(self, mode: str, graph: Any) -> None:
        self.mode, self.graph = mode, graph
        self.user = f"user-{mode}"
        self.thread = ""
        self.count = 0
        self.times: dict[str, list[float]] = {c: [] for c in CONDITIONS}

    def turn(self, condition: str, text: str, measured: bool) -> None:
        if self.count % TURNS_PER_THREAD == 0:
            self.thread = f"{self.mode}-{uuid.uuid4().hex[:8]}"
        self.count += 1
        began = time.perf_counter()
        self.graph.invoke(
            {"messages": [{"role": "user", "content": text}]},
            config={"configurable": {"thread_id": self.thread}},
            context={"user_id": self.user},
        )
        if measured:
            self.times[condition].append(time.perf_counter() - began)


def _tracing(condition: str, endpoint: str) -> Any:
    if condition == "off":
        return None
    settings = TracingSettings(mode="otlp", salt="bench")
    if condition == "on_memory":
        return setup_tracing(settings, exporter=InMemorySpanExporter())
    import os

    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    return setup_tracing(settings)


def run(turns: int, block: int, seed: int) -> dict[str, Any]:
    """All conditions × modes, in interleaved blocks of `block` turns."""
    sink, endpoint = _start_sink()
    embeddings = LocalEmbeddings()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = FaissSqliteStore(f"{tmp}/store.db", index=memory_index_config(embeddings))
            with SqliteSaver.from_conn_string(f"{tmp}/checkpoints.db") as saver:
                model = ScriptedChatModel(default=_instant_answer)
                runners = [
                    _Runner("llm", build_agent(store=store, checkpointer=saver, model=model)),
                    _Runner("offline", build_agent(store=store, checkpointer=saver, model=None)),
                ]
                _seed(store, [r.user for r in runners], seed)
                for runner in runners:  # warm-up, untraced and traced
                    for n in range(WARMUP):
                        runner.turn("off", _sentence(50_000 + n), measured=False)
                rounds = max(1, turns // block)
                n = 0
                for r in tqdm(range(rounds), desc="rounds (3 conditions × 2 modes)"):
                    order = CONDITIONS[r % 3 :] + CONDITIONS[: r % 3]  # no order effects
                    for condition in order:
                        tracing = _tracing(condition, endpoint)
                        for runner in runners:  # one unmeasured turn after each switch
                            runner.turn(condition, _sentence(90_000 + n), measured=False)
                            n += 1
                        for _ in range(block):
                            for runner in runners:
                                runner.turn(condition, _sentence(n), measured=True)
                                n += 1
                        if tracing is not None:
                            tracing.flush()
                            tracing.shutdown()
            store.close()
    finally:
        sink.terminate()
        sink.wait()
    results: dict[str, Any] = {}
    for runner in runners:
        stats = {c: _pcts(runner.times[c]) for c in CONDITIONS}
        off = stats["off"]["p50_ms"]
        for c in CONDITIONS[1:]:
            stats[c]["ratio_vs_off_p50"] = round(stats[c]["p50_ms"] / off, 3)
            stats[c]["added_p50_ms"] = round(stats[c]["p50_ms"] - off, 2)
        results[runner.mode] = stats
    return results


def _markdown(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Tracing overhead: a turn with tracing off vs on (same run)",
        "",
        f"{meta['turns']} measured turns per condition and mode, in interleaved blocks of "
        f"{meta['block']} (the order of conditions rotating, one unmeasured turn after each "
        f"switch), after {WARMUP} warm-up turns; store seeded with {meta['seed']} "
        "memories per user; real FaissSqliteStore + local MiniLM; SqliteSaver checkpoints; "
        "`llm` = scripted instant chat model (its three calls are traced), `offline` = no "
        f"model. OTLP/HTTP to a loopback sink. Machine: {meta['machine']}.",
        "",
        "| mode | condition | p50 ms | p95 ms | p50 vs off | added p50 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode, stats in results.items():
        for condition, row in stats.items():
            ratio = f"{row['ratio_vs_off_p50']:.2f}x" if "ratio_vs_off_p50" in row else "1.00x"
            added = f"{row.get('added_p50_ms', 0.0):+.2f}"
            lines.append(
                f"| {mode} | {condition} | {row['p50_ms']} | {row['p95_ms']} | {ratio} | {added} |"
            )
    lines += ["", "![tracing overhead](tracing_overhead.png)", ""]
    return "\n".join(lines)


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.26
    labels = {"off": "tracing off", "on_memory": "on (spans in memory)", "on_otlp": "on (OTLP)"}
    for i, condition in enumerate(CONDITIONS):
        values = [results[m][condition]["p50_ms"] for m in MODES]
        xs = [x + (i - 1) * width for x in range(len(MODES))]
        bars = ax.bar(xs, values, width, label=labels[condition])
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(range(len(MODES)), [f"{m} turn" for m in MODES])
    ax.set_ylabel("p50 ms per turn")
    ax.set_title("A turn with tracing off vs on (same run)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--seed", type=int, default=200)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        _serve_sink(args.sink)
        return
    results = run(args.turns, args.block, args.seed)
    meta = {
        "turns": args.turns,
        "block": args.block,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tracing_overhead.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    (RESULTS / "tracing_overhead.md").write_text(_markdown(results, meta))
    _plot(results, RESULTS / "tracing_overhead.png")
    print(_markdown(results, meta))


if __name__ == "__main__":
    main()
