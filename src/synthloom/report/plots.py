"""The report's PNG plots, drawn with matplotlib's Agg renderer (no display, no pyplot state).

Each function writes one PNG and returns its path. Colours come from one small palette so plots
of one report look alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

OK, REJECTED, ERROR, MUTED = "#4C956C", "#F2A541", "#D1495B", "#9AA5B1"
PALETTE = ["#2E86AB", "#F18F01", "#4C956C", "#A23B72", "#C73E1D", "#3B1F2B", "#6A994E", "#577590",
           "#F9C74F", "#90BE6D", "#43AA8B", "#F94144"]
DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    return path


def length_histograms(columns: dict[str, Sequence[int]], path: Path, unit: str = "words") -> Path:
    """One histogram of text lengths per column (a grid of at most 6)."""
    names = list(columns)[:6]
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        values = np.asarray(columns[name], dtype=float)
        ax.hist(values, bins=min(40, max(5, len(set(values.tolist())))), color=PALETTE[i % len(PALETTE)],
                edgecolor="white")
        if len(values):
            ax.axvline(float(np.median(values)), color="black", linestyle="--", linewidth=1,
                       label=f"median {np.median(values):.0f}")
            ax.legend(fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(unit)
        ax.set_ylabel("rows")
    return _save(fig, path)


def score_distribution(name: str, dist: dict[str, Any], path: Path) -> Path:
    """A bar chart of a score column's values (or bins), or passed/failed/missing for a flag."""
    fig = Figure(figsize=(4.6, 3.0))
    ax = fig.add_subplot(1, 1, 1)
    if dist["kind"] == "pass_rate":
        labels = ["passed", "failed", "missing"]
        counts = [dist["passed"], dist["failed"], dist["missing"]]
        ax.bar(labels, counts, color=[OK, ERROR, MUTED])
        rate = dist.get("pass_rate")
        ax.set_title(f"{name}: pass rate {rate:.1%}" if rate is not None else name, fontsize=10)
    else:
        hist = dist["histogram"]
        if "values" in hist:
            xs = [str(v) for v, _ in hist["values"]]
            ax.bar(xs, [c for _, c in hist["values"]], color=PALETTE[0])
        else:
            lows = [b[0] for b in hist["bins"]]
            widths = [b[1] - b[0] for b in hist["bins"]]
            ax.bar(lows, [b[2] for b in hist["bins"]], width=widths, align="edge", color=PALETTE[0],
                   edgecolor="white")
        mean = dist.get("mean")
        ax.set_title(f"{name}: mean {mean:.2f}" if mean is not None else name, fontsize=10)
        ax.set_xlabel(name)
    ax.set_ylabel("rows")
    return _save(fig, path)


def cluster_map(points: np.ndarray, labels: np.ndarray, path: Path, rejected: np.ndarray | None = None,
                title: str = "") -> Path:
    """Kept rows in 2-D (PCA of their embeddings) coloured by k-means cluster; rejected rows as grey crosses."""
    fig = Figure(figsize=(6.4, 5.0))
    ax = fig.add_subplot(1, 1, 1)
    if rejected is not None and len(rejected):
        ax.scatter(rejected[:, 0], rejected[:, 1], marker="x", s=14, color=MUTED, alpha=0.7, label="rejected")
    for c in sorted(set(int(v) for v in labels)):
        sel = labels == c
        ax.scatter(points[sel, 0], points[sel, 1], s=16, color=PALETTE[c % len(PALETTE)], alpha=0.85,
                   label=f"cluster {c} ({int(sel.sum())})")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best", markerscale=1.2, ncol=2 if len(set(labels.tolist())) > 6 else 1)
    return _save(fig, path)


def funnel(steps: Sequence[str], counts: dict[str, dict[str, int]], path: Path) -> Path:
    """Rows through the steps: per step, the rows it received split into kept, rejected and errors,
    with the rows it emitted written beside the bar."""
    fig = Figure(figsize=(7.5, 0.55 * len(steps) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    ys = np.arange(len(steps))[::-1]
    ok = np.array([counts[s]["ok"] for s in steps], dtype=float)
    rej = np.array([counts[s]["rejected"] for s in steps], dtype=float)
    err = np.array([counts[s]["errors"] for s in steps], dtype=float)
    ax.barh(ys, ok, color=OK, label="kept")
    ax.barh(ys, rej, left=ok, color=REJECTED, label="rejected")
    ax.barh(ys, err, left=ok + rej, color=ERROR, label="errors")
    top = max(1.0, float((ok + rej + err).max()) if len(steps) else 1.0)
    for y, s in zip(ys, steps):
        c = counts[s]
        ax.text(c["in"] + top * 0.01, y, f"{c['out']} out", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(steps, fontsize=9)
    ax.set_xlim(0, top * 1.18)
    ax.set_xlabel("rows in")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(steps) > 3 else -0.35), ncol=3,
              frameon=False)
    ax.set_title("rows through the steps", fontsize=10)
    return _save(fig, path)
