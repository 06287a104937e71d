"""The evaluation report's plots (matplotlib, Agg, the report module's palette), each returned as PNG bytes:
marginals of real against synthetic, the association matrices, DCR histograms, TSTR against TRTR."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...report.plots import PALETTE  # sets the Agg backend before matplotlib is imported
from ..errors import need
from .columns import MISSING, NUMERIC

if TYPE_CHECKING:
    import pandas as pd

REAL, SYNTH, HOLDOUT = PALETTE[0], PALETTE[1], PALETTE[2]
#: most columns drawn in the marginals grid, and most categories per bar chart
MAX_COLUMNS, MAX_CATEGORIES = 24, 12


def _figure(width: float, height: float) -> Any:
    return need("matplotlib.figure").Figure(figsize=(width, height))


def _png(fig: Any) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=90, format="png")
    return buf.getvalue()


def marginals(real: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str], stats: Mapping[str, Any]) -> bytes:
    """A grid: per numeric column overlaid density histograms on shared bins, per categorical column the
    category shares side by side; each titled with its KS or TV value."""
    numpy = need("numpy")
    names = list(kinds)[:MAX_COLUMNS]
    cols = min(4, len(names))
    rows = (len(names) + cols - 1) // cols
    fig = _figure(3.6 * cols, 2.6 * rows)
    for i, col in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        a, b = real[col], synth[col]
        if kinds[col] == NUMERIC:
            av, bv = a.dropna().to_numpy(dtype=float), b.dropna().to_numpy(dtype=float)
            both = numpy.concatenate([av, bv])
            bins = numpy.histogram_bin_edges(both, bins=20) if len(both) else 10
            ax.hist(av, bins=bins, density=True, alpha=0.55, color=REAL, label="real")
            ax.hist(bv, bins=bins, density=True, alpha=0.55, color=SYNTH, label="synthetic")
        else:
            p = a.fillna(MISSING).value_counts(normalize=True)
            q = b.fillna(MISSING).value_counts(normalize=True)
            cats = list(p.index.union(q.index))
            cats = sorted(cats, key=lambda c: -(p.get(c, 0) + q.get(c, 0)))[:MAX_CATEGORIES]
            x = numpy.arange(len(cats))
            ax.bar(x - 0.2, [p.get(c, 0) for c in cats], width=0.4, color=REAL, label="real")
            ax.bar(x + 0.2, [q.get(c, 0) for c in cats], width=0.4, color=SYNTH, label="synthetic")
            ax.set_xticks(x)
            ax.set_xticklabels([str(c)[:12] for c in cats], rotation=30, fontsize=7, ha="right")
        stat = stats.get(col, {})
        value = stat.get("value")
        ax.set_title(f"{col[:28]}  {stat.get('metric', '').upper()} {value:.2f}" if value is not None else col[:28], fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    return _png(fig)


def associations(assoc: Mapping[str, Any]) -> bytes:
    """Heatmaps of the real and synthetic association matrices and of their absolute difference."""
    numpy = need("numpy")
    real, synth = numpy.array(assoc["real"]), numpy.array(assoc["synthetic"])
    labels = [c[:14] for c in assoc["columns"]]
    size = max(3.2, 0.32 * len(labels) + 1.6)
    fig = _figure(3 * size, size)
    for k, (title, m, cmap, low) in enumerate([("real", real, "coolwarm", -1.0), ("synthetic", synth, "coolwarm", -1.0),
                                              ("|real − synthetic|", numpy.abs(real - synth), "Reds", 0.0)]):
        ax = fig.add_subplot(1, 3, k + 1)
        image = ax.imshow(m, cmap=cmap, vmin=low, vmax=1.0)
        ax.set_title(title, fontsize=10)
        ticks = range(len(labels))
        ax.set_xticks(list(ticks))
        ax.set_yticks(list(ticks))
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
        ax.set_yticklabels(labels if k == 0 else [""] * len(labels), fontsize=6)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


def dcr_histogram(histogram: Mapping[str, list[float]]) -> bytes:
    """Distances to the closest training row: synthetic rows against holdout rows, on shared bins."""
    numpy = need("numpy")
    s, h = numpy.array(histogram["synthetic_to_train"]), numpy.array(histogram["holdout_to_train"])
    both = numpy.concatenate([s, h])
    bins = numpy.histogram_bin_edges(both, bins=30) if len(both) and both.max() > 0 else 10
    fig = _figure(6.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(h, bins=bins, density=True, alpha=0.55, color=HOLDOUT, label=f"holdout → train ({len(h)})")
    ax.hist(s, bins=bins, density=True, alpha=0.55, color=SYNTH, label=f"synthetic → train ({len(s)})")
    ax.set_xlabel("distance to the closest training row")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return _png(fig)


def utility_bars(util: Mapping[str, Any]) -> bytes:
    """TSTR and TRTR side by side for each metric of the task."""
    numpy = need("numpy")
    metrics = ["accuracy", "f1_macro", "auc"] if util["task"] == "classification" else ["r2", "mae"]
    metrics = [m for m in metrics if util["trtr"].get(m) is not None or util["tstr"].get(m) is not None]
    x = numpy.arange(len(metrics))
    fig = _figure(1.6 * len(metrics) + 2.4, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(x - 0.2, [util["trtr"].get(m) or 0.0 for m in metrics], width=0.4, color=REAL, label="TRTR (real)")
    ax.bar(x + 0.2, [util["tstr"].get(m) or 0.0 for m in metrics], width=0.4, color=SYNTH, label="TSTR (synthetic)")
    ax.set_xticks(x)
    ax.set_xticklabels(metrics)
    ax.set_title(f"predicting {util['target']} on the real holdout", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)
