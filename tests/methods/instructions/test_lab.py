"""LAB / InstructLab: taxonomy loading, question/answer parsing, the 0/1 and 1–3 judges, and the
built-in recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.lab import (
    LabAnswer,
    LabAnswerJudge,
    LabContexts,
    LabQuestionJudge,
    LabQuestions,
    LabTaxonomy,
    TaxonomyError,
    load_taxonomy,
    parse_answer,
    parse_questions,
)
from synthloom.pipeline.llm_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import scripted_context, user_text

BUILTIN = Path(__file__).parents[3] / "src" / "synthloom" / "recipes" / "builtin"
SKILLS_RECIPE = """name: lab-skills
description: LAB skills pipeline
citations: []
params:
  taxonomy: ${recipe_dir}/lab_taxonomy.jsonl
  temperature: 0.7
  max_tokens: 512
  judge_max_tokens: 256
  concurrency: 16
models:
  default:
    spec: embedded
    max_in_flight: ${concurrency}
steps:
  - {name: leaves, type: lab_taxonomy, path: "${taxonomy}"}
  - {name: contexts, type: lab_contexts, temperature: "${temperature}", max_tokens: "${max_tokens}"}
  - {name: questions, type: lab_questions, temperature: "${temperature}", max_tokens: "${max_tokens}"}
  - {name: unique_questions, type: dedup_exact, columns: [question]}
  - {name: question_judge, type: lab_question_judge, temperature: 0, max_tokens: "${judge_max_tokens}"}
  - {name: answer, type: lab_answer, temperature: 0, max_tokens: "${max_tokens}"}
  - {name: answer_judge, type: lab_answer_judge, temperature: 0, max_tokens: "${judge_max_tokens}"}
  - {name: output, type: select, columns: [leaf, kind, task_description, context, question, answer, question_score,
                                           answer_score]}
