"""`synthloom evaluate-table REAL SYNTH`: files, run directories, and one-line errors."""

from __future__ import annotations

import json

import pytest

pd = pytest.importorskip("pandas")

from typer.testing import CliRunner  # noqa: E402

from synthloom.cli.main import app  # noqa: E402
from synthloom.tabular.table_io import read_table, write_table  # noqa: E402

runner = CliRunner()


@pytest.fixture
def iris_files(tmp_path):
    df = read_table("sklearn:iris")
    train, holdout = df.iloc[::2], df.iloc[1::2]
    synth = train.sample(frac=1.0, random_state=0).assign(id=range(len(train)))
    return (write_table(train, tmp_path / "train.csv"), write_table(holdout, tmp_path / "holdout.parquet"),
            write_table(synth, tmp_path / "synth.jsonl"))


def test_files_in_report_out(tmp_path, iris_files):
    train, holdout, synth = iris_files
    html = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["evaluate-table", str(train), str(synth), "--holdout", str(holdout), "--target", "target",
                                 "-o", str(html)])
    assert result.exit_code == 0, result.output
    doc = json.loads(html.with_suffix(".json").read_text())
    assert doc["summary"]["exact_copies_share"] == 1.0 and doc["summary"]["tstr"] == doc["summary"]["trtr"]
    assert "C2ST discriminator AUC" in result.output and "evaluation" in result.output


def test_a_run_directory_stands_for_its_tables(tmp_path):
    pytest.importorskip("copulas")
    from synthloom.testing.recipe_runs import run_recipe

    out = tmp_path / "run"
    run_recipe("table-copula", out, "real=sklearn:wine", "rows=40")
    html = tmp_path / "wine.html"
    result = runner.invoke(app, ["evaluate-table", str(out), str(out), "-o", str(html)])
    assert result.exit_code == 0, result.output
    doc = json.loads(html.with_suffix(".json").read_text())
    assert doc["rows"]["holdout"] > 0 and doc["target"] == "target" and doc["utility"]["task"] == "classification"
    assert "tables/holdout.parquet" in result.output


@pytest.mark.parametrize("args, message", [
    (["sklearn:iris", "sklearn:nope"], "sklearn:nope: not a dataset bundled with scikit-learn"),
    (["sklearn:iris", "sklearn:wine"], "the synthetic table lacks column(s)"),
    (["sklearn:iris", "sklearn:iris", "--target", "species"], "--target species: the real table has no such column"),
    (["sklearn:iris", "sklearn:iris", "-o", "report.txt"], "the report is an HTML file"),
])
def test_user_errors_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["evaluate-table", *args])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
