"""The local report of an evaluation run: `report.json`, `report.md` and PNG plots.

`report.json` carries DESIGN §7's keys — `overall`, `by_category` (ours) and `baselines`
(each with the same metrics plus its own `by_category`) — and more: per-conversation
numbers, latency, ingest operations, judge results, link expansion off vs on (with
`--compare-links`), the configuration, and every question's retrieved ids and scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hippograph.eval.dataset import CATEGORY_NAMES, SCORED_CATEGORIES
from hippograph.eval.links import VARIANTS, link_markdown, link_section
from hippograph.eval.metrics import QuestionResult, latency_summary, summarize
from hippograph.eval.runner import OURS, EvalResults

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def _by_category(results: Sequence[QuestionResult], ks: Sequence[int]) -> dict[str, Any]:
    return {
        str(c): summarize([r for r in results if r.category == c], ks) for c in SCORED_CATEGORIES
    }


def _by_conversation(results: Sequence[QuestionResult], ks: Sequence[int]) -> dict[str, Any]:
    ids = sorted({r.conversation for r in results})
    return {cid: summarize([r for r in results if r.conversation == cid], ks) for cid in ids}


def _judge(results: EvalResults) -> dict[str, Any] | None:
    ours = results.results.get(OURS, [])
    graded = [r for r in ours if r.judge is not None]
    if not graded and not results.adversarial:
        return None
    tokens = [r.context_tokens for r in ours + results.adversarial if r.context_tokens is not None]
    declined = [r.abstained for r in results.adversarial if r.abstained is not None]
    by_category = {}
    for c in SCORED_CATEGORIES:
        verdicts = [r.judge for r in graded if r.category == c]
        if verdicts:
            by_category[str(c)] = round(sum(map(bool, verdicts)) / len(verdicts), 4)
    return {
        "accuracy": round(sum(map(bool, (r.judge for r in graded))) / len(graded), 4)
        if graded
        else None,
        "graded": len(graded),
        "by_category": by_category,
        "context_tokens_mean": round(sum(tokens) / len(tokens), 1) if tokens else None,
        "adversarial_questions": len(results.adversarial),
        "adversarial_says_unknown_rate": round(sum(map(bool, declined)) / len(declined), 4)
        if declined
        else None,
    }


def _question_rows(results: EvalResults) -> list[dict[str, Any]]:
    ours = results.results.get(OURS, []) + results.adversarial
    others = {
        name: {(r.conversation, r.question): r for r in found}
        for name, found in results.results.items()
        if name != OURS and name not in VARIANTS
    }
    rows = []
    for r in ours:
        row: dict[str, Any] = {
            "conversation": r.conversation,
            "question": r.question,
            "category": r.category,
            "evidence": list(r.evidence),
            "retrieved": [
                {"key": h.key, "score": h.score, "message_ids": list(h.message_ids)}
                | ({"via": h.via} if h.via is not None else {})
                for h in r.hits
            ],
            "latency_ms": round(r.latency_s * 1000, 3),
        }
        if r.answer is not None:
            row.update(answer=r.answer, reference=r.reference, correct=r.judge)
            row.update(abstained=r.abstained, context_tokens=r.context_tokens)
        baseline_hits = {
            name: [h.key for h in found[(r.conversation, r.question)].hits]
            for name, found in others.items()
            if (r.conversation, r.question) in found
        }
        if baseline_hits:
            row["baselines"] = baseline_hits
        rows.append(row)
    return rows


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 5)


def build_report(results: EvalResults) -> dict[str, Any]:
    """The `report.json` document of a run."""
    ks = results.config.all_ks
    ours = results.results.get(OURS, [])
    config = results.config
    report: dict[str, Any] = {
        "overall": summarize(ours, ks),
        "by_category": _by_category(ours, ks),
        "baselines": {
            name: {**summarize(found, ks), "by_category": _by_category(found, ks)}
            for name, found in results.results.items()
            if name != OURS and name not in VARIANTS
        },
        "by_conversation": {
            name: _by_conversation(found, ks) for name, found in results.results.items()
        },
        "categories": {str(c): CATEGORY_NAMES[c] for c in CATEGORY_NAMES},
        "latency": {
            "ingest": latency_summary(results.ingest_latency_s),
            "search": latency_summary(results.search_latency_s),
        },
        "ingest_ops": dict(results.ops),
        "conversations": results.conversations,
        "config": {
            "mode": config.mode,
            "backend": results.backend,
            "ks": list(ks),
            "embeddings": config.embeddings
            if isinstance(config.embeddings, str)
            else repr(config.embeddings),
            "model": config.model,
            "hybrid": None if config.hybrid is None else _hybrid_settings(config.hybrid),
            "dedupe_threshold": config.dedupe_threshold,
            "baselines": config.baselines,
            "expand_links": None if config.expand_links is None else asdict(config.expand_links),
            "entity_link_limit": config.entity_link_limit,
        },
        "links": results.links,
        "wall_s": round(results.wall_s, 1),
        "experiment": results.experiment,
        "questions": _question_rows(results),
    }
    judge = _judge(results)
    if judge is not None:
        report["judge"] = judge
    section = link_section(
        results.results,
        ks,
        config.links_on,
        shipped=config.expand_links is not None,
        links=results.links,
    )
    if section is not None:
        report["link_expansion"] = section
    return report


def _hybrid_settings(hybrid: Any) -> dict[str, Any]:
    return {
        "fields": list(hybrid.fields) if hybrid.fields else None,
        "alpha": hybrid.alpha,
        "field_weights": dict(hybrid.field_weights),
        "candidates": hybrid.candidates,
        "time_field": hybrid.time_field,
        "time_weight": hybrid.time_weight,
    }


def _pct(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, (int, float)) else "–"


def markdown(report: dict[str, Any], plots: Sequence[str] = ()) -> str:
    """The human-readable summary of `report` (tables, then the plots)."""
    systems = {OURS: report, **report["baselines"]}
    ks = report["config"]["ks"]
    metrics = [f"recall_any@{k}" for k in ks] + ["recall_all@10", "mrr"]
    header = "| system | " + " | ".join(m.replace("recall_", "R_") for m in metrics) + " |"
    rule = "|---" * (len(metrics) + 1) + "|"
    lines = [
        "# LoCoMo evaluation",
        "",
        f"Mode `{report['config']['mode']}`, embeddings `{report['config']['embeddings']}`, "
        f"store {report['config'].get('backend', 'SQLite')} "
        f"({'hybrid' if report['config'].get('hybrid') else 'vector'} search), "
        f"{report['overall']['questions']} questions (categories 1–4) over "
        f"{len(report['conversations'])} conversations; run took {report['wall_s']} s.",
        "Evidence recall@k: share of questions whose top-k retrieved memories come from at "
        "least one (R_any) or every (R_all) evidence turn; MRR of the first such memory.",
        "",
        "## Overall",
        "",
        header,
        rule,
    ]
    for name, data in systems.items():
        row = data["overall"] if name == OURS else data
        lines.append(f"| {name} | " + " | ".join(_pct(row.get(m)) for m in metrics) + " |")
    lines += ["", "## By category (R_any@1 / @5 / @10 / @20, MRR)", ""]
    lines += ["| category | n | " + " | ".join(systems) + " |", "|---" * (len(systems) + 2) + "|"]
    for c, name in report["categories"].items():
        if not report["by_category"].get(c, {}).get("questions"):
            continue
        cells = []
        for data in systems.values():
            row = data["by_category"][c]
            cells.append(
                " / ".join(_pct(row[f"recall_any@{k}"]) for k in (1, 5, 10, 20))
                + f", {_pct(row['mrr'])}"
            )
            n = row["questions"]
        lines.append(f"| {c} {name} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "## By conversation (R_any@10)", ""]
    names = list(report["by_conversation"])
    lines += ["| conversation | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for cid in report["by_conversation"][OURS]:
        cells = [_pct(report["by_conversation"][n][cid]["recall_any@10"]) for n in names]
        lines.append(f"| {cid} | " + " | ".join(cells) + " |")
    ingest, search = report["latency"]["ingest"], report["latency"]["search"]
    lines += [
        "",
        "## Latency (ours)",
        "",
        "| operation | p50 ms | p95 ms | mean ms | n |",
        "|---|---|---|---|---|",
        f"| ingest one turn | {ingest['p50_ms']} | {ingest['p95_ms']} | {ingest['mean_ms']} | "
        f"{ingest['n']} |",
        f"| search | {search['p50_ms']} | {search['p95_ms']} | {search['mean_ms']} | "
        f"{search['n']} |",
        "",
        f"Ingest operations: {report['ingest_ops']}.",
    ]
    if "judge" in report:
        judge = report["judge"]
        lines += [
            "",
            "## Answers (LLM judge)",
            "",
            f"Accuracy {_pct(judge['accuracy'])} over {judge['graded']} questions "
            f"(by category: {judge['by_category']}); mean context tokens "
            f"{judge['context_tokens_mean']}; adversarial questions answered with "
            f'"don\'t know": {_pct(judge["adversarial_says_unknown_rate"])} '
            f"of {judge['adversarial_questions']}.",
        ]
    if "link_expansion" in report:
        lines += link_markdown(
            report["link_expansion"], report["categories"], report.get("by_conversation")
        )
    if report.get("experiment"):
        lines += ["", f"LangSmith experiment: `{report['experiment']}`."]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(results: EvalResults, out: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Write `report.json`, `report.md` and (by default) the plots into `out`; return the
    report."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    report = build_report(results)
    text = json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    (folder / REPORT_JSON).write_text(text + "\n", encoding="utf-8")
    images: list[str] = []
    if plots:
        from hippograph.eval.plots import write_plots

        images = write_plots(results, folder)
    (folder / REPORT_MD).write_text(markdown(report, images), encoding="utf-8")
    return report
