"""Memory behaviour per mode: the behaviour suite's scenarios, pass rate and seconds per turn.

    python -m benchmarks.memory_behaviour [--modes offline,scripted,local] [--out DIR]

(from the repository root: the scenarios live in the test suite).

Plays every scenario of `tests/behaviour/scenarios.py` through the real agent on a fresh
`FaissSqliteStore`, in each mode that promises it: offline (no model), scripted (an oracle
`ScriptedChatModel`: the pipeline with perfect answers) and local (the bundled
Qwen2.5-Coder-1.5B through `ChatOpenAI`, greedy). Writes `memory_behaviour.json` and
`memory_behaviour.md` (pass rate per mode, each scenario's result and what failed, and the
seconds per turn — a whole turn: retrieve, respond, extract, reconcile). It never asserts
on time; the load of the machine is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hippograph.backends import memory_index_config
from hippograph.store import FaissSqliteStore
from hippograph.store.embeddings import shared_local_embeddings
from tests.behaviour.scenarios import (
    MODES,
    SCENARIOS,
    Mode,
    Outcome,
    Scenario,
    run_scenario,
    scenario_agent,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _given(agent: Any, store: FaissSqliteStore) -> Callable[[Scenario], tuple[Any, Any]]:
    return lambda _scenario: (agent, store)


def run(modes: list[Mode]) -> dict[str, Any]:
    """Play every scenario in every requested mode; the results as plain data."""
    local = None
    if "local" in modes:
        from hippograph.memory.chat_models import resolve_chat_model

        started = time.perf_counter()
        local = resolve_chat_model("local")
        print(f"local model ready in {time.perf_counter() - started:.1f} s", flush=True)
    embeddings = shared_local_embeddings()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="hippograph-behaviour-") as folder:
        for mode in modes:
            for scenario in (s for s in SCENARIOS if mode in s.modes):
                path = Path(folder) / f"{scenario.name}-{mode}.db"
                with FaissSqliteStore.from_conn_string(
                    str(path), index=memory_index_config(embeddings)
                ) as store:
                    agent = scenario_agent(scenario, mode, store, local)
                    outcome = run_scenario(scenario, mode, _given(agent, store))
                outcomes.append(outcome)
                mark = "pass" if outcome.passed else "FAIL"
                seconds = ", ".join(f"{t:.1f}" for t in outcome.turn_seconds)
                print(f"{mode:8} {scenario.name:32} {mark}  turns: {seconds} s", flush=True)
                for failure in outcome.failed:
                    print(f"         - {failure}", flush=True)
    per_mode = {}
    for mode in modes:
        mine = [o for o in outcomes if o.mode == mode]
        turns = [t for o in mine for t in o.turn_seconds]
        per_mode[mode] = {
            "scenarios": len(mine),
            "passed": sum(o.passed for o in mine),
            "turns": len(turns),
            "turn_p50_s": round(statistics.median(turns), 2) if turns else None,
            "turn_p95_s": round(_percentile(turns, 0.95), 2) if turns else None,
            "turn_max_s": round(max(turns), 2) if turns else None,
        }
    return {
        "modes": per_mode,
        "scenarios": [
            {
                "scenario": o.scenario,
                "mode": o.mode,
                "passed": o.passed,
                "failed": o.failed,
                "warnings": o.warnings,
                "turn_seconds": [round(t, 2) for t in o.turn_seconds],
            }
            for o in outcomes
        ],
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "local_threads": os.environ.get("HIPPOGRAPH_LOCAL_THREADS", "default"),
        },
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table plus the per-scenario results."""
    lines = [
        "# Memory behaviour per mode",
        "",
        "Scenarios of `tests/behaviour/scenarios.py` played through the real agent "
        "(retrieve → respond → extract → reconcile) on a fresh `FaissSqliteStore`; "
        "properties of the end state, never exact text. "
        "`python -m benchmarks.memory_behaviour`.",
        "",
        "| mode | scenarios passed | turns | s/turn p50 | s/turn p95 | s/turn max |",
        "|---|---|---|---|---|---|",
    ]
    for mode, row in report["modes"].items():
        lines.append(
            f"| {mode} | {row['passed']} / {row['scenarios']} | {row['turns']} | "
            f"{row['turn_p50_s']} | {row['turn_p95_s']} | {row['turn_max_s']} |"
        )
    machine = report["machine"]
    lines += [
        "",
        f"Machine: {machine['cpus']} CPUs, load average {machine['load_average']} at the end "
        f"(a shared box: the seconds are this run's, not a claim); local model threads: "
        f"{machine['local_threads']}.",
        "",
        "| scenario | mode | result | seconds per turn |",
        "|---|---|---|---|",
    ]
    for row in report["scenarios"]:
        result = "pass" if row["passed"] else "FAIL: " + "; ".join(row["failed"])
        seconds = ", ".join(str(t) for t in row["turn_seconds"])
        lines.append(f"| {row['scenario']} | {row['mode']} | {result} | {seconds} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    wanted = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(wanted) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    modes = [m for m in MODES if m in wanted]
    report = run(modes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "memory_behaviour.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "memory_behaviour.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
