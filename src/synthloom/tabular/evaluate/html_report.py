"""The evaluation as files: a JSON document and a self-contained HTML page (plots inlined as PNG data URIs).

:func:`evaluate_to_files` is what ``synthloom evaluate-table`` and the ``evaluate_table`` step call.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import orjson

from ...io.rundir import atomic_write_text
from .columns import NUMERIC, aligned
from .evaluation import SUMMARY, evaluate_table

if TYPE_CHECKING:
    import pandas as pd

_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent)), autoescape=True,
                                undefined=jinja2.StrictUndefined)


@dataclass
class EvaluationFiles:
    """Where an evaluation went, and its result."""

    html: Path
    json: Path
    result: dict[str, Any]


def evaluate_to_files(real: pd.DataFrame, synth: pd.DataFrame, html: str | Path, *, holdout: pd.DataFrame | None = None,
                      target: str | None = None, seed: int = 0, title: str = "synthetic table") -> EvaluationFiles:
    """Evaluate ``synth`` against ``real`` (and ``holdout``) and write ``html`` and the JSON beside it
    (``html`` with the suffix ``.json``)."""
    result = evaluate_table(real, synth, holdout=holdout, target=target, seed=seed)
    html = Path(html)
    html.parent.mkdir(parents=True, exist_ok=True)
    json_path = html.with_suffix(".json")
    atomic_write_text(json_path, orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode())
    kinds = result["columns"]
    atomic_write_text(html, render_html(result, aligned(real, kinds, "real"), aligned(synth, kinds, "synthetic"),
                                        json_name=json_path.name, title=title))
    return EvaluationFiles(html, json_path, result)


def render_html(result: Mapping[str, Any], real: pd.DataFrame, synth: pd.DataFrame, *, json_name: str,
                title: str = "synthetic table") -> str:
    """The HTML page of an evaluation result (``real``/``synth`` aligned to its columns, for the plots)."""
    images, plot_note = _plots(result, real, synth)
    fid, util, priv = result["fidelity"], result["utility"], result["privacy"]
    kinds = result["columns"]
    summary = result["summary"]
    c2st = dict(fid["c2st"])
    c2st["auc_text"] = _fmt(c2st.get("auc"))
    utility_rows, notes = [], []
    if "skipped" not in util:
        names = ["accuracy", "f1_macro", "auc"] if util["task"] == "classification" else ["r2", "mae"]
        utility_rows = [{"name": n, "trtr": _fmt(util["trtr"].get(n)), "tstr": _fmt(util["tstr"].get(n))} for n in names]
        notes = [f"{k.upper()}: {util[k]['skipped']}." for k in ("trtr", "tstr") if "skipped" in util[k]]
        if util.get("ratio") is not None:
            notes.append(f"TSTR / TRTR on {util['main_metric']}: {_fmt(util['ratio'])}.")
    dcr = priv["dcr"]
    privacy_rows = [
        ("median DCR, synthetic → train", dcr["synthetic_to_train"]["median"]),
        ("5th percentile DCR, synthetic → train", dcr["synthetic_to_train"]["p5"]),
        ("median DCR, holdout → train", (dcr.get("holdout_to_train") or {}).get("median")),
        ("DCR ratio (synthetic / holdout medians)", dcr.get("ratio")),
        ("share closer to train than holdout", (priv.get("closer_to_train") or {}).get("share")),
        ("  expected for fresh rows", (priv.get("closer_to_train") or {}).get("expected_share")),
        ("exact copies of training rows", f"{priv['exact_copies']['count']} ({_pct(priv['exact_copies']['share'])})"),
        ("  holdout rows that equal a training row", _pct(priv["exact_copies"].get("holdout_share"))),
        ("membership inference AUC", (priv.get("membership_inference") or {}).get("auc")),
    ]
    return _TEMPLATES.get_template("evaluation.html.jinja").render(
        title=title, generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"), rows=result["rows"], target=result.get("target"),
        n_numeric=sum(1 for k in kinds.values() if k == NUMERIC), n_categorical=sum(1 for k in kinds.values() if k != NUMERIC),
        json_name=json_name, plot_note=plot_note,
        summary=[{"label": label, "value": _fmt(summary.get(key)), "good": good} for key, label, good in SUMMARY],
        columns=[{"name": c, "kind": e["kind"], "metric": e["metric"].upper(), "value": _fmt(e["value"]),
                  "missing_real": _pct(e["missing_real"]), "missing_synthetic": _pct(e["missing_synthetic"])}
                 for c, e in fid["columns"].items()],
        association={"measure": fid["associations"]["measure"], "mean": _fmt(fid["associations"]["mean_abs_diff"]),
                     "max": _fmt(fid["associations"]["max_abs_diff"])},
        c2st=c2st, utility=util, utility_rows=utility_rows, utility_notes=notes,
        privacy_rows=[{"name": n, "value": v if isinstance(v, str) else _fmt(v)} for n, v in privacy_rows],
        privacy_distance=priv["distance"], privacy_skipped=priv.get("skipped", ""), plots=images)


def _plots(result: Mapping[str, Any], real: pd.DataFrame, synth: pd.DataFrame) -> tuple[dict[str, str], str]:
    try:
        from . import plots
    except ImportError:
        return {}, "Plots need matplotlib, which is not installed; fix: pip install 'synthloom[report]'."
    fid, util, priv = result["fidelity"], result["utility"], result["privacy"]
    images = {"marginals": plots.marginals(real, synth, result["columns"], fid["columns"])}
    if len(result["columns"]) > 1:
        images["associations"] = plots.associations(fid["associations"])
    if "skipped" not in util and "skipped" not in util["trtr"] and "skipped" not in util["tstr"]:
        images["utility"] = plots.utility_bars(util)
    if "histogram" in priv:
        images["dcr"] = plots.dcr_histogram(priv["histogram"])
    return {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}, ""


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"
