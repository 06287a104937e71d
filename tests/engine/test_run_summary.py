"""The honest end of a run: which steps removed rows, their grouped reasons, where to look, and
the embedded-model hint — in the CLI's last lines and in card.md."""

from __future__ import annotations

from pathlib import Path

from synthloom import FilterStep, MapStep, Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.engine.run_summary import EMBEDDED_HINT, RunSummary, group_reasons, reason_group, summarize_run
from synthloom.pipeline.llm_step import LLMStep


class ScoreGate(FilterStep):
    def check(self, record):
        score = record["k"] / 100
        return (record["k"] % 5 == 0, f"score {score:.2f} below 0.5 for 'item {record['k']}'", score)


class Fragile(MapStep):
    def map(self, record):
        if record["k"] % 10 == 0:
            raise ValueError(f"no number in reply {record['k']}")
        return record


def test_similar_reasons_count_together_with_an_example():
    assert reason_group("score 0.31 below 0.5 for 'a cat'") == reason_group("score 0.07 below 0.5 for 'dogs'")
    grouped = group_reasons(["score 0.31 below 0.5", "score 0.07 below 0.5", "duplicate of row 3", "score 0.31 below 0.5",
                             None])
    assert grouped == [("score 0.31 below 0.5 (and similar)", 3), ("duplicate of row 3", 1), ("(no reason given)", 1)]


def test_a_run_that_keeps_few_rows_says_which_step_removed_them_and_why(tmp_path):
    src = RecordsSource("seeds", rows=[{"k": i} for i in range(40)])
    pipe = Pipeline([src, Fragile("parse", reads=["k"]), ScoreGate("gate", reads=["k"])])
    out = tmp_path / "out"
    result = run_pipeline(pipe, out, RunOptions(progress="quiet", log=lambda m: None))
    summary = summarize_run(result, pipe)
    assert summary.came_in == 40 and summary.kept == 4 and summary.few_kept and not summary.embedded
    assert [(r.step, r.rejected, r.errors) for r in summary.removals] == [("gate", 32, 0), ("parse", 0, 4)]
    assert summary.removals[0].reasons == [("score 0.01 below 0.5 for 'item 1' (and similar)", 32)]
    assert summary.removals[1].reasons == [("no number in reply 0 (and similar)", 4)]
    text = "\n".join(summary.lines())
    assert "only 4 of the 40 records the sources produced made it to data/ (10%)" in text
    assert "step 'gate' removed 32 (32 rejected):" in text and "32 × score 0.01 below 0.5" in text
    assert "step 'parse' removed 4 (4 errors):" in text
    assert f"synthloom view {out} --what rejected" in text and f"synthloom view {out} --what errors" in text
    card = (out / "card.md").read_text()
    assert "## Rows removed" in card and "Few rows were kept: 4 of the 40" in card
    assert "| gate | 32 | 0 | 32 × score 0.01 below 0.5 for 'item 1' (and similar) |" in card


def test_a_run_that_keeps_most_rows_is_not_flagged(tmp_path):
    src = RecordsSource("seeds", rows=[{"k": i} for i in range(1, 10)])
    pipe = Pipeline([src, Fragile("parse", reads=["k"])])
    result = run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    assert not summarize_run(result, pipe).few_kept
    assert "## Rows removed" not in (tmp_path / "o" / "card.md").read_text()


def test_nothing_kept_on_the_embedded_model_points_at_a_real_one():
    pipe = Pipeline([RecordsSource("seeds", rows=[{"k": 1}]),
                     LLMStep("ask", prompt="{{ k }}", output="answer")], models={"default": "embedded"})
    from synthloom.engine.run_summary import uses_embedded_model

    assert uses_embedded_model(pipe)
    summary = RunSummary(out=Path("runs/x"), came_in=3, kept=0, removals=[], embedded=True)
    lines = summary.lines()
    assert lines[0] == "no rows were kept: all 3 records the sources produced were removed"
    assert lines[-1] == EMBEDDED_HINT and "--model openai:MODEL@" in lines[-1]
