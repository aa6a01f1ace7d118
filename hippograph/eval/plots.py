"""PNG plots of an evaluation run: recall@k curves per category, latency histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hippograph.eval.dataset import CATEGORY_NAMES, SCORED_CATEGORIES
from hippograph.eval.metrics import QuestionResult, recall_any
from hippograph.eval.runner import OURS, EvalResults

RECALL_PNG = "recall_at_k.png"
LATENCY_PNG = "latency.png"


def recall_curve(results: list[QuestionResult], max_k: int) -> np.ndarray:
    """recall_any@k for k = 1..max_k."""
    scored = [r for r in results if r.evidence]
    if not scored:
        return np.zeros(max_k)
    return np.array(
        [np.mean([recall_any(r.evidence, r.hits, k) for r in scored]) for k in range(1, max_k + 1)]
    )


def write_plots(results: EvalResults, folder: Path) -> list[str]:
    """Draw the plots into `folder`; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    max_k = max(results.config.all_ks)
    panels = [("all (1–4)", None), *((f"{c} {CATEGORY_NAMES[c]}", c) for c in SCORED_CATEGORIES)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    ks = np.arange(1, max_k + 1)
    for ax, (title, category) in zip(axes, panels, strict=True):
        for name, found in results.results.items():
            subset = [r for r in found if category is None or r.category == category]
            ours = name == OURS
            ax.plot(
                ks,
                recall_curve(subset, max_k),
                label=name,
                linewidth=2.5 if ours else 1.2,
                linestyle="-" if ours else "--",
            )
        if category is not None and not any(
            r.category == category and r.evidence for r in results.results.get(OURS, [])
        ):
            ax.text(0.5, 0.5, "no questions", ha="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xlabel("k")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("evidence recall_any@k")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    recall_path = folder / RECALL_PNG
    fig.savefig(recall_path, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (title, seconds) in zip(
        axes,
        [("ingest one turn", results.ingest_latency_s), ("search", results.search_latency_s)],
        strict=True,
    ):
        ms = np.asarray(seconds, dtype=float) * 1000
        if len(ms):
            ax.hist(ms, bins=40, color="#4477aa")
            for q, style in ((50, "-"), (95, "--")):
                ax.axvline(np.percentile(ms, q), color="k", linestyle=style, label=f"p{q}")
            ax.legend()
        ax.set_title(f"{title} latency")
        ax.set_xlabel("ms")
        ax.set_ylabel("count")
    fig.tight_layout()
    latency_path = folder / LATENCY_PNG
    fig.savefig(latency_path, dpi=110)
    plt.close(fig)
    return [str(recall_path), str(latency_path)]
