"""Write the retrieval study as Markdown and a plot (`study.md`, `study.png`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_ASSUMES = {
    "alpha": "cosine vs keyword weight; assumes nothing beyond text",
    "context_weight": "BM25 reads the turn a memory answered (`context`); assumes memories "
    "keep it (verbatim ingest does; extracted facts may not)",
    "k1": "BM25 term saturation",
    "b": "BM25 length normalisation",
    "time_weight": "explicit calendar dates in queries vs the memory's `timestamp`; assumes "
    "memories are dated when said and questions name dates",
    "time_scale_days": "how fast the date match fades outside the named span",
    "group_weight": "thread lift; assumes a thread is a coherent conversation (a chat; a "
    "LoCoMo session here)",
    "group_top": "candidates that make a thread's strength",
}


def _pair(row: dict[str, Any], metric: str) -> str:
    return f"{row['in_sample'].get(metric, 0):.3f} / {row['cross_validated'].get(metric, 0):.3f}"


def _table(rows: dict[str, Any], label: str, metrics: tuple[str, ...]) -> list[str]:
    head = f"| {label} | n | " + " | ".join(f"{m} in / CV" for m in metrics) + " |"
    lines = [head, "|---|---|" + "---|" * len(metrics)]
    for name, row in rows.items():
        n = row["in_sample"].get("questions", "")
        lines.append(f"| {name} | {n} | " + " | ".join(_pair(row, m) for m in metrics) + " |")
    return lines


def write_study(report: dict[str, Any], out: Path) -> None:
    """`study.md` and `study.png` in `out` from `run_study`'s report."""
    tuned = report["tuned"]
    metrics = ("R@1", "R@5", "R@10", "R@20", "MRR")
    lines = [
        "# LoCoMo retrieval study: constants chosen by leave-one-conversation-out CV",
        "",
        f"Verbatim ingest of {len(report['folds'])} LoCoMo conversations through the agent's "
        "remember graph (no LLM), local all-MiniLM-L6-v2, categories 1–4. Every question is "
        "ranked by the store's own ranking code (`hippograph.store.ranking`) over a pool of the "
        f"{report['candidates']} best by cosine plus the {report['candidates']} best by BM25 "
        "among the query terms' champions, exactly as a store search. **in** = constants "
        f"tuned on all {len(report['folds'])} conversations (what ships); **CV** = each "
        "conversation ranked with constants tuned on the others only. Tuning maximises "
        "R@5 + R@10 (+ 0.1 MRR) by coordinate ascent over a small grid (`scoring.GRID`).",
        "",
        "## Overall (R_any@k: a top-k memory comes from an evidence turn)",
        "",
        *_table({"hippograph (shipped)": tuned["overall"]}, "ranking", metrics),
        "",
        "Constants before this study, same harness: "
        f"R@5 {report['previous_in_sample']['R@5']:.3f}, "
        f"R@10 {report['previous_in_sample']['R@10']:.3f} (in-sample).",
        "",
        "## By category",
        "",
        *_table(tuned["by_category"], "category", ("R@5", "R@10", "MRR")),
        "",
        "## By conversation (held out in CV)",
        "",
        *_table(tuned["by_conversation"], "conversation", ("R@5", "R@10", "MRR")),
        "",
        "## Chosen constants (all 7, and per fold without the named conversation)",
        "",
    ]
    names = list(report["shipped"])
    lines.append("| fold | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    lines.append(
        "| **all (ships)** | " + " | ".join(str(report["shipped"][n]) for n in names) + " |"
    )
    for conv, params in report["folds"].items():
        lines.append(f"| without {conv} | " + " | ".join(str(params[n]) for n in names) + " |")
    lines += ["", "What each constant assumes about the data:", ""]
    lines += [f"- `{name}`: {text}" for name, text in _ASSUMES.items()]
    lines += [
        "",
        "## Ablations (shipped constants with one part off; CV keeps each fold's others)",
        "",
        *_table(report["ablations"], "variant", ("R@5", "R@10", "MRR")),
        "",
        "## Neighbourhood, session, query and reranker signals (weight chosen per fold)",
        "",
    ]
    extensions = {
        name: {**row["overall"], "weights": row.get("weights")}
        for name, row in report["extensions"].items()
    }
    lines += _table(
        {"shipped ranking": tuned["overall"], **extensions}, "variant", ("R@5", "R@10", "MRR")
    )
    lines += ["", "Per category, R@10 in / CV:", ""]
    categories = list(tuned["by_category"])
    lines.append("| variant | " + " | ".join(categories) + " |")
    lines.append("|---|" + "---|" * len(categories))
    lines.append(
        "| shipped ranking | "
        + " | ".join(_pair(tuned["by_category"][c], "R@10") for c in categories)
        + " |"
    )
    for name, row in report["extensions"].items():
        cells = " | ".join(_pair(row["by_category"][c], "R@10") for c in categories)
        lines.append(f"| {name} | {cells} |")
    lines += [
        "",
        "Gain over the shipped ranking, cross-validated: mean over the 7 held-out "
        "conversations of the difference, ± its standard error (fold-to-fold noise; a gain "
        "within about two standard errors of 0 is noise):",
        "",
        "| variant | ΔR@1 | ΔR@5 | ΔR@10 |",
        "|---|---|---|---|",
    ]
    for name, row in report["extensions"].items():
        if "gain" in row:
            cells = " | ".join(
                f"{row['gain'][m]['mean']:+.3f} ± {row['gain'][m]['se']:.3f}"
                for m in ("R@1", "R@5", "R@10")
            )
            lines.append(f"| {name} | {cells} |")
    for name, row in report["extensions"].items():
        if row.get("weights"):
            lines.append(f"\n{name}: weight chosen {row['weights']}")
    lines += [
        "",
        "## Pool size (cost knob: candidates drawn from each ranking)",
        "",
        *_table(report["pool_sizes"], "candidates", ("R@5", "R@10", "MRR")),
        "",
        f"Study run time: {report['seconds']} s (ingest cached).",
        "",
        "![in-sample vs cross-validated](study.png)",
        "",
    ]
    (out / "study.md").write_text("\n".join(lines), encoding="utf-8")
    _plot(report, out / "study.png")


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = {"overall": report["tuned"]["overall"], **report["tuned"]["by_category"]}
    labels = list(rows)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(8, 4))
    for offset, key, name in ((-0.2, "in_sample", "in-sample"), (0.2, "cross_validated", "CV")):
        ax.bar(
            x + offset, [rows[label][key]["R@10"] for label in labels], 0.38, label=f"R@10 {name}"
        )
        ax.scatter(
            x + offset, [rows[label][key]["R@5"] for label in labels], marker="_", s=300, c="k"
        )
    ax.set_xticks(x, labels, rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall (bars R@10, ticks R@5)")
    ax.set_title("LoCoMo retrieval: in-sample vs leave-one-conversation-out")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
