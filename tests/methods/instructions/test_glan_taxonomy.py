"""GLAN's taxonomy stage on a scripted model: fields → sub-fields → disciplines as structured
output, bounded by the limit, exported for human review and fed back as the discipline list; and
homework difficulty set by how many class sessions a question spans."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.glan import GlanSampleSessions, sample_sessions
from synthloom.methods.instructions.glan_taxonomy import GlanTaxonomy, TaxonomyFileError, clean_names, load_reviewed
from synthloom.testing.recipe_runs import run_recipe
from synthloom.testing.scripted import ScriptedModel, scripted_context, user_text


def taxonomy_reply(req) -> str:
    text = user_text(req)
    assert req.json_schema is not None  # every level is asked as structured output
    if "broad fields" in text:
        items = ["Natural Sciences", "Humanities", "natural sciences"]
    elif "sub-fields of the field" in text:
        field = re.search(r'field "([^"]+)"', text).group(1)
        items = [f"{field} A", f"{field} B"]
    else:
        sub = re.search(r'sub-field "([^"]+)"', text).group(1)
        items = [f"{sub} one", f"{sub} two", "Shared"]
    return json.dumps({"items": items[:req.json_schema["properties"]["items"]["maxItems"]]})


def read(step: GlanTaxonomy, model, limit=None) -> list[dict]:
    step.setup(scripted_context(model, step=step.name))

    async def go():
        return [r async for r in step.aread(limit)]

    return asyncio.run(go())


def test_the_model_builds_fields_sub_fields_and_disciplines():
    model = ScriptedModel(taxonomy_reply)
    rows = read(GlanTaxonomy("taxonomy", n_fields=3, n_sub_fields=2, n_disciplines=3), model)
    assert len(model.requests) == 1 + 2 + 4  # the repeated field is dropped
    names = [r["discipline"] for r in rows]
    assert len(names) == len(set(n.lower() for n in names)) == 4 * 2 + 1  # "Shared" once
    assert rows[0]["field"] == "Natural Sciences" and rows[1]["field"] == "Humanities"  # round-robin over fields
    assert {(r["field"], r["sub_field"]) for r in rows} >= {("Humanities", "Humanities A"), ("Natural Sciences", "Natural Sciences B")}
    assert all(r["_lineage"][0]["level"] == "disciplines" for r in rows)


def test_names_lose_list_markers_and_repeats_but_not_leading_digits():
    assert clean_names(["1. Physics", "3D Printing", "- Art", "art.", "  ", 7], 5) == ["Physics", "3D Printing", "Art", "7"]
    assert clean_names("not a list", 3) == [] and len(clean_names([f"x{i}" for i in range(9)], 4)) == 4


def test_a_limit_builds_only_what_it_needs():
    model = ScriptedModel(taxonomy_reply)
    rows = read(GlanTaxonomy("taxonomy", n_fields=3, n_sub_fields=2, n_disciplines=3), model, limit=1)
    assert len(rows) == 1 and len(model.requests) == 3  # one field, one sub-field, one disciplines list
    model = ScriptedModel(taxonomy_reply)
    rows = read(GlanTaxonomy("taxonomy", count=3), model, limit=None)
    assert len(rows) == 3 and {r["field"] for r in rows} == {"Natural Sciences", "Humanities"}
    assert len(model.requests) == 1 + 2 + 4  # 2 fields, ceil(3/2) = 2 sub-fields each


def test_review_export_and_the_reviewed_list_asks_the_model_nothing(tmp_path):
    step = GlanTaxonomy("taxonomy", n_fields=2, n_sub_fields=1, n_disciplines=2)
    rows = read(step, ScriptedModel(taxonomy_reply))
    logs: list[str] = []
    step.after_run(tmp_path, logs.append)
    exported = [json.loads(line) for line in (tmp_path / "glan_taxonomy.jsonl").read_text().splitlines()]
    assert exported == [{k: r[k] for k in ("field", "sub_field", "discipline")} for r in rows]
    assert "- **Humanities**" in (tmp_path / "glan_taxonomy.md").read_text() and "--set taxonomy=" in logs[0]
    edited = tmp_path / "edited.jsonl"
    edited.write_text(json.dumps(exported[0]) + "\n# a reviewer's note\n" + json.dumps({"discipline": "Marine Biology"}) + "\n")
    never = ScriptedModel(lambda req: pytest.fail("a reviewed taxonomy asks the model nothing"))
    reviewed = GlanTaxonomy("taxonomy", reviewed=str(edited))
    assert [r["discipline"] for r in read(reviewed, never)] == [exported[0]["discipline"], "Marine Biology"]
    assert reviewed.fingerprint() and GlanTaxonomy("taxonomy").fingerprint() == ""
    (tmp_path / "plain.txt").write_text("Geology\n\nAstronomy\n")
    assert [r["discipline"] for r in load_reviewed(str(tmp_path / "plain.txt"))] == ["Geology", "Astronomy"]
    (tmp_path / "bad.jsonl").write_text('{"discipline": "ok"}\n{"field": "x"}\n')
    with pytest.raises(TaxonomyFileError, match=r"bad.jsonl:2: no non-empty"):
        GlanTaxonomy("taxonomy", reviewed=str(tmp_path / "bad.jsonl"))
    with pytest.raises(TaxonomyFileError, match="does not exist"):
        load_reviewed(str(tmp_path / "nope.jsonl"))


SYLLABUS = [{"title": f"S{i}", "key_concepts": [f"c{i}{j}" for j in range(3)]} for i in range(5)]


def test_difficulty_is_how_many_class_sessions_a_question_spans():
    step = GlanSampleSessions("s", questions_per_syllabus=10)
    specs = step.expand({"id": "p", "sessions": SYLLABUS})
    assert [s["difficulty"] for s in specs] == ["basic", "challenging"] * 5
    for s in specs:
        assert s["sessions_spanned"] == len(s["session_titles"])
        assert s["sessions_spanned"] == 1 if s["difficulty"] == "basic" else 2 <= s["sessions_spanned"] <= 3
    one = sample_sessions(SYLLABUS[:1], 4, seed=0, difficulties=["basic", "challenging"],
                          spans={"basic": [1, 1], "challenging": [2, 3]})
    assert {s["difficulty"] for s in one} == {"basic"}  # a one-session syllabus cannot give a challenging question
    with pytest.raises(ValueError, match="sessions_per_difficulty.hard"):
        GlanSampleSessions("s", sessions_per_difficulty={"hard": [3, 2]})


def test_recipe_exports_the_taxonomy_and_reads_it_back(tmp_path, scripted_model):
    def reply(req) -> str:
        text = user_text(req)
        if "You are building a taxonomy" in text:
            return taxonomy_reply(req)
        if "subjects that a student" in text:
            return "1. Basics (introductory)"
        if "Design the syllabus" in text:
            return "Session 1: A\\nKey concepts: a1; a2\\nSession 2: B\\nKey concepts: b1".replace("\\n", "\n")
        if "homework question" in text:
            return "Question: Why?"
        return "Because."

    out = tmp_path / "glan"
    run = run_recipe("glan", out, extra_cli_args=("-n", "2", "--model", scripted_model(reply)))
    assert run["counts"]["disciplines"]["out"] == 2
    exported = [json.loads(line) for line in (out / "glan_taxonomy.jsonl").read_text().splitlines()]
    assert len(exported) == 2 and {e["discipline"] for e in exported} == {r["discipline"] for r in read_shards(out / "data")}
    edited = tmp_path / "reviewed.jsonl"
    edited.write_text(json.dumps({"field": "Natural Sciences", "sub_field": "Earth", "discipline": "Geology"}) + "\n")
    again = tmp_path / "again"
    run = run_recipe("glan", again, f"taxonomy={edited}", extra_cli_args=("--model", scripted_model(reply)))
    assert run["counts"]["disciplines"]["out"] == 1
    assert {r["discipline"] for r in read_shards(again / "data")} == {"Geology"}
    assert not (again / "glan_taxonomy.jsonl").exists()
