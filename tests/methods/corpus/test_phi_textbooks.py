"""phi-style textbook sections: topic x audience x style in the prompt, drawn per row, and the
rejections (cut off, refused, no code); the ``phi-textbooks`` recipe on a scripted model (sections and
sandbox-checked exercises, a failing solution rejected with its reason) and on the embedded model."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.corpus.phi_textbooks import AUDIENCES, STYLES, PhiTextbook
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SECTION = "## Slicing\n\nA slice copies part of a list.\n\n```python\nletters = ['a', 'b', 'c']\nprint(letters[1:])\n```\n"
TOPIC = {"topic": "Lists", "subtopic": "indexing and slicing"}


def sections(reply, rows=None, **kw):
    model = ScriptedModel(reply)
    return run_step(PhiTextbook("textbook", **kw), model, rows or [{ID: "t1", **TOPIC}]), model.requests


def test_the_prompt_names_topic_audience_and_style_drawn_from_the_row():
    rows = [{ID: f"t{i}", **TOPIC} for i in range(40)]
    out, requests = sections(lambda req: SECTION, rows)
    assert {r[0]["audience"] for r in out} == set(AUDIENCES) and {r[0]["style"] for r in out} == set(STYLES)
    for (row,), req in zip(out, requests):
        prompt = user_text(req)
        assert '"indexing and slicing", part of the chapter "Lists"' in prompt
        assert f"The reader: {row['audience']}. The style: {row['style']}." in prompt
        assert row["text"] == SECTION.strip() and row[ID] == rows[out.index([row])][ID]
    assert (requests[0].temperature, requests[0].max_tokens) == (0.8, 1024)
    again, _ = sections(lambda req: SECTION, rows)
    assert [r[0]["audience"] for r in again] == [r[0]["audience"] for r in out]  # a pure function of the id


def test_sections_without_code_cut_off_or_refused_are_rejected():
    (out,), _ = sections(lambda req: "Slicing copies part of a list. It is useful.")
    assert isinstance(out, Rejected) and out.reason == "the section has no Python code block (require_code)"
    ((row,),), _ = sections(lambda req: "Slicing copies part of a list.", require_code=False)
    assert row["text"] == "Slicing copies part of a list."
    (out,), _ = sections(lambda req, j: (SECTION, None, "length"))
    assert isinstance(out, Rejected) and "max_tokens" in out.reason
    (out,), _ = sections(lambda req: "I'm sorry, I can't write that section.")
    assert isinstance(out, Rejected) and "refused" in out.reason
    ((row,),), _ = sections(lambda req: SECTION, audiences=["retired engineers"], styles=["a dialogue"])
    assert (row["audience"], row["style"]) == ("retired engineers", "a dialogue")
    with pytest.raises(ValueError, match="audiences must be a non-empty list of non-empty strings"):
        PhiTextbook("t", audiences=[])


EXERCISES = {  # subtopic -> (exercise JSON, solution reply)
    "names and assignment": (
        {"signature": "def add(a: int, b: int) -> int", "docstring": "Return a + b.\n\n>>> add(2, 3)\n5",
         "tests": ["assert add(1, 1) == 2", "assert add(-1, 1) == 0"]},
        "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n\nassert add(0, 0) == 0\n```"),
    "conditions and boolean logic": (
        {"signature": "def is_even(n: int) -> bool:", "docstring": "Whether n is even.\n>>> is_even(4)\nTrue",
         "tests": ["assert is_even(3) is False"]},
        "```python\ndef is_even(n: int) -> bool:\n    return n % 2 == 1\n```"),
    "parameters, defaults and return values": (
        {"signature": "def greet(name: str = 'you') -> str:", "docstring": "A greeting.\n>>> greet('Ada')\n'Hello, Ada'",
         "tests": ["assert greet() == 'Hello, you'"]},
        "    return 'Hello, ' + name"),
}


def recipe_reply(req) -> str:
    text = user_text(req)
    if req.json_schema is not None:
        return json.dumps(next(ex for sub, (ex, _) in EXERCISES.items() if f'practises "{sub}"' in text))
    if text.startswith("Complete the following Python function."):
        return next(sol for ex, sol in EXERCISES.values() if ex["signature"].rstrip(":") in text)
    return SECTION


def test_recipe_on_a_scripted_model_keeps_only_exercises_whose_solution_passes(tmp_path, scripted_model):
    spec = scripted_model(recipe_reply)
    out = tmp_path / "phi"
    run = run_recipe("phi-textbooks", out, extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and run["counts"]["verify"]["ok"] == 3
    (failed,) = rejected
    assert failed["_rejected_by"] == "passing" and failed["entry_point"] == "is_even"
    assert failed["_reason"].startswith("failed: test 0 `assert is_even(3) is False`") and "AssertionError" in failed["_reason"]
    textbooks = [r for r in data if r["kind"] == "textbook"]
    exercises = {r["entry_point"]: r for r in data if r["kind"] == "unique_exercises"}
    assert len(textbooks) == 3 and all(r["text"] == SECTION.strip() for r in textbooks)
    assert sorted(exercises) == ["add", "greet"] and all(r["passed"] for r in exercises.values())
    add = exercises["add"]
    assert add["exercise"] == 'def add(a: int, b: int) -> int:\n    """\n    Return a + b.\n\n    >>> add(2, 3)\n    5\n    """\n'
    assert add["tests"] == ["assert add(1, 1) == 2", "assert add(-1, 1) == 0", "assert (add(2, 3)) == (5)"]
    assert add["solution"] == "def add(a: int, b: int) -> int:\n    return a + b\n"  # its own asserts removed
    assert exercises["greet"]["solution"].endswith("    \"\"\"\n    return 'Hello, ' + name\n")  # a body completing the stub


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "phi"
    run = run_recipe("phi-textbooks", out, "textbook_max_tokens=48", "exercise_max_tokens=160",
                     extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["topics"]["out"] == 1
    for step, c in run["counts"].items():
        assert c["in"] == c["ok"] + c["rejected"] + c["errors"], step
    assert run["counts"]["exercise"]["in"] == 1 and run["counts"]["textbook"]["in"] == 1
    for r in side_rows(out, "rejected"):  # a 135M model rarely passes: each rejection says why
        assert r["_rejected_by"] and r["_reason"]
