"""``judge_pairwise`` on the fake server: both orders asked, inconsistent verdicts become ties.

The template ``{{ response_a }}`` makes the fake server repeat whichever response is shown first, so
each row's two columns script the verdict of each order."""

from __future__ import annotations

import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.judges import PairwiseJudge
from synthloom.io.shards import read_shards


def run(tmp_path, rows, step, model):
    pipe = Pipeline([RecordsSource("src", rows=rows), step], models={"default": model})
    res = run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    c = res.counts[step.name]
    assert c.rows_in == c.ok + c.errors == len(rows)
    errors_dir = tmp_path / "out" / "errors"
    errors = [r for sub in errors_dir.iterdir() for r in read_shards(sub)] if errors_dir.exists() else []
    return list(read_shards(tmp_path / "out" / "data")), errors


def test_order_swap_and_ties(tmp_path, fake_model):
    rows = [
        {"x": "[[A]]", "y": "[[B]]"},  # first shown wins both times: x wins in both orders -> a
        {"x": "[[B]]", "y": "[[A]]"},  # second shown wins both times: y -> b
        {"x": "[[A]]", "y": "[[A]]"},  # "A" both times = position bias -> inconsistent -> tie
        {"x": "[[C]]", "y": "[[C]]"},  # a tie both times
        {"x": "no verdict", "y": "[[A]]"},  # unreadable in the original order -> error row
    ]
    step = PairwiseJudge("pair", response_a="x", response_b="y", template="{{ response_a }}", structured=False)
    data, errors = run(tmp_path, rows, step, fake_model)
    assert [(r["winner"], r["pairwise_verdicts"]) for r in data] == [
        ("a", ["a", "a"]), ("b", ["b", "b"]), ("tie", ["a", "b"]), ("tie", ["tie", "tie"])]
    assert all(len(r["judge_reason"]) == 2 for r in data)
    assert [e.get("order") for e in data[0]["_lineage"]] == ["ab", "ba"]
    assert len(errors) == 1 and "original order" in errors[0]["_error"]
    assert errors[0]["_raw_text"] == "Reply to: no verdict"


def test_single_order_and_prometheus_relative(tmp_path, fake_model):
    step = PairwiseJudge("pair", response_a="x", response_b="y", swap=False, rubric="prometheus_relative",
                         template="{{ response_a }}", structured=False)
    data, _ = run(tmp_path, [{"x": "Feedback: sharper. [RESULT] A", "y": "whatever"}], step, fake_model)
    assert data[0]["winner"] == "a" and data[0]["pairwise_verdicts"] == ["a"] and len(data[0]["_lineage"]) == 1


def test_prompt_shows_both_orders_and_options_validate():
    step = PairwiseJudge("pair", response_a="x", response_b="y")
    first = step._messages({"instruction": "Q", "x": "XX", "y": "YY"}, ("a", "b"))[-1]["content"]
    second = step._messages({"instruction": "Q", "x": "XX", "y": "YY"}, ("b", "a"))[-1]["content"]
    assert first.index("XX") < first.index("YY") and second.index("YY") < second.index("XX")
    assert step.reads == {"instruction", "x", "y"} and step.writes == {"winner", "pairwise_verdicts", "judge_reason"}
    with pytest.raises(ValueError, match="same column"):
        PairwiseJudge("p", response_a="x", response_b="x")
    with pytest.raises(ValueError, match="grades one response"):
        PairwiseJudge("p", response_a="x", response_b="y", rubric="alpagasus")
