"""Retrieve's window query on LoCoMo: the joined text embedded vs vectors pooled per message.

Retrieve searches with the latest user message and, as a second query, that message joined
with the last three earlier ones (the recent-turns window), so a follow-up matches what the
conversation is about. The window's vector used to be the joined text's embedding (a model
run over ~48 tokens every turn); it is now pooled from the messages' own vectors
(`hippograph.memory.window.pooled`). This measures what that does to recall.

Cases: each LoCoMo question (categories 1-4) whose first evidence turn has at least three
turns before it in its session. The three turns before the evidence are the conversation
so far (the window: what was being talked about), the question is the latest message, and
every turn of the conversation is a memory (window turns are skipped by the window query,
as retrieve skips the turns it quotes). Two tasks:

    - as_asked: the window turns' text, the question as the dataset asks it;
    - pronoun: the window turns with their speaker ("Caroline: ..."), the speakers' names in
      the question replaced by "they"/"their" — a follow-up that needs the window to say
      whom it is about.

Two measurements:

    - vector: exact cosine in numpy, the two queries merged as retrieve merges them (best
      weighted score, window weight 0.9); variants none / joined / pooled with the latest
      message's share at 1/n (plain mean), 0.4, 0.5 (shipped), 0.6.
    - product: the recall graph on a `FaissSqliteStore` with the shipped hybrid search
      (`MEMORY_SEARCH`, keywords from the joined text in every variant); none
      (`recall_window=0`) / joined (a store that takes no given vectors) / pooled.

Recall@k: a case is a hit when any evidence turn is in the top k. "+a -b vs joined" counts
the cases a variant finds at k=10 that joined misses, and the reverse (paired, same cases).
Writes `benchmarks/results/window_recall.{json,md,png}`.

    python benchmarks/window_recall.py [--data /work/shared/data/locomo]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from langchain_core.messages import HumanMessage
from langgraph.store.base import PutOp
from tqdm import tqdm

from hippograph.backends import memory_index_config
from hippograph.eval.dataset import Conversation, load_conversations
from hippograph.eval.embedding_cache import DiskCachedEmbeddings
from hippograph.graph import build_recall_graph
from hippograph.memory.window import LATEST_SHARE, pooled
from hippograph.nodes.retrieve import WINDOW_WEIGHT
from hippograph.store import FaissSqliteStore, LocalEmbeddings, memory_namespace
from hippograph.store.ranking.policy import MEMORY_SEARCH

ROOT = Path(__file__).resolve().parent
WINDOW = 3
TASKS = ("as_asked", "pronoun")
SHARES: dict[str, float | None] = {"mean": None, "share 0.4": 0.4, "share 0.5": 0.5}
SHARES["share 0.6"] = 0.6
VECTOR_VARIANTS = ("none", "joined", *SHARES)
PRODUCT_VARIANTS = ("none", "joined", "pooled")


@dataclass(frozen=True)
class Case:
    """One follow-up: the window's messages (ids and texts), the question, the evidence."""

    window_ids: tuple[str, ...]
    window: tuple[str, ...]
    question: str
    evidence: frozenset[str]


class JoinedTextStore(FaissSqliteStore):
    """The store as before: it takes no given query vectors, so the joined text is embedded."""

    takes_query_vectors = False


def cases(conversation: Conversation, task: str) -> list[Case]:
    """The conversation's follow-up cases for `task` (see the module docstring)."""
    where = {
        turn.dia_id: (session, n)
        for session in conversation.sessions
        for n, turn in enumerate(session.turns)
    }
    names = "|".join(map(re.escape, conversation.speakers))
    found = []
    for q in conversation.questions:
        if q.category not in (1, 2, 3, 4) or not q.evidence or q.evidence[0] not in where:
            continue
        session, n = where[q.evidence[0]]
        if n < WINDOW:
            continue
        turns = session.turns[n - WINDOW : n]
        question = q.question
        if task == "pronoun":
            question = re.sub(rf"\b(?:{names})'s\b", "their", question)
            question = re.sub(rf"\b(?:{names})\b", "they", question)
            if question == q.question:
                continue
        texts = tuple(t.content if task == "pronoun" else t.text for t in turns)
        ids = tuple(t.dia_id for t in turns)
        found.append(Case(ids, texts, question, frozenset(q.evidence)))
    return found


def _unit(rows: Any) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def vector_ranks(
    conversation: Conversation, found: list[Case], embeddings: DiskCachedEmbeddings
) -> dict[str, list[list[str]]]:
    """Top-10 dia_ids per case for each vector variant (exact cosine, retrieve's merge)."""
    turns = conversation.turns
    ids = [t.dia_id for t in turns]
    memories = _unit(embeddings.embed_documents([t.content for t in turns]))
    latest = _unit(embeddings.embed_documents([c.question for c in found]))
    joined = _unit(embeddings.embed_documents(["\n".join([*c.window, c.question]) for c in found]))
    texts = sorted({text for c in found for text in c.window})
    own = dict(zip(texts, _unit(embeddings.embed_documents(texts)), strict=True))
    position = {dia_id: i for i, dia_id in enumerate(ids)}
    ranks: dict[str, list[list[str]]] = {v: [] for v in VECTOR_VARIANTS}
    for n, case in enumerate(found):
        vectors = [own[text] for text in case.window] + [latest[n]]
        window = {"joined": joined[n]}
        for name, share in SHARES.items():
            window[name] = pooled(vectors, 1 / len(vectors) if share is None else share)
        base = memories @ latest[n]
        skipped = [position[i] for i in case.window_ids]
        for variant in VECTOR_VARIANTS:
            score = base.copy()
            if variant != "none":
                by_window = (memories @ window[variant]) * WINDOW_WEIGHT
                by_window[skipped] = -np.inf
                score = np.maximum(score, by_window)
            ranks[variant].append([ids[i] for i in np.argsort(-score)[:10]])
    return ranks


