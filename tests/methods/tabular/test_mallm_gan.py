"""MALLM-GAN's loop on a scripted model: the prompts, the optimizer's OPRO history, the best round kept,
invalid rows rejected with the schema problem; the recipe end to end (scripted and embedded)."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("pandas")
pytest.importorskip("causallearn")

from synthloom.methods.tabular.mallm_gan import MallmGan  # noqa: E402
from synthloom.pipeline.context import StepContext  # noqa: E402
from synthloom.pipeline.step import RejectedRow  # noqa: E402
from synthloom.tabular.schema import TableSchema  # noqa: E402
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows  # noqa: E402
from synthloom.testing.scripted import Models, ScriptedModel, user_text  # noqa: E402

BAD_ROW = {"sepal_length_cm": 4.3, "sepal_width_cm": 4.4, "petal_length_cm": 6.9, "petal_width_cm": 0.1, "target": "setosa"}


def is_optimizer(req) -> bool:
    return "instructions" in (req.json_schema or {}).get("properties", {})


def instructions_of(req) -> str:
    return user_text(req).split("Instructions:\n", 1)[1].split("\n\nReal rows:", 1)[0]


def few_shot_rows(req) -> list[dict]:
    return [json.loads(line) for line in user_text(req).split("Real rows:\n", 1)[1].splitlines() if line.startswith("{")]


def make_reply(optimizer_answers: list[str], row_for=None):
    """Generator: a real few-shot row (slightly moved) when its instructions say "good", a far-off row otherwise;
    optimizer: the next of ``optimizer_answers``."""
    answers = iter(optimizer_answers)

    def reply(req):
        if is_optimizer(req):
            return json.dumps({"instructions": next(answers)})
        if row_for is not None:
            return json.dumps(row_for(req))
        if "good" in instructions_of(req):
            row = dict(few_shot_rows(req)[0])
            row["sepal_width_cm"] = round(row["sepal_width_cm"] + 0.1, 1)
            return json.dumps(row)
        return json.dumps(BAD_ROW)

    return reply


def run_loop(step: MallmGan, model: ScriptedModel, tmp_path, limit=None) -> list:
    (tmp_path / ".state").mkdir(exist_ok=True)
    step.setup(StepContext(step=step.name, models=Models(model), state_dir=tmp_path / ".state"))

    async def go():
        return [row async for row in step.aread(limit)]

    return asyncio.run(go())


def test_the_optimizer_sees_the_history_and_the_best_round_is_kept(tmp_path):
    model = ScriptedModel(make_reply(["good: stay close to the real rows", "worse again: drift away"]))
    step = MallmGan("gan", real="sklearn:iris", rows=6, rounds=3, rows_per_round=6, instructions="drift: anything goes")
    out = run_loop(step, model, tmp_path)
    record = step.last_record
    assert [r.round for r in record.rounds] == [1, 2, 3] and record.best.round == 2
    assert record.rounds[0].score > 0.8 and record.rounds[2].score > 0.8 and record.best.score < 0.7
    # OPRO: every earlier (instructions, score) pair, worst first, best last, and the latest round's mistakes
    second = [r for r in model.requests if is_optimizer(r)][1]
    prompt = user_text(second)
    worst = f"drift: anything goes\nAccuracy: {record.rounds[0].score:.3f}"
    assert prompt.index(worst) < prompt.index(f"good: stay close to the real rows\nAccuracy: {record.best.score:.3f}")
    assert "passed as real:" in prompt and "a real row:" in prompt
    # the kept rows are round 2's, which answered the "good" instructions
    assert len(out) == 6 and all(isinstance(r, dict) for r in out)
    assert [r["_lineage"][0]["round"] for r in out] == ["round2"] * 6
    assert [{k: v for k, v in r.items() if k not in ("id", "_lineage")} for r in out] == record.best.valid_rows
    doc = json.loads((tmp_path / "mallm_gan" / "gan" / "rounds.json").read_text())
    assert doc["best_round"] == 2 and [r["score"] for r in doc["rounds"]] == [r.score for r in record.rounds]
    assert doc["rounds"][0]["optimizer"]["next_instructions"] == "good: stay close to the real rows"
    assert doc["final"] == {"emitted": 6, "valid": 6, "invalid": 0, "top_up_calls": 0}
    assert "good: stay close" in (tmp_path / "mallm_gan" / "gan" / "best_prompt.txt").read_text()


def test_invalid_rows_are_rejected_with_the_schema_problem_and_topped_up(tmp_path):
    calls = {"n": 0}

    def row_for(req):
        calls["n"] += 1
        row = dict(few_shot_rows(req)[0])
        if calls["n"] % 3 == 1:
            row["sepal_length_cm"] = 99.0
        elif calls["n"] % 3 == 2:
            row["target"] = "rose"
        return row

    model = ScriptedModel(make_reply(["x" * 20], row_for))
    step = MallmGan("gan", real="sklearn:iris", rows=4, rounds=1, rows_per_round=4)
    out = run_loop(step, model, tmp_path)
    rejected = [r for r in out if isinstance(r, RejectedRow)]
    kept = [r for r in out if isinstance(r, dict)]
    assert len(kept) == 4  # the best (only) round had 2 valid rows; the top-up made the rest
    reasons = {r.verdict.reason for r in rejected}
    assert "schema: sepal_length_cm: 99.0 is above the maximum 7.9" in reasons
    assert any(r.startswith("schema: target: 'rose' is not one of the categories") for r in reasons)
    assert all(r.record["_lineage"][0]["role"] == "generator" for r in rejected)
    schema = step.schema
    assert all(schema.validate_row(r) == [] for r in kept)
    assert step.last_record.rounds[0].reasons()[0].startswith("sepal_length_cm: 99.0")


def test_a_reply_without_json_is_rejected_with_the_reply_kept(tmp_path):
    model = ScriptedModel(lambda req: "no idea" if not is_optimizer(req) else "{}")
    step = MallmGan("gan", real="sklearn:iris", rows=2, rounds=1, rows_per_round=2)
    out = run_loop(step, model, tmp_path)
    assert len(out) == 2 + 6 and all(isinstance(r, RejectedRow) for r in out)  # the round's 2, then 3 × rows more at most
    assert out[0].verdict.reason == "schema: the reply holds no JSON object: 'no idea'" and out[0].record["reply"] == "no idea"
    assert step.last_record.rounds[0].verdict.accuracy is None  # nothing to score


def test_an_unusable_optimizer_reply_keeps_the_best_instructions(tmp_path):
    model = ScriptedModel(make_reply(["", "short"]))
    step = MallmGan("gan", real="sklearn:iris", rows=3, rounds=3, rows_per_round=3, instructions="good instructions")
    run_loop(step, model, tmp_path)
    rounds = step.last_record.rounds
    assert [r.instructions for r in rounds] == ["good instructions"] * 3
    assert "optimizer reply unusable" in rounds[0].optimizer_note and "kept the best" in rounds[1].optimizer_note


def test_the_generator_prompt_holds_schema_structure_and_real_rows(tmp_path):
    model = ScriptedModel(make_reply(["good instructions here"]))
    step = MallmGan("gan", real="sklearn:iris", rows=3, rounds=1, rows_per_round=3, few_shot=4,
                    description="Measurements of iris flowers.")
    run_loop(step, model, tmp_path, limit=2)
    generator = [r for r in model.requests if not is_optimizer(r)]
    assert len(generator) == 2  # -n caps the round's rows
    schema = TableSchema.from_yaml(tmp_path / "tables" / "schema.yaml")
    assert generator[0].json_schema == schema.json_schema()  # a grammar on llama.cpp
    prompt = user_text(generator[0])
    assert prompt.startswith("Measurements of iris flowers.")
    assert '- target: one of "setosa" (33%), "versicolor" (33%), "virginica" (33%)' in prompt
    assert "Causal structure learnt from the real rows" in prompt and " -> " in prompt
    import pandas as pd

    train = pd.read_parquet(tmp_path / "tables" / "train.parquet").to_dict(orient="records")
    shots = few_shot_rows(generator[0])
    assert len(shots) == 4 and all(s in train for s in shots)
    assert few_shot_rows(generator[0]) != few_shot_rows(generator[1])  # drawn per call
    assert generator[0].seed != generator[1].seed


@pytest.mark.parametrize("options, message", [
    ({"rounds": 0}, "rounds must be at least 1"),
    ({"causal": "ges"}, "causal must be pc or none"),
    ({"alpha": 1.5}, "alpha must be between 0 and 1"),
    ({"examples": -1}, "examples must be 0 or more"),
])
def test_options_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        MallmGan("gan", real="sklearn:iris", **options)


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(make_reply(["good instructions from the optimizer"] * 5))
    out = tmp_path / "run"
    run = run_recipe("mallm-gan", out, "rows=6", "rows_per_round=6", "rounds=2", extra_cli_args=("--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 6 and not rejected and not errors
    card = (out / "card.md").read_text()
    assert "## MALLM-GAN rounds (synthesize)" in card and "| 2 |" in card and "evaluation/report.html" in card
    assert json.loads((out / "evaluation" / "report.json").read_text())["rows"]["synthetic"] == 6


@needs_embedded
def test_recipe_on_the_embedded_model_keeps_only_rows_of_the_schema(tmp_path):
    out = tmp_path / "run"
    run = run_recipe("mallm-gan", out, "rounds=2", "rows_per_round=2", "few_shot=2", extra_cli_args=("-n", "2"))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) >= 2
    schema = TableSchema.from_yaml(out / "tables" / "schema.yaml")
    assert all(schema.validate_row(row) == [] for row in data)
    assert all(r["_reason"].startswith("schema: ") for r in side_rows(out, "rejected"))
    doc = json.loads((out / "mallm_gan" / "synthesize" / "rounds.json").read_text())
    assert [r["round"] for r in doc["rounds"]] == [1, 2] and doc["best_round"] in (1, 2)
