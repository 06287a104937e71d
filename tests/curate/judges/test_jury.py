"""``judge_jury``: several models, aggregated; on the fake server and with scripted jurors."""

from __future__ import annotations

import asyncio

import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.judges import JudgeJury
from synthloom.curate.judges.jury import majority
from synthloom.io.shards import read_shards
from synthloom.llm.types import Choice, Response
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.llm_step import RowError


class ScriptedJuror:
    """A model that always gives the same reply (a test double for one juror)."""

    def __init__(self, name: str, reply: str):
        self.identity = f"scripted:{name}"
        self.reply = reply
        self.requests = []

    async def complete(self, request):
        self.requests.append(request)
        return Response([Choice(self.reply, "stop")])


def judge(step, record, jurors):
    step.setup(StepContext(step.name, models=jurors))
    return asyncio.run(step.process(record))


@pytest.mark.parametrize("aggregate,expected", [("mean", 10 / 3), ("median", 4.0), ("min", 2.0), ("max", 4.0),
                                               ("majority", 4.0)])
def test_aggregations(aggregate, expected):
    jurors = {"a": ScriptedJuror("a", "Score: 4"), "b": ScriptedJuror("b", "[RESULT] 2"),
              "c": ScriptedJuror("c", "Rating: 4/5")}
    step = JudgeJury("jury", models=["a", "b", "c"], aggregate=aggregate)
    [out] = judge(step, {"id": "r1", "instruction": "Q", "response": "R"}, jurors)
    assert out["score"] == pytest.approx(expected)
    assert out["jury_scores"] == {"a": 4.0, "b": 2.0, "c": 4.0}
    assert [e["juror"] for e in out["_lineage"]] == ["a", "b", "c"]
    assert all(len(j.requests) == 1 for j in jurors.values())
    assert jurors["a"].requests[0] == jurors["b"].requests[0]  # every juror gets the same prompt


def test_majority_ties_go_low_and_aspects_aggregate_per_aspect():
    assert majority([3, 3, 5, 5, 1]) == 3
    jurors = {"a": ScriptedJuror("a", '{"helpfulness": 4, "correctness": 2, "coherence": 4, "complexity": 1, '
                                      '"verbosity": 2}'),
              "b": ScriptedJuror("b", '{"helpfulness": 2, "correctness": 2, "coherence": 4, "complexity": 3, '
                                      '"verbosity": 2}')}
    [out] = judge(JudgeJury("jury", models=["a", "b"], rubric="helpsteer"), {"instruction": "Q", "response": "R"},
                  jurors)
    assert out["scores"] == {"helpfulness": 3.0, "correctness": 2.0, "coherence": 4.0, "complexity": 2.0,
                             "verbosity": 2.0}
    assert out["score"] == pytest.approx(13 / 5)


def test_unreadable_jurors_and_min_valid():
    jurors = {"a": ScriptedJuror("a", "Score: 5"), "b": ScriptedJuror("b", "I refuse to grade.")}
    with pytest.raises(RowError, match="1 of 2 jurors") as e:
        judge(JudgeJury("jury", models=["a", "b"]), {"instruction": "Q", "response": "R"}, jurors)
    assert "[b] I refuse to grade." in e.value.raw_text
    [out] = judge(JudgeJury("jury", models=["a", "b"], min_valid=1), {"instruction": "Q", "response": "R"}, jurors)
    assert out["score"] == 5.0 and out["jury_scores"] == {"a": 5.0, "b": None}


def test_options_validate():
    with pytest.raises(ValueError, match="at least two model names"):
        JudgeJury("j", models=["a"])
    with pytest.raises(ValueError, match="aggregate must be one of"):
        JudgeJury("j", models=["a", "b"], aggregate="mode")
    with pytest.raises(ValueError, match="not `model:`"):
        JudgeJury("j", models=["a", "b"], model="a")
    assert JudgeJury("j", models=["a", "b"]).models == ["a", "b"]  # the pipeline checks both names exist


def test_jury_on_the_fake_server(tmp_path, fake_model):
    step = JudgeJury("jury", models=["small", "large"], template="{{ verdict }}", structured=False)
    pipe = Pipeline([RecordsSource("src", rows=[{"verdict": "Score: 3"}, {"verdict": "nothing"}]), step],
                    models={"small": fake_model, "large": fake_model})
    res = run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    assert (res.counts["jury"].ok, res.counts["jury"].errors) == (1, 1)
    [row] = read_shards(tmp_path / "out" / "data")
    assert row["score"] == 3.0 and row["jury_scores"] == {"small": 3.0, "large": 3.0}
