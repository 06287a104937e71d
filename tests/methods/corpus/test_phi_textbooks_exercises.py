"""phi-style code exercises on a scripted model: the stub and its tests (model asserts and doctest
examples), what is rejected, and how a solution is read from the reply."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.corpus.phi_textbooks_exercises import (
    PhiExercise,
    PhiSolution,
    completed_solution,
    doctest_asserts,
    function_header,
    stub,
)
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

TOPIC = {ID: "t1", "topic": "Strings and text processing", "subtopic": "character counting and frequency"}


def exercise(value: dict, **kw):
    model = ScriptedModel(lambda req: json.dumps(value))
    (out,) = run_step(PhiExercise("exercise", **kw), model, [TOPIC])
    return out, model.requests


def test_the_exercise_is_asked_under_a_schema_and_its_tests_combine_asserts_and_doctests():
    value = {"signature": "def count_vowels(text: str) -> int:",
             "docstring": "Count the vowels in text.\n\n>>> count_vowels('banana')\n3\n>>> print('shown')\nshown",
             "tests": ["assert count_vowels('') == 0", "count_vowels('x')", "assert len('abc') == 3",
                       "assert count_vowels('aeiou') == 5\nassert count_vowels('') == 0"]}
    (row,), (req,) = exercise(value)
    assert '"character counting and frequency" (chapter: Strings and text processing)' in user_text(req)
    assert req.json_schema["required"] == ["signature", "docstring", "tests"] and req.json_schema["properties"]["tests"]["maxItems"] == 5
    assert row["entry_point"] == "count_vowels" and row["exercise"].startswith('def count_vowels(text: str) -> int:\n    """\n')
    assert row["tests"] == ["assert count_vowels('') == 0", "assert count_vowels('aeiou') == 5",
                            "assert (count_vowels('banana')) == (3)"]  # no call, no function, printed output: left out
    (row,), _ = exercise(value, tests_from="doctest")
    assert row["tests"] == ["assert (count_vowels('banana')) == (3)"]
    (row,), _ = exercise(value, tests_from="model")
    assert len(row["tests"]) == 2


def test_exercises_without_a_header_a_usable_docstring_or_a_test_are_rejected():
    base = {"signature": "def f(x: int) -> int:", "docstring": "Double x.", "tests": ["assert f(2) == 4"]}
    for change, reason in [({"signature": "f(x) returns double"}, "signature is not a Python function header"),
                           ({"signature": "def f(x: int) -> int: return 2"}, "signature is not a Python function header"),
                           ({"docstring": 'Double """x"""'}, "cannot be written between triple quotes"),
                           ({"tests": ["assert True"]}, "no usable test (an assert or doctest example that calls f)")]:
        out, _ = exercise({**base, **change})
        assert isinstance(out, Rejected) and reason in out.reason, change
    with pytest.raises(ValueError, match="tests_from must be one of both, model, doctest"):
        PhiExercise("e", tests_from="hidden")


def test_doctest_examples_keep_their_setup_and_the_stub_is_valid_python():
    doc = ">>> xs = [3, 1]\n>>> xs.append(2)\n>>> smallest(xs)\n1\n>>> smallest([])\nTraceback (most recent call last):\nValueError"
    assert doctest_asserts(doc, "smallest") == ["xs = [3, 1]\nxs.append(2)\nassert (smallest(xs)) == (1)"]
    assert function_header("def  f(a,  b=2)") == ("def f(a, b=2):", "f") and function_header("class F:") is None
    code = stub("def split_lines(s: str) -> list:", "Split on newlines.\n>>> split_lines('a\\nb')\n['a', 'b']")
    assert code.startswith('def split_lines(s: str) -> list:\n    r"""') and compile(code + "    pass\n", "s", "exec")


EXERCISE = 'def double(x: int) -> int:\n    """\n    Double x.\n    """\n'


def test_a_solution_is_the_defined_function_or_a_body_completing_the_stub():
    assert completed_solution("```python\nimport math\n\ndef double(x):\n    return 2 * x\n\nprint(double(2))\n```",
                              EXERCISE, "double") == "import math\n\ndef double(x):\n    return 2 * x\n\nprint(double(2))\n"
    assert completed_solution("```python\n    return x * 2\n```", EXERCISE, "double") == EXERCISE + "    return x * 2\n"
    assert completed_solution("return x + x", EXERCISE, "double") == EXERCISE + "    return x + x\n"
    assert completed_solution("Just double it.", EXERCISE, "double") is None
    assert completed_solution("```python\ndef triple(x):\n    return 3 * x\n```", EXERCISE, "double") is None


def solve(reply):
    model = ScriptedModel(reply)
    (out,) = run_step(PhiSolution("solution"), model, [{ID: "e1", "exercise": EXERCISE, "entry_point": "double",
                                                          "tests": ["assert double(2) == 4"]}])
    return out, model.requests


def test_the_solution_step_hides_the_tests_and_says_why_a_reply_is_unusable():
    (row,), (req,) = solve(lambda req: "```python\ndef double(x: int) -> int:\n    return x * 2\n```")
    assert row["solution"] == "def double(x: int) -> int:\n    return x * 2\n" and row[ID] == "e1"
    assert EXERCISE.rstrip() in user_text(req) and "assert" not in user_text(req)
    assert (req.temperature, req.max_tokens) == (0.2, 512)
    with pytest.raises(RowError, match=r"the reply neither defines double\(\) nor completes its stub"):
        solve(lambda req: "You should multiply by two.")
    out, _ = solve(lambda req, j: ("```python\ndef double(x):\n", None, "length"))
    assert isinstance(out, Rejected) and "max_tokens" in out.reason
