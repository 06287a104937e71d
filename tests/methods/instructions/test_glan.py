"""GLAN: parsers of subjects, syllabi and questions; the session sampler; the steps on scripted
replies; the built-in recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import asyncio
import re

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.glan import (
    GlanHomework,
    GlanSampleSessions,
    GlanSubjects,
    GlanSyllabus,
    parse_question,
    parse_subjects,
    parse_syllabus,
    sample_sessions,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import scripted_context, user_text


# -- parsers -----------------------------------------------------------------------------------
def test_parse_subjects_handles_levels_junk_and_truncation():
    text = ("Here are the subjects a student should learn:\n1. Linear Algebra (undergraduate)\n"
            "2) **Real Analysis** - graduate\n3. Intro to Proofs (Introductory level)\n4. Algebra (Level 2)\n"
            "5. Linear algebra (undergraduate)\n\nLet me know if you need more!")
    assert parse_subjects(text) == [("Linear Algebra", "undergraduate"), ("Real Analysis", "graduate"),
                                    ("Intro to Proofs", "introductory"), ("Algebra", "undergraduate")]
    assert parse_subjects("1. Topology (graduate)\n2. Number the", truncated=True) == [("Topology", "graduate")]
    assert parse_subjects("- Optics\n- Acoustics", default_level="graduate") == [("Optics", "graduate"), ("Acoustics", "graduate")]
    long = "1. " + " ".join(["word"] * 20)
    assert parse_subjects(long) == []
    assert parse_subjects("1. A\n2. B\n3. C", max_items=2) == [("A", "undergraduate"), ("B", "undergraduate")]


def test_parse_syllabus_sessions_concepts_and_fallbacks():
    text = ("Sure! Here is the syllabus.\n\nSession 1: Vectors and spaces\nKey concepts: vector addition; "
            "scalar multiplication, span\n\n**Session 2: Matrices**\n- matrix product\n- inverse (of a matrix)\n"
            "Lecture 3 - Determinants\nSession 4: Eigen")
    sessions = parse_syllabus(text, truncated=True)
    assert sessions == [
        {"title": "Vectors and spaces", "key_concepts": ["vector addition", "scalar multiplication", "span"]},
        {"title": "Matrices", "key_concepts": ["matrix product", "inverse (of a matrix)"]},
        {"title": "Determinants", "key_concepts": ["Determinants"]},
    ]
    assert len(parse_syllabus(text)) == 4
    assert parse_syllabus("1. Kinematics\n2. Forces\n3. Energy") == [
        {"title": t, "key_concepts": [t]} for t in ("Kinematics", "Forces", "Energy")]
    assert parse_syllabus("This course is a wonderful journey through algebra with Dr. Smith.") == []


def test_parse_question_strips_labels_preambles_and_answers():
    assert parse_question("Here is a question:\nQuestion: What is a vector space?\nAnswer: a set ...") == \
        "What is a vector space?"
    assert parse_question('"Compute the determinant of [[1,2],[3,4]]."\n\nSolution: -2') == \
        "Compute the determinant of [[1,2],[3,4]]."
    assert parse_question("") == ""


# -- the sampler -----------------------------------------------------------------------------------
SYLLABUS = [{"title": f"S{i}", "key_concepts": [f"c{i}{j}" for j in range(3)]} for i in range(5)]


def test_sample_sessions_is_deterministic_cycles_difficulties_and_respects_ranges():
    a = sample_sessions(SYLLABUS, 9, seed=7, difficulties=["easy", "medium", "hard"])
    assert a == sample_sessions(SYLLABUS, 9, seed=7, difficulties=["easy", "medium", "hard"])
    assert a != sample_sessions(SYLLABUS, 9, seed=8, difficulties=["easy", "medium", "hard"])
    assert [s["difficulty"] for s in a] == ["easy", "medium", "hard"] * 3
    by_title = {s["title"]: s["key_concepts"] for s in SYLLABUS}
    for spec in a:
        assert 1 <= len(spec["session_titles"]) <= 2 and 1 <= len(spec["key_concepts"]) <= 3
        allowed = {c for t in spec["session_titles"] for c in by_title[t]}
        assert set(spec["key_concepts"]) <= allowed
    keys = [(s["difficulty"], tuple(s["session_titles"]), tuple(s["key_concepts"])) for s in a]
    assert len(set(keys)) == len(keys)  # plenty of combinations: none repeats


def test_sample_sessions_covers_sessions_and_handles_exhaustion():
    specs = sample_sessions(SYLLABUS, 60, seed=1, difficulties=["easy"])
    assert {t for s in specs for t in s["session_titles"]} == {s["title"] for s in SYLLABUS}
    tiny = [{"title": "Only", "key_concepts": ["x"]}]
    assert sample_sessions(tiny, 3, seed=0, difficulties=["easy"]) == [
        {"session_titles": ["Only"], "key_concepts": ["x"], "difficulty": "easy", "sessions_spanned": 1}] * 3
    assert sample_sessions([], 3, seed=0, difficulties=["easy"]) == []


def test_sample_sessions_step_options_are_checked():
    with pytest.raises(ValueError, match="n_sessions"):
        GlanSampleSessions("s", n_sessions=[2, 1])
    with pytest.raises(ValueError, match="questions_per_syllabus"):
        GlanSampleSessions("s", questions_per_syllabus=0)
    step = GlanSampleSessions("s", questions_per_syllabus=4)
    kids = step.expand({"id": "p", "sessions": SYLLABUS})
    assert len(kids) == 4 and kids == step.expand({"id": "p", "sessions": SYLLABUS})
    assert step.expand({"id": "p", "sessions": []}) == []


# -- steps on scripted replies ---------------------------------------------------------------------
def test_subjects_step_expands_with_lineage_and_errors_on_nothing():
    step = GlanSubjects("subjects", n_subjects=3)
    step.setup(scripted_context(lambda req: "Subjects:\n1. Optics (graduate)\n2. Mechanics\n3. Optics (graduate)"))
    out = asyncio.run(step.process({"id": "d1", "discipline": "Physics"}))
    assert [(r["subject"], r["level"]) for r in out] == [("Optics", "graduate"), ("Mechanics", "undergraduate")]
    assert len({r["id"] for r in out}) == 2 and all(r["_lineage"][-1]["parent"] == "d1" for r in out)
    assert "Physics" in user_text(step.build_request({"id": "d1", "discipline": "Physics"}))
    assert "3 subjects" in user_text(step.build_request({"id": "d2", "discipline": "x"}))
    step.setup(scripted_context(lambda req: ""))
    with pytest.raises(Exception, match="no subjects"):
        asyncio.run(step.process({"id": "d1", "discipline": "Physics"}))


def test_syllabus_rejects_prose_and_homework_rejects_refusals():
    syl = GlanSyllabus("syllabus", min_sessions=2)
    syl.setup(scripted_context(lambda req: "Session 1: Waves\nKey concepts: frequency; amplitude"))
    verdict = asyncio.run(syl.process({"id": "x", "discipline": "Physics", "subject": "Optics", "level": "graduate"}))
    assert isinstance(verdict, Rejected) and "1 class session" in verdict.reason and verdict.score == 1.0
    hw = GlanHomework("homework")
    hw.setup(scripted_context(lambda req: "I'm sorry, but I can't help with that."))
    rec = {"id": "x", "discipline": "Physics", "subject": "Optics", "level": "graduate", "session_titles": ["Waves", "Lenses"],
           "key_concepts": ["focal length"], "difficulty": "hard"}
    assert isinstance(asyncio.run(hw.process(rec)), Rejected)
    text = user_text(hw.build_request(rec))
    assert '"Waves" and "Lenses"' in text and "focal length" in text and "several steps" in text


# -- end to end --------------------------------------------------------------------------------------
def glan_script(req) -> str:
    text = user_text(req)
    if "You are building a taxonomy" in text:
        return '{"items": ["Physics"]}' if "disciplines of the sub-field" in text else '{"items": ["Natural Sciences"]}'
    if "List 2 subjects" in text:
        return "1. Optics (undergraduate)\n2. Thermodynamics (graduate)"
    if "Design the syllabus" in text:
        if "Thermodynamics" in text:
            return "A lovely course about heat, taught with passion."  # no sessions: rejected
        return ("Session 1: Light\nKey concepts: reflection; refraction\nSession 2: Lenses\n"
                "Key concepts: focal length; magnification")
    if "homework question" in text:
        concepts = re.search(r"key concepts: (.*)\.", text).group(1)
        if "magnification" in concepts and "challenging" in text:
            return "I'm sorry, I cannot write that question."
        return f"Question: Explain {concepts} with an example."
    return "An answer."


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "glan"
    run = run_recipe("glan", out, "subjects_per_discipline=2", "steps.sample_sessions.questions_per_syllabus=4",
                     extra_cli_args=("-n", "1", "--model", scripted_model(glan_script)))
    c = run["counts"]
    assert c["subjects"]["out"] == 2 and c["syllabus"]["rejected"] == 1 and c["sample_sessions"]["out"] == 4
    data = list(read_shards(out / "data"))
    assert data and len(data) + c["homework"]["rejected"] == 4
    for row in data:
        assert set(row) == {"id", "_lineage", "field", "sub_field", "discipline", "subject", "level", "session_titles",
                            "key_concepts", "difficulty", "sessions_spanned", "question", "answer"}
        assert row["subject"] == "Optics" and row["question"].startswith("Explain ") and row["answer"] == "An answer."
        assert (row["field"], row["sub_field"], row["discipline"]) == ("Natural Sciences", "Natural Sciences", "Physics")
        assert row["sessions_spanned"] == len(row["session_titles"]) == (1 if row["difficulty"] == "basic" else 2)
        steps = [e["step"] for e in row["_lineage"]]
        assert steps[:2] == ["disciplines", "subjects"] and steps[-2:] == ["homework", "answer"] and "syllabus" in steps
    rejected = side_rows(out, "rejected")
    assert {r["_rejected_by"] for r in rejected} <= {"syllabus", "homework"}
    assert any(r["_rejected_by"] == "syllabus" and "class session" in r["_reason"] for r in rejected)


def test_a_recipe_replaces_a_bundled_prompt_and_the_bundled_one_is_fingerprinted(tmp_path, scripted_model):
    recipe = tmp_path / "homework.yaml"
    recipe.write_text("""name: homework
