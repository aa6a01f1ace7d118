"""What linked memories cost: ingest with and without entity links, search with and without
link expansion — interleaved in one run, on real LoCoMo turns and questions.

Ingest: every turn of the conversation goes through the remember subgraph (verbatim mode)
twice, into two fresh stores — entity links on (`entity_link_limit=5`, shipped) and off
(`0`) — alternating which store goes first turn by turn, so machine noise hits both alike.
Texts are embedded once beforehand (a shared cache), so the timings are the memory path,
not the embedder. Search: every question of categories 1–4, against the linked store, with
expansion off and on (`LinkExpansion()`), alternating which goes first.

Writes `benchmarks/results/locomo_links/cost.json` and `cost.md`; never asserts on time.

    python benchmarks/link_cost.py [--data DIR] [--conversation 26]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from hippograph.backends import open_store
from hippograph.eval.dataset import SCORED_CATEGORIES, load_conversations
from hippograph.eval.ingest import TurnIngestor
from hippograph.eval.links import count_links
from hippograph.eval.runner import SharedEmbeddings
from hippograph.store import LocalEmbeddings, memory_namespace
from hippograph.store.links import LinkExpansion, link_expansion

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "locomo_links"


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "n": len(ms),
    }


def measure_ingest(conversation: Any, stores: dict[str, Any]) -> dict[str, list[float]]:
    """Seconds per turn for each `{name: TurnIngestor}`, alternating which goes first."""
    user = conversation.id
    ingest: dict[str, list[float]] = {name: [] for name in stores}
    bar = tqdm(total=len(conversation.turns), desc="ingest", unit="turn")
    n = 0
    for session in conversation.sessions:
        previous = None
        for turn in session.turns:
            for name in list(stores) if n % 2 == 0 else list(reversed(stores)):
                start = time.perf_counter()
                stores[name](user, previous, turn, session.at, thread_id=f"{user}/{session.number}")
                ingest[name].append(time.perf_counter() - start)
            previous, n = turn, n + 1
            bar.update()
    bar.close()
    return ingest


def measure_search(store: Any, user: str, questions: list[str]) -> dict[str, list[float]]:
    """Seconds per search with expansion off and on, alternating which goes first."""
    settings: dict[str, LinkExpansion | None] = {
        "expansion off": None,
        "expansion on": LinkExpansion(),
    }
    search: dict[str, list[float]] = {name: [] for name in settings}
    for n, question in enumerate(tqdm(questions, desc="search", unit="q")):
        for name in list(settings) if n % 2 == 0 else list(reversed(settings)):
            with link_expansion(settings[name]):
                start = time.perf_counter()
                store.search(memory_namespace(user), query=question, limit=20)
                search[name].append(time.perf_counter() - start)
    return search


def write(result: dict[str, Any]) -> None:
    """`cost.json`, `cost.md` and a table on the console."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cost.json").write_text(json.dumps(result, indent=1) + "\n")
    title = f"Linked memories: cost (LoCoMo conversation {result['conversation']}, same run)"
    table = Table(title=title)
    for column in ("operation", "variant", "p50 ms", "p95 ms", "mean ms", "n"):
        table.add_column(column)
    lines = [
        f"# {title}",
        "",
        f"{result['turns']} turns ingested, {result['links']} links made.",
        "",
        "| operation | variant | p50 ms | p95 ms | mean ms | n |",
        "|---|---|---|---|---|---|",
    ]
    for operation, key in (("ingest one turn", "ingest"), ("search (k=20)", "search")):
        for name, row in result[key].items():
            cells = [f"{row['p50_ms']}", f"{row['p95_ms']}", f"{row['mean_ms']}", str(row["n"])]
            table.add_row(operation, name, *cells)
            lines.append(f"| {operation} | {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"p50 ratios: ingest links on / off = {result['ingest_ratio_p50']}, "
        f"search expansion on / off = {result['search_ratio_p50']}.",
    ]
    (RESULTS / "cost.md").write_text("\n".join(lines) + "\n")
    Console().print(table)
    Console().print(lines[-1])


def main() -> None:
    """Run both comparisons and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--conversation", default="26")
    args = parser.parse_args()
    (conversation,) = load_conversations(args.data, (args.conversation,))
    questions = [q.question for q in conversation.questions if q.category in SCORED_CATEGORIES]
    embeddings = SharedEmbeddings(LocalEmbeddings())
    embeddings.embed_documents([t.text for t in conversation.turns] + questions)  # warm cache
    user = conversation.id
    with (
        tempfile.TemporaryDirectory() as folder,
        open_store(Path(folder) / "on.db", embeddings=embeddings) as linked,
        open_store(Path(folder) / "off.db", embeddings=embeddings) as plain,
    ):
        ingest = measure_ingest(
            conversation,
            {
                "links on": TurnIngestor(linked, entity_link_limit=5),
                "links off": TurnIngestor(plain, entity_link_limit=0),
            },
        )
        links = count_links(linked, user)
        search = measure_search(linked, user, questions)
    result: dict[str, Any] = {
        "conversation": user,
        "turns": len(conversation.turns),
        "links": links,
        "ingest": {name: _summary(values) for name, values in ingest.items()},
        "search": {name: _summary(values) for name, values in search.items()},
        "machine": {"python": platform.python_version(), "cpus": "2 (shared)"},
    }
    on, off = result["ingest"]["links on"], result["ingest"]["links off"]
    result["ingest_ratio_p50"] = round(on["p50_ms"] / off["p50_ms"], 3)
    on, off = result["search"]["expansion on"], result["search"]["expansion off"]
    result["search_ratio_p50"] = round(on["p50_ms"] / off["p50_ms"], 3)
    write(result)


if __name__ == "__main__":
    main()
