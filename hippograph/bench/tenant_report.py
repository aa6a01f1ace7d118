"""The many-tenant part of the store benchmark report: tables, the 1M projection, a plot.

Core pieces:
    - `tenant_markdown(report)`: per total and backend, bulk load, open time, disk, and search
      p50/p95 and recall@10 per tenant size; then the projection (`report["projection"]`).
    - `plot_tenants(report, path)`: search p50 and p95 against tenant size, one line per
      backend and total.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hippograph.bench.measure import size_label
from hippograph.bench.report import fmt, markdown_table


def _sizes(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({size for r in rows for size in r.get("search_ms", {})}, key=int)


def tenant_markdown(report: dict[str, Any]) -> list[str]:
    """Markdown sections for `report["tenants"]` and `report["projection"]` (none if empty)."""
    rows = report.get("tenants") or []
    if not rows:
        return []
    sizes = _sizes(rows)
    headers = ["backend", "items", "tenants", "bulk load items/s", "open s", "disk MiB"]
    headers += [f"p50 / p95 ms, {size_label(int(s))} per tenant (recall)" for s in sizes]
    table = []
    for r in sorted(rows, key=lambda r: (r["total"], r["backend"])):
        layout = ", ".join(f"{n}×{size_label(int(s))}" for s, n in sorted(r["layout"].items()))
        cells = [r["backend"], f"{r['total']:,}", layout or "—"]
        cells += [fmt(r.get("put_per_s"), 0), fmt(r.get("open_s")), fmt(r.get("disk_mb"), 1)]
        for size in sizes:
            found = r.get("search_ms", {}).get(size)
            recall = r.get("recall_at_10", {}).get(size)
            cells.append(
                "—"
                if not found
                else f"{fmt(found['p50'])} / {fmt(found['p95'])} ({fmt(recall, 2)})"
            )
        if r.get("notes"):
            cells[0] += f" ({'; '.join(r['notes'])})"
        table.append(cells)
    parts = [
        "## Many users in one store (searches scoped to one user)",
        "Each run fills one store with users of a few sizes (the sizes up to a fifth of the "
        "total share it evenly) in batches, reopens it in a fresh process (open + first "
        "search), then times searches scoped to one user, per user size, with recall@10 "
        "against exact search within that user.",
        markdown_table(headers, table),
    ]
    projected = report.get("projection") or []
    if projected:
        psizes = _sizes(projected)
        headers = ["backend", "from totals", "bulk load", "open s", "disk GiB"]
        headers += [f"p50 / p95 ms, {size_label(int(s))} per tenant" for s in psizes]
        table = []
        for p in projected:
            cells = [
                p["backend"],
                " → ".join(f"{n:,}" for n in p["from"]),
                "—" if p["bulk_load_s"] is None else f"{p['bulk_load_s'] / 60:.1f} min",
                fmt(p["open_s"]),
                "—" if p["disk_mb"] is None else f"{p['disk_mb'] / 1024:.1f}",
            ]
            cells += [
                f"{fmt(p['search_ms'][s]['p50'])} / {fmt(p['search_ms'][s]['p95'])}"
                if s in p["search_ms"]
                else "—"
                for s in psizes
            ]
            table.append(cells)
        parts += [
            f"## {size_label(projected[0]['total'])} items, on paper",
            "Not measured: each figure is carried from the largest measured total along the "
            "power law through the two largest totals, never assuming a cost shrinks or a "
            "rate grows with size.",
            markdown_table(headers, table),
        ]
    return parts


def plot_tenants(report: dict[str, Any], path: Path) -> None:
    """Search p50 and p95 against tenant size, one line per backend and total."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report.get("tenants") or [] if r.get("search_ms")]
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, quantile in zip(axes, ("p50", "p95"), strict=True):
        for r in sorted(rows, key=lambda r: (r["backend"], r["total"])):
            points = sorted((int(s), v[quantile]) for s, v in r["search_ms"].items())
            ax.plot(
                *zip(*points, strict=True),
                marker="o",
                label=f"{r['backend']}, {size_label(r['total'])} items",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"search {quantile} (ms), scoped to one user")
        ax.set_xlabel("memories of that user")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"hippograph, many users in one store — {report['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