"""


def seeds(n, context=False):
    return [{"question": f"Q{i}?", "answer": f"A{i}.", **({"context": f"C{i}."} if context else {})} for i in range(n)]


# -- the taxonomy ----------------------------------------------------------------------------------
def test_bundled_taxonomy_has_freeform_and_grounded_leaves_with_three_to_five_seeds():
    from synthloom.recipes.loader import BUILTIN_DIR

    leaves = load_taxonomy(BUILTIN_DIR / "lab_taxonomy.jsonl")
    assert {leaf["kind"] for leaf in leaves} == {"freeform", "grounded"}
    assert all(3 <= len(leaf["seed_examples"]) <= 5 for leaf in leaves)


def test_instructlab_folder_with_skill_and_knowledge_qna_files(tmp_path):
    skill = tmp_path / "compositional_skills" / "writing" / "haiku"
    skill.mkdir(parents=True)
    (skill / "qna.yaml").write_text(yaml.safe_dump({"version": 2, "task_description": "writing haiku",
                                                    "created_by": "me", "seed_examples": seeds(3)}))
    know = tmp_path / "knowledge" / "science" / "tides"
    know.mkdir(parents=True)
    (know / "qna.yaml").write_text(yaml.safe_dump({"version": 3, "task_description": "tides", "seed_examples": [
        {"context": "The moon pulls the sea.", "questions_and_answers": [{"question": "Why tides?", "answer": "The moon."},
                                                                         {"question": "What pulls?", "answer": "Moon."}]},
        {"context": "Two tides a day.", "questions_and_answers": [{"question": "How many?", "answer": "Two."}]}]}))
    leaves = {leaf["leaf"]: leaf for leaf in load_taxonomy(tmp_path)}
    assert leaves["compositional_skills/writing/haiku"]["kind"] == "freeform"
    tides = leaves["knowledge/science/tides"]
    assert tides["kind"] == "grounded" and len(tides["seed_examples"]) == 3
    assert tides["seed_examples"][2] == {"question": "How many?", "answer": "Two.", "context": "Two tides a day."}


def test_taxonomy_errors_name_the_leaf_and_the_fix(tmp_path):
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps({"leaf": "a/b", "task_description": "x", "seed_examples": seeds(2)}) + "\n")
    with pytest.raises(TaxonomyError, match="leaf 0.*2 seed example.*at least 3"):
        load_taxonomy(bad)
    assert len(load_taxonomy(bad, min_seed_examples=2)) == 1
    bad.write_text(json.dumps({"seed_examples": seeds(3)}) + "\n")
    with pytest.raises(TaxonomyError, match="task_description"):
        load_taxonomy(bad)
    bad.write_text(json.dumps({"task_description": "x", "kind": "grounded", "seed_examples": seeds(3)}) + "\n")
    with pytest.raises(TaxonomyError, match="grounded leaf needs a `context`"):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="no taxonomy"):
        load_taxonomy(tmp_path / "missing.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaxonomyError, match="no qna.yaml"):
        load_taxonomy(tmp_path / "empty")


def test_source_yields_one_row_per_leaf_and_seed(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [
        {"leaf": "f", "task_description": "free", "seed_examples": seeds(3)},
        {"leaf": "g", "task_description": "grounded", "seed_examples": seeds(4, context=True)}]) + "\n")
    src = LabTaxonomy("leaves", path=str(path))
    rows = list(src.read())
    assert src.count() == 7 and len(rows) == 7 and len(list(src.read(limit=2))) == 2
    assert rows[0] == {"leaf": "f", "kind": "freeform", "task_description": "free", "seed_index": 0,
                       "seed_question": "Q0?", "seed_answer": "A0.", "seed_context": "", "context": ""}
    assert rows[3]["kind"] == "grounded" and rows[3]["context"] == rows[3]["seed_context"] == "C0."
    assert len(list(LabTaxonomy("l", path=str(path), seeds_per_leaf=1).read())) == 2


# -- parsers ---------------------------------------------------------------------------------------
def test_parse_questions_from_tags_lists_and_junk():
    text = ("Here you go!\n[Start of Question]\nWhat is 2+2?\n[End of Question]\n[Start of Question]\nwhat is 2+2?\n"
            "[End of Question]\n[Start of Question]\nI'm sorry, I can't.\n[End of Question]\n[Start of Question]\nName a")
    assert parse_questions(text) == ["What is 2+2?", "Name a"]
    assert parse_questions(text, truncated=True) == ["What is 2+2?"]
    assert parse_questions("1. Question: Why?\n2. How?\n3. How?") == ["Why?", "How?"]
    assert parse_questions("1. A?\n2. B?\n3. C?", max_items=2) == ["A?", "B?"]
    assert parse_questions("") == []


def test_parse_answer_prefers_tags():
    assert parse_answer("[Start of Answer]\n42.\n[End of Answer] trailing") == "42."
    assert parse_answer("Just 42.") == "Just 42."
    assert parse_answer("[Start of Answer] 7 [End of Answer]") == "7"


# -- steps on scripted replies ---------------------------------------------------------------------
FREE = {"id": "r", "leaf": "f", "kind": "freeform", "task_description": "arithmetic", "seed_index": 0,
        "seed_question": "What is 1+1?", "seed_answer": "2.", "seed_context": "", "context": ""}
GROUNDED = {**FREE, "kind": "grounded", "seed_context": "Tom has 3 apples.", "context": "Tom has 3 apples."}


def test_contexts_pass_freeform_through_and_expand_grounded_samples():
    step = LabContexts("contexts", n=2)
    step.setup(scripted_context(lambda req: ["[Start of Context]\nAna has 5 pears.\n[End of Context]", "Sure! Bo has 2 figs."]))
    assert asyncio.run(step.process(dict(FREE))) == [FREE]
    out = asyncio.run(step.process(dict(GROUNDED)))
    assert [r["context"] for r in out] == ["Ana has 5 pears.", "Sure! Bo has 2 figs."]
    assert "Tom has 3 apples." in step.prompt(GROUNDED)[-1]["content"]
    assert step.prompt(GROUNDED)[0]["role"] == "system"


def test_questions_step_expands_and_errors_when_nothing_parses():
    step = LabQuestions("questions", num_samples=3)
    step.setup(scripted_context(
        lambda req: "[Start of Question] What is 3+4? [End of Question]\n[Start of Question] 5-2? [End of Question]"))
    out = asyncio.run(step.process(dict(FREE)))
    assert [r["question"] for r in out] == ["What is 3+4?", "5-2?"] and len({r["id"] for r in out}) == 2
    assert "3 diverse questions" in step.prompt(FREE)[-1]["content"]
    assert "[Start of Context]" in step.prompt(GROUNDED)[-1]["content"] and "[Start of Context]" not in step.prompt(FREE)[-1]["content"]
    step.setup(scripted_context(lambda req: ""))
    with pytest.raises(RowError):
        asyncio.run(step.process(dict(FREE)))


@pytest.mark.parametrize("reply, verdict", [
    ("[Start of Evaluation] Clear. [End of Evaluation]\n[Start of Score] 1 [End of Score]", 1),
    ("[Start of Evaluation] Off topic. [End of Evaluation]\n[Start of Score] 0 [End of Score]", "rejected"),
    ("The question is fine. Score: 1", 1),
    ("Looks good to me!", "error"),
    ("[Start of Score] 3 [End of Score]", "error"),  # not on the 0/1 scale
])
def test_question_judge_keeps_one_rejects_zero_and_errors_on_no_score(reply, verdict):
    step = LabQuestionJudge("qjudge")
    step.setup(scripted_context(lambda req: reply))
    rec = {**FREE, "question": "What is 3+4?"}
    if verdict == "error":
        with pytest.raises(RowError) as e:
            asyncio.run(step.process(rec))
        assert e.value.raw_text == reply
        return
    out = asyncio.run(step.process(rec))
    if verdict == "rejected":
        assert isinstance(out, Rejected) and out.score == 0.0 and "< 1" in out.reason
    else:
        assert out[0]["question_score"] == 1 and out[0]["question_evaluation"] in ("Clear.", "The question is fine.")


@pytest.mark.parametrize("score, kept", [(1, False), (2, True), (3, True)])
def test_answer_judge_keeps_two_and_above(score, kept):
    step = LabAnswerJudge("ajudge")
    step.setup(scripted_context(lambda req: f"[Start of Evaluation] ok [End of Evaluation]\n[Start of Score]\n{score}\n[End of Score]"))
    out = asyncio.run(step.process({**FREE, "question": "q", "answer": "a"}))
    assert (not isinstance(out, Rejected)) == kept
    if kept:
        assert out[0]["answer_score"] == score
    else:
        assert out.score == 1.0
    with pytest.raises(ValueError, match="min_score"):
        LabAnswerJudge("x", min_score=4)


def test_answer_step_uses_the_seed_example_and_tags():
    step = LabAnswer("answer")
    step.setup(scripted_context(lambda req: "[Start of Answer]\n3 + 4 = 7.\n[End of Answer]"))
    out = asyncio.run(step.process({**FREE, "question": "What is 3+4?"}))
    assert out[0]["answer"] == "3 + 4 = 7."
    prompt = step.prompt({**GROUNDED, "question": "How many apples?"})[-1]["content"]
    assert "What is 1+1?" in prompt and "How many apples?" in prompt and "Tom has 3 apples." in prompt


# -- end to end --------------------------------------------------------------------------------------
def lab_script(req) -> str:
    text = user_text(req)
    if "write a new, diverse context" in text:
        return "[Start of Context]\nAt the book club, Sam will buy snacks.\n[End of Context]"
    if "diverse questions" in text:
        seed = text.split("[Start of Question]\n", 1)[1].split("\n", 1)[0]
        return (f"[Start of Question]\nGood question one on {seed}\n[End of Question]\n[Start of Question]\n"
                f"Bad question?\n[End of Question]\n[Start of Question]\nGood question two on {seed}\n[End of Question]")
    if "binary 0/1 scale" in text:
        if "Good question two" in text and "book club" in text:
            return "No score here."
        return f"[Start of Evaluation] ok [End of Evaluation]\n[Start of Score] {int('Good' in text)} [End of Score]"
    if "answer a question" in text:
        return "[Start of Answer]\nThe answer.\n[End of Answer]"
    if "3-point scale" in text:
        return f"Fine.\n[Start of Score]\n{3 if 'Good question one' in text else 1}\n[End of Score]"
    return "?"


def skills_recipe(tmp_path):
    """The LAB skills pipeline (the built-in ``lab`` recipe is the knowledge pipeline), as a recipe file."""
    text = SKILLS_RECIPE.replace("${recipe_dir}", str(BUILTIN))
    path = tmp_path / "lab-skills.yaml"
    path.write_text(text)
    return str(path)


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "lab"
    run = run_recipe(skills_recipe(tmp_path), out, "steps.questions.num_samples=3",
                     extra_cli_args=("--model", scripted_model(lab_script)))
    c = run["counts"]
    assert c["leaves"]["out"] == 9 and c["questions"]["out"] == 27
    assert c["unique_questions"]["rejected"] == 8 and c["question_judge"]["errors"] == 3
    assert c["answer_judge"]["rejected"] == 6
    data = list(read_shards(out / "data"))
    assert len(data) == 9
    for row in data:
        assert set(row) == {"id", "_lineage", "leaf", "kind", "task_description", "context", "question", "answer",
                            "question_score", "answer_score"}
        assert row["question"].startswith("Good question one on ") and row["question_score"] == 1 and row["answer_score"] == 3
        steps = [e["step"] for e in row["_lineage"]]
        assert steps[-4:] == ["questions", "question_judge", "answer", "answer_judge"]
        assert ("contexts" in steps) == (row["kind"] == "grounded")
        if row["kind"] == "grounded":
            assert row["context"] == "At the book club, Sam will buy snacks."
    rejected = side_rows(out, "rejected")
    by = {r["_rejected_by"] for r in rejected}
    assert by == {"unique_questions", "question_judge", "answer_judge"}
    assert all(r["_score"] is not None for r in rejected if r["_rejected_by"] != "unique_questions")
    errors = side_rows(out, "errors")
    assert len(errors) == 3
    assert all(r["_step"] == "question_judge" and r["_raw_text"] == "No score here." for r in errors)


@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "lab"
    run = run_recipe(skills_recipe(tmp_path), out, "steps.questions.num_samples=2", "max_tokens=96",
                     "judge_max_tokens=48", "concurrency=4", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["leaves"]["out"] == 1
    for row in read_shards(out / "data"):
        assert row["question_score"] == 1 and row["answer_score"] >= 2 and row["_lineage"][-1]["step"] == "answer_judge"
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] in ("unique_questions", "question_judge", "answer_judge") and r["_reason"]
    for r in side_rows(out, "errors"):
        assert r["_step"] in ("questions", "question_judge", "answer", "answer_judge") and r["_error"]
