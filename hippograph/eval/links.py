"""Link expansion in the evaluation: the same questions asked with and without following
links, on the same stores, in the same run.

Core pieces:
    - `LINKS_OFF` / `LINKS_ON`: the names of the two variants in `EvalResults.results`
      (kept out of the baselines by the report).
    - `count_links`: how many links ingest made for a conversation.
    - `link_section` / `link_markdown`: the report's `link_expansion` section — R@k and MRR
      per category for both variants, the difference, how many links there are and how
      often a result reached through a link was evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from langgraph.store.base import BaseStore

from hippograph.eval.dataset import SCORED_CATEGORIES
from hippograph.eval.metrics import QuestionResult, summarize
from hippograph.store import memory_namespace
from hippograph.store.links import LinkExpansion, links_of

LINKS_OFF = "hippograph (links off)"
LINKS_ON = "hippograph (links on)"
VARIANTS = (LINKS_OFF, LINKS_ON)

_COUNT_LIMIT = 1_000_000


def count_links(store: BaseStore, user_id: str) -> int | None:
    """Links in `user_id`'s memories (`None` when the store keeps none)."""
    linked = links_of(store)
    if linked is None:
        return None
    return len(linked.links(memory_namespace(user_id), limit=_COUNT_LIMIT))


def _summary(results: Sequence[QuestionResult], ks: Sequence[int]) -> dict[str, Any]:
    return {
        **summarize(results, ks),
        "by_category": {
            str(c): summarize([r for r in results if r.category == c], ks)
            for c in SCORED_CATEGORIES
        },
    }


def _reached(results: Sequence[QuestionResult], k: int) -> dict[str, Any]:
    """How often the top `k` held a result reached through a link, and how often such a
    result was evidence."""
    reached = [(r, h) for r in results for h in r.hits[:k] if h.via is not None]
    useful = sum(1 for r, h in reached if set(r.evidence) & set(h.message_ids))
    questions = sum(1 for r in results if any(h.via is not None for h in r.hits[:k]))
    return {
        f"questions_with_reached@{k}": questions,
        f"reached@{k}": len(reached),
        f"reached_evidence@{k}": useful,
        f"reached_precision@{k}": round(useful / len(reached), 4) if reached else None,
    }


def link_section(
    results: dict[str, list[QuestionResult]],
    ks: Sequence[int],
    settings: LinkExpansion,
    *,
    shipped: bool,
    links: dict[str, int | None],
) -> dict[str, Any] | None:
    """The report's `link_expansion` section (`None` when the run did not compare)."""
    if not all(results.get(name) for name in VARIANTS):
        return None
    off, on = (_summary(results[name], ks) for name in VARIANTS)
    delta = {"overall": round(on["recall_any@10"] - off["recall_any@10"], 4)}
    for c, row in on["by_category"].items():
        delta[c] = round(row["recall_any@10"] - off["by_category"][c]["recall_any@10"], 4)
    return {
        "settings": asdict(settings),
        "shipped": shipped,
        "links": links,
        "off": off,
        "on": {**on, **_reached(results[LINKS_ON], 10)},
        "delta_recall_any@10": delta,
    }


def _fmt(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) else "–"


def link_markdown(
    section: dict[str, Any],
    categories: dict[str, str],
    by_conversation: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The Markdown lines of the `link_expansion` section, with a row per conversation
    when `by_conversation` (the report's, keyed by variant) holds both variants."""
    settings, off, on = section["settings"], section["off"], section["on"]
    total = sum(n for n in section["links"].values() if n)
    lines = [
        "",
        "## Link expansion (same stores, same questions)",
        "",
        f"Searches follow links from their {settings['seeds']} best results "
        f"({settings['hops']} hop, score × {settings['decay']} × link weight, at most "
        f"{settings['per_seed']} links per result); ingest made {total} links "
        f"({', '.join(f'{c}: {n}' for c, n in section['links'].items())}). "
        f"Shipped {'on' if section['shipped'] else 'off'} by default.",
        "",
        "| category | n | R@1 off → on | R@5 off → on | R@10 off → on | Δ R@10 | R@20 off → on "
        "| MRR off → on |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("all (1–4)", off, on, section["delta_recall_any@10"]["overall"])]
    for c, name in categories.items():
        if c in off["by_category"] and off["by_category"][c]["questions"]:
            rows.append(
                (
                    f"{c} {name}",
                    off["by_category"][c],
                    on["by_category"][c],
                    section["delta_recall_any@10"][c],
                )
            )
    for label, before, after, delta in rows:
        cells = [
            f"{_fmt(before[m])} → {_fmt(after[m])}"
            for m in ("recall_any@1", "recall_any@5", "recall_any@10")
        ]
        cells.append(f"{delta:+.3f}")
        cells += [f"{_fmt(before[m])} → {_fmt(after[m])}" for m in ("recall_any@20", "mrr")]
        lines.append(f"| {label} | {before['questions']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"With links on, {on['questions_with_reached@10']} questions had a result reached "
        f"through a link in their top 10 ({on['reached@10']} such results, "
        f"{on['reached_evidence@10']} of them evidence: precision "
        f"{_fmt(on['reached_precision@10'])}).",
    ]
    if by_conversation and all(name in by_conversation for name in VARIANTS):
        lines += _conversation_lines(section["links"], *(by_conversation[n] for n in VARIANTS))
    return lines


def _conversation_lines(
    links: dict[str, int | None], off: dict[str, Any], on: dict[str, Any]
) -> list[str]:
    """Per conversation, categories 1–4: R@5, R@10 and MRR off → on."""
    lines = [
        "",
        "| conversation | links | n | R@5 off → on | R@10 off → on | Δ R@10 | MRR off → on |",
        "|---|---|---|---|---|---|---|",
    ]
    for cid, before in off.items():
        after = on[cid]
        cells = [f"{_fmt(before[m])} → {_fmt(after[m])}" for m in ("recall_any@5", "recall_any@10")]
        cells.append(f"{after['recall_any@10'] - before['recall_any@10']:+.3f}")
        cells.append(f"{_fmt(before['mrr'])} → {_fmt(after['mrr'])}")
        count = links.get(cid)
        lines.append(
            f"| {cid} | {'–' if count is None else count} | {before['questions']} | "
            + " | ".join(cells)
            + " |"
        )
    return lines