steps:
  - name: rows
    type: records
    rows: [{discipline: Physics, subject: Optics, level: graduate, session_titles: [Waves],
            key_concepts: [focal length], difficulty: easy}]
  - name: homework
    type: glan_homework
    prompt: "Ask about {{ subject }} ({{ difficulty }})."
""")
    out = tmp_path / "out"
    run_recipe(str(recipe), out, extra_cli_args=("--model", scripted_model(lambda req: f"Question: {user_text(req)}")))
    assert [r["question"] for r in read_shards(out / "data")] == ["Ask about Optics (easy)."]
    bundled = GlanHomework("homework").describe()
    assert set(bundled["templates"]) == {"glan_homework.jinja"} and bundled["options"]["prompt"] is None
    custom = GlanHomework("homework", prompt="Ask about {{ subject }}.")
    assert custom.reads == {"subject"} and custom.describe()["options"]["prompt"] == "Ask about {{ subject }}."


@pytest.mark.slow
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "glan"
    run = run_recipe("glan", out, "subjects_per_discipline=2", "steps.sample_sessions.questions_per_syllabus=2", "max_tokens=160",
                     "answer_max_tokens=48", "concurrency=4", extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["disciplines"]["out"] == 1
    for row in read_shards(out / "data"):
        assert {"discipline", "subject", "question", "answer", "difficulty"} <= set(row)
        assert row["_lineage"][0]["model"].startswith("llamacpp:")
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] in ("syllabus", "homework") and r["_reason"]
    for r in side_rows(out, "errors"):
        assert r["_step"] in ("subjects", "syllabus", "homework", "answer") and r["_error"]
    total_out = run["rows"]["data"] + run["rows"]["rejected"] + run["rows"]["errors"]
    assert total_out >= 1
