"""evaluate_table as a whole, and its files: the JSON document and the self-contained HTML page."""

from __future__ import annotations

import json

import pytest

pd = pytest.importorskip("pandas")

from synthloom.tabular.errors import TableError  # noqa: E402
from synthloom.tabular.evaluate.evaluation import SUMMARY, evaluate_table  # noqa: E402
from synthloom.tabular.evaluate.html_report import evaluate_to_files  # noqa: E402


def test_identical_tables_summary(iris):
    train, holdout = iris
    result = evaluate_table(train, train.copy(), holdout=holdout)
    s = result["summary"]
    assert result["target"] == "target" and result["rows"] == {"real": len(train), "synthetic": len(train), "holdout": len(holdout)}
    assert (s["ks_mean"], s["tv_mean"], s["association_diff"]) == (0.0, 0.0, 0.0)
    assert s["c2st_auc"] == pytest.approx(0.5) and s["tstr"] == s["trtr"] and s["tstr_over_trtr"] == 1.0
    assert s["exact_copies_share"] == 1.0 and s["dcr_ratio"] == 0.0 and s["membership_auc"] > 0.95
    assert {key for key, _, _ in SUMMARY} <= set(s)


def test_extra_synthetic_columns_are_ignored_and_missing_ones_named(iris):
    train, holdout = iris
    with_ids = train.assign(id=range(len(train)), _lineage="x")
    assert evaluate_table(train, with_ids)["rows"]["synthetic"] == len(train)
    with pytest.raises(TableError, match=r"the synthetic table lacks column\(s\) 'petal_width_cm'"):
        evaluate_table(train, train.drop(columns=["petal_width_cm"]))
    with pytest.raises(TableError, match="the synthetic table has no rows"):
        evaluate_table(train, train.iloc[0:0])


def test_without_holdout_or_target_the_parts_say_why(iris):
    train = iris[0].copy()
    train.attrs = {}
    result = evaluate_table(train, train)
    assert "--target" in result["utility"]["skipped"]
    result = evaluate_table(train, train, target="target")
    assert "--holdout" in result["utility"]["skipped"] and "no real holdout" in result["privacy"]["skipped"]


def test_files_hold_the_json_and_an_html_page_with_inline_plots(tmp_path, iris, shuffle):
    train, holdout = iris
    files = evaluate_to_files(train, shuffle(train), tmp_path / "eval" / "report.html", holdout=holdout, title="iris shuffled")
    doc = json.loads(files.json.read_text())
    assert files.json == tmp_path / "eval" / "report.json"
    assert doc["summary"]["c2st_auc"] > 0.9 and doc["summary"]["ks_mean"] == 0.0
    html = files.html.read_text()
    assert "iris shuffled" in html and 'href="report.json"' in html
    assert html.count("data:image/png;base64,") == 4  # marginals, associations, TSTR/TRTR, DCR
    assert "Cram" in html or "cramers_v" in html
