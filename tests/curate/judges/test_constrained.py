"""Constrained judge replies: the schemas, and the two paths of ``ModelStep.call_constrained`` (a
backend that enforces a schema gets it and answers JSON; one that cannot answers free text)."""

from __future__ import annotations

import json

import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.judges import Judge
from synthloom.curate.judges.constrained import aspects_schema, reason_chars, value_schema, verdict_schema
from synthloom.curate.judges.pairwise import PairwiseJudge
from synthloom.io.shards import read_shards
from synthloom.llm.structured import validate
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.scripted import ScriptedModel, run_step


def scripted(reply, supports: bool | None) -> ScriptedModel:
    model = ScriptedModel(reply)
    if supports is not None:
        model.supports_json_schema = supports
    return model


def test_schemas_hold_the_verdict_as_an_enum_and_cap_the_explanation():
    assert value_schema((1, 5)) == {"type": "integer", "enum": [1, 2, 3, 4, 5]}
    assert value_schema((0.0, 1.0)) == {"type": "integer", "enum": [0, 1]}
    assert value_schema((0, 100)) == {"type": "integer", "minimum": 0, "maximum": 100}
    assert value_schema((0, 0.5)) == {"type": "number", "minimum": 0, "maximum": 0.5}
    assert value_schema(["NO", "YES"]) == {"type": "string", "enum": ["NO", "YES"]}
    schema = verdict_schema("score", (1, 3), max_tokens=256)
    assert list(schema["properties"]) == ["rationale", "score"]  # the explanation first, then the verdict
    assert schema["properties"]["rationale"]["maxLength"] == 232  # one character a token, the worst case
    assert verdict_schema("score", (1, 3), max_tokens=100)["properties"]["rationale"]["maxLength"] == 76
    assert verdict_schema("score", (1, 3), max_tokens=1024)["properties"]["rationale"]["maxLength"] == 400
    assert list(verdict_schema("score", (1, 3), max_tokens=12)["properties"]) == ["score"]  # no room: the verdict only
    assert reason_chars(None) == 400 and reason_chars(30) == 0 and reason_chars(40) == 16
    validate({"rationale": "ok", "score": 2}, schema)
    with pytest.raises(ValueError):
        validate({"rationale": "ok", "score": 4}, schema)
    both = aspects_schema(["a", "b"], 1, 5, max_tokens=200)
    assert both["properties"]["a"]["properties"]["rationale"]["maxLength"] == 76


def test_judge_asks_for_json_where_the_backend_enforces_it():
    model = scripted(lambda req: json.dumps({"rationale": "correct and short", "score": 4}), True)
    [out] = run_step(Judge("j", max_tokens=128), model, [{"instruction": "2+2?", "response": "4"}])
    req = model.requests[0]
    assert req.json_schema == verdict_schema("score", (1, 5), max_tokens=128)
    assert out[0]["score"] == 4.0 and out[0]["judge_reason"] == "correct and short"


def test_judge_sends_no_schema_to_a_backend_that_cannot_and_reads_the_free_text():
    model = scripted(lambda req: "The answer is right.\nScore: 5", False)
    [out] = run_step(Judge("j"), model, [{"instruction": "2+2?", "response": "4"}])
    assert model.requests[0].json_schema is None
    assert out[0]["score"] == 5.0


def test_structured_false_and_expected_score_keep_the_free_text_format():
    model = scripted(lambda req: "Score: 3", True)
    run_step(Judge("j", structured=False), model, [{"instruction": "q", "response": "r"}])
    run_step(Judge("c", rubric="deita_complexity"), model, [{"instruction": "q", "response": "r"}])
    assert [r.json_schema for r in model.requests] == [None, None]


def test_a_reply_that_misses_the_schema_is_read_as_free_text():
    # a backend that says it enforces schemas but answers outside one: no re-ask, the text parser reads it
    model = scripted(lambda req: "Rating: 2", True)
    [out] = run_step(Judge("j"), model, [{"instruction": "q", "response": "r"}])
    assert len(model.requests) == 1 and out[0]["score"] == 2.0


def test_pairwise_and_binary_verdicts_under_a_schema():
    model = scripted(lambda req: json.dumps({"rationale": "first is better", "winner": "A"}), True)
    [out] = run_step(PairwiseJudge("p", response_a="x", response_b="y"), model,
                     [{"instruction": "q", "x": "good", "y": "bad"}])
    assert out[0]["pairwise_verdicts"] == ["a", "b"] and out[0]["winner"] == "tie"  # "A" both times: position bias
    assert model.requests[0].json_schema["properties"]["winner"]["enum"] == ["A", "B", "tie"]
    model = scripted(lambda req: json.dumps({"rationale": "yes it does", "answer": "no"}), True)
    [out] = run_step(Judge("b", rubric="binary"), model, [{"instruction": "q", "response": "r"}])
    assert out[0]["score"] == 0.0


def test_a_server_that_turns_the_schema_down_gets_the_free_text_prompt(tmp_path):
    # supports_json_schema unknown: the schema is tried, the server answers 400, the backend resends without
    # it and the judge reads the reply ("Reply to: <prompt>") with its free-text parser
    with FakeOpenAIServer(FakeServerConfig(json_schema_supported=False)) as server:
        step = Judge("j", template="{{ verdict }}")
        pipe = Pipeline([RecordsSource("src", rows=[{"verdict": "Score: 4"}]), step],
                        models={"default": f"openai:fake@{server.url}"})
        run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    [row] = read_shards(tmp_path / "out" / "data")
    assert row["score"] == 4.0


def test_a_server_that_accepts_the_schema_answers_json(tmp_path, fake_model):
    # the fake server answers a schema with its minimal instance: the enum's first value, 1 (a rubric preset:
    # a user's own template states its reply format, so it is read as free text)
    step = Judge("j")
    pipe = Pipeline([RecordsSource("src", rows=[{"instruction": "What is 2+2?", "response": "Score: 4"}]), step],
                    models={"default": fake_model})
    run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    [row] = read_shards(tmp_path / "out" / "data")
    assert row["score"] == 1.0


def test_a_users_own_template_is_read_as_free_text_unless_structured_is_set(tmp_path, fake_model):
    # the fake server echoes the prompt: the template's "Score: 4" is what the free-text parser reads
    step = Judge("j", template="{{ verdict }}")
    assert step.constrained_schema() is None
    assert Judge("k", template="{{ verdict }}", structured=True).json_schema is not None
    pipe = Pipeline([RecordsSource("src", rows=[{"verdict": "Score: 4"}]), step], models={"default": fake_model})
    run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    [row] = read_shards(tmp_path / "out" / "data")
    assert row["score"] == 4.0