def product_ranks(
    conversation: Conversation, found: list[Case], embeddings: DiskCachedEmbeddings, folder: Path
) -> dict[str, list[list[str]]]:
    """Top-10 dia_ids per case for each product variant (the recall graph, hybrid search)."""
    ranks: dict[str, list[list[str]]] = {v: [] for v in PRODUCT_VARIANTS}
    namespace = memory_namespace("locomo")
    puts = [
        PutOp(
            namespace,
            turn.dia_id,
            {"content": turn.content, "source": {"message_ids": [turn.dia_id]}},
        )
        for turn in conversation.turns
    ]
    for variant in PRODUCT_VARIANTS:
        kind = JoinedTextStore if variant == "joined" else FaissSqliteStore
        path = folder / f"{conversation.id}-{variant}.db"
        with kind(str(path), index=memory_index_config(embeddings), hybrid=MEMORY_SEARCH) as store:
            store.batch(puts)
            recall = build_recall_graph(store=store)
            context = {"user_id": "locomo", "k": 10, "recall_window": 0 if variant == "none" else 3}
            for case in found:
                messages = [
                    *(
                        HumanMessage(t, id=i)
                        for i, t in zip(case.window_ids, case.window, strict=True)
                    ),
                    HumanMessage(case.question),
                ]
                out = recall.invoke({"messages": messages}, context=context)
                ranks[variant].append([m["key"] for m in out["recalled"]])
    return ranks


def scores(found: list[Case], ranks: dict[str, list[list[str]]]) -> dict[str, dict[str, Any]]:
    """R@5, R@10 and the paired wins / losses at 10 against `joined`, per variant."""
    hits = {
        v: {
            k: np.array([bool(c.evidence & set(r[:k])) for c, r in zip(found, rs, strict=True)])
            for k in (5, 10)
        }
        for v, rs in ranks.items()
    }
    joined = hits["joined"][10]
    return {
        v: {
            "R@5": round(float(h[5].mean()), 4),
            "R@10": round(float(h[10].mean()), 4),
            "wins_vs_joined@10": int((h[10] & ~joined).sum()),
            "losses_vs_joined@10": int((joined & ~h[10]).sum()),
        }
        for v, h in hits.items()
    }


def _table(
    title: str, results: dict[str, dict[str, dict[str, Any]]], counts: dict[str, int]
) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| task | variant | R@5 | R@10 | vs joined @10 |",
        "|---|---|---:|---:|---:|",
    ]
    for task, by_variant in results.items():
        for variant, s in by_variant.items():
            lines.append(
                f"| {task} ({counts[task]}) | {variant} | {s['R@5']:.4f} | {s['R@10']:.4f} | "
                f"+{s['wins_vs_joined@10']} -{s['losses_vs_joined@10']} |"
            )
    return [*lines, ""]


def _plot(vector: dict[str, Any], product: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (title, results) in zip(
        axes,
        (("vector (exact cosine)", vector), ("product (recall graph, hybrid)", product)),
        strict=True,
    ):
        variants = list(next(iter(results.values())))
        width = 0.8 / len(variants)
        for i, variant in enumerate(variants):
            values = [results[task][variant]["R@10"] for task in results]
            ax.bar(np.arange(len(results)) + i * width, values, width, label=variant)
        ax.set_xticks(np.arange(len(results)) + 0.4 - width / 2, list(results))
        ax.set_title(title)
        ax.set_ylabel("recall@10 (any evidence turn)")
        ax.legend(fontsize=8)
    fig.suptitle("LoCoMo follow-ups: the window query's vector, joined text vs pooled")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Run both measurements on every conversation and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/locomo"))
    args = parser.parse_args()
    started = time.perf_counter()
    conversations = load_conversations(args.data)
    embeddings = DiskCachedEmbeddings(LocalEmbeddings())
    vector: dict[str, Any] = {}
    product: dict[str, Any] = {}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS:
            all_cases: list[Case] = []
            vector_all: dict[str, list[list[str]]] = {v: [] for v in VECTOR_VARIANTS}
            product_all: dict[str, list[list[str]]] = {v: [] for v in PRODUCT_VARIANTS}
            for conversation in tqdm(conversations, desc=task):
                found = cases(conversation, task)
                if not found:
                    continue
                all_cases += found
                for v, r in vector_ranks(conversation, found, embeddings).items():
                    vector_all[v] += r
                for v, r in product_ranks(
                    conversation, found, embeddings, Path(tmp) / task
                ).items():
                    product_all[v] += r
            counts[task] = len(all_cases)
            vector[task] = scores(all_cases, vector_all)
            product[task] = scores(all_cases, product_all)
    out = ROOT / "results"
    payload = {
        "meta": {
            "window": WINDOW,
            "window_weight": WINDOW_WEIGHT,
            "shipped_latest_share": LATEST_SHARE,
            "cases": counts,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "vector": vector,
        "product": product,
    }
    (out / "window_recall.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Retrieve's window query: joined text embedded vs vectors pooled per message",
        "",
        f"LoCoMo follow-up cases (see `benchmarks/window_recall.py`): {counts}. "
        f"Shipped: pooled, latest message's share {LATEST_SHARE}.",
        "",
        *_table("Vector only (exact cosine, retrieve's merge)", vector, counts),
        *_table(
            "Product path (recall graph, FaissSqliteStore, MEMORY_SEARCH hybrid)", product, counts
        ),
        "![recall@10](window_recall.png)",
        "",
    ]
    (out / "window_recall.md").write_text("\n".join(lines))
    _plot(vector, product, out / "window_recall.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
