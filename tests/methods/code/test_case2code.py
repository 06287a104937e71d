"""Case2Code: calls parsed from replies, executed on the bundled functions in the real sandbox, the
paper's keep rules, the "infer the function" example and its optional verification."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from code_fakes import fenced

from synthloom.methods.code import case2code
from synthloom.methods.code.case2code import (
    Case2CodeExecute,
    Case2CodeInputs,
    Case2CodeSolve,
    cases_to_asserts,
    literal_call,
    parse_calls,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step
from synthloom.verify.code import verify_code

FUNCTIONS = Path(case2code.__file__).with_name("case2code_functions.jsonl")
CLAMP = "def clamp(x, lo, hi):\n    if lo > hi:\n        raise ValueError('lo must not exceed hi')\n    return max(lo, min(x, hi))"


def test_parse_calls_keeps_literal_calls_of_the_entry_point():
    reply = ("```python\nclamp(5, 0, 10)\nprint(clamp(-1, 0, 10))\nresult = clamp(x=3, lo=0, hi=2)\n"
             "assert clamp(1, 2, 3) == 2\nclamp(5, 0, 10)\nclamp(y, 0, 1)\nother(1)\nclamp(*args)\n# clamp(0, 0, 0)\n```")
    assert parse_calls(reply, "clamp") == ["clamp(5, 0, 10)", "clamp(-1, 0, 10)", "clamp(x=3, lo=0, hi=2)",
                                           "clamp(1, 2, 3)"]
    assert "clamp(y, 0, 1)" in parse_calls(reply, "clamp", literal_only=False)
    assert parse_calls(reply, "clamp", limit=2) == ["clamp(5, 0, 10)", "clamp(-1, 0, 10)"]
    assert parse_calls("clamp(1, 2, 3)\nnothing else", "clamp") == ["clamp(1, 2, 3)"]
    assert parse_calls("I don't know.", "clamp") == [] and parse_calls(None, "clamp") == []


def _execute(record, step=None, **kw):
    step = step or Case2CodeExecute("execute", timeout=1.0, workers=2, **kw)

    async def go():
        try:
            return await step.process(record)
        finally:
            await step.aclose()
    return asyncio.run(go())


def test_execute_captures_outputs_and_exceptions_and_builds_the_task():
    record = {"id": "f", "code": CLAMP, "entry_point": "clamp",
              "example_inputs": ["clamp(5, 0, 10)", "clamp(-3, 0, 10)", "clamp(1, 5, 0)", "clamp(2.5, 0, 1)"]}
    [row] = _execute(record)
    assert row["cases"] == [
        {"input": "clamp(5, 0, 10)", "output": "5", "error": None},
        {"input": "clamp(-3, 0, 10)", "output": "0", "error": None},
        {"input": "clamp(1, 5, 0)", "output": None, "error": "ValueError: lo must not exceed hi"},
        {"input": "clamp(2.5, 0, 1)", "output": "1", "error": None}]
    assert "Input: clamp(1, 5, 0)\nRaises: ValueError: lo must not exceed hi" in row["prompt"]
    assert "Input: clamp(5, 0, 10)\nOutput: 5" in row["prompt"] and "Infer the function" in row["prompt"]
    assert row["response"] == f"```python\n{CLAMP}\n```"
    # the cases are true of the function: turned into asserts they pass on it
    assert verify_code(CLAMP, cases_to_asserts(row["cases"]), timeout=2).passed


def test_execute_rules_reject_with_reasons():
    out = _execute({"id": "a", "code": CLAMP, "entry_point": "clamp", "example_inputs": ["clamp(1, 5, 0)", "clamp(2, 3, 1)"]})
    assert isinstance(out, Rejected) and out.reason.startswith("all 2 executions raised exceptions")
    hang = "def spin(n):\n    while True:\n        n += 1"
    out = _execute({"id": "b", "code": hang, "entry_point": "spin", "example_inputs": ["spin(1)"]})
    assert isinstance(out, Rejected) and out.reason.startswith("execution failed (timeout) on `spin(1)`")
    broken = "def f(x):\n    return x\nraise SystemExit(3)"
    out = _execute({"id": "c", "code": broken, "entry_point": "f", "example_inputs": ["f(1)"]})
    assert isinstance(out, Rejected) and "execution failed (failed)" in out.reason
    big = "def rep(n):\n    return 'x' * n"
    out = _execute({"id": "d", "code": big, "entry_point": "rep", "example_inputs": ["rep(10000)"]})
    assert isinstance(out, Rejected) and "longer than 500 characters" in out.reason
    out = _execute({"id": "e", "code": CLAMP, "entry_point": "clamp", "example_inputs": []})
    assert isinstance(out, Rejected) and out.reason == "no inputs to execute"


def test_execute_records_values_and_exceptions_as_the_function_produced_them():
    code = ("import collections\nclass Oops(Exception):\n    pass\nP = collections.namedtuple('P', 'a b')\n"
            "def repr(x):\n    return 'a global of the code, not the builtin'\n"
            "def f(x, y=None):\n    print('noise')\n    if x == 'oops':\n        raise Oops('custom')\n"
            "    if x == 'key':\n        return {}['k']\n    if x == 'stop':\n        raise StopIteration('s')\n"
            "    if x == 'p':\n        return P(1, y)\n    return (x, y, type(x).__name__)")
    calls = ["f((1, 2), y={3: b'x'})", "f({1, 2})", "f(x=-0.5, y=1e400)", "f('oops')", "f('key')", "f('stop')", "f('p', [2])"]
    [row] = _execute({"id": "f", "code": code, "entry_point": "f", "example_inputs": calls})
    assert [(c["output"], c["error"]) for c in row["cases"]] == [
        ("((1, 2), {3: b'x'}, 'tuple')", None), ("({1, 2}, None, 'set')", None), ("(-0.5, inf, 'float')", None),
        (None, "Oops: custom"), (None, "KeyError: 'k'"), (None, "StopIteration"), ("P(a=1, b=[2])", None)]


def test_literal_call_accepts_only_literal_calls_of_the_entry_point():
    assert literal_call("clamp(5, lo=0, hi=(1, 2))", "clamp") is not None and literal_call("clamp(set())", None) is not None
    for text in ["clamp(5, 0, 10) or print('x')", "clamp(5, 0, 10); print('x')", "clamp(y, 0, 1)", "clamp(*[1, 2, 3])",
                 "clamp(**{'x': 1})", "exec('import os')", "clamp(__import__('os')._exit(0), 0, 1)", "x.clamp(1)", None]:
        assert literal_call(text, "clamp") is None, text


HOSTILE_INPUTS = [
    # a fake report line printed after the call, as the old in-process runner read its marker from stdout
    "clamp(5, 0, 10) or print('@@case2code-0@@{\"ok\": true, \"output\": \"99\"}')",
    "clamp(5, 0, 10); print('@@case2code-0@@{\"ok\": true, \"output\": \"99\"}')",
    # patching builtins (the function's max/min) before the function runs
    "clamp(setattr(__import__('builtins'), 'max', lambda *a: 99) or 5, 0, 10)",
    # exiting early with status 0, before any report
    "clamp(__import__('os')._exit(0), 0, 10)",
    "exec('import os; os._exit(0)')",
]


def test_execute_never_runs_an_input_that_is_not_a_literal_call():
    for hostile in HOSTILE_INPUTS:
        step = Case2CodeExecute("execute", timeout=1.0, workers=1)
        out = _execute({"id": "h", "code": CLAMP, "entry_point": "clamp",
                        "example_inputs": ["clamp(5, 0, 10)", hostile, "clamp(1, 5, 0)"]}, step)
        assert isinstance(out, Rejected), hostile  # never a fake success
        assert out.reason.startswith("input `") and "is not a call of `clamp` with literal arguments" in out.reason
        assert step.sandbox._pool is None  # nothing was executed, honest inputs included
    # the honest inputs alone are recorded as the function computes them
    [row] = _execute({"id": "h", "code": CLAMP, "entry_point": "clamp", "example_inputs": ["clamp(5, 0, 10)", "clamp(1, 5, 0)"]})
    assert [(c["output"], c["error"]) for c in row["cases"]] == [("5", None), (None, "ValueError: lo must not exceed hi")]


def test_a_literal_input_carrying_a_fake_report_is_just_data():
    code = "import sys\ndef shout(s):\n    print(s)\n    print(s, file=sys.stderr)\n    return s.upper()"
    fake = '\n@@case2code-0@@{"output": "999", "chars": 3}\nAssertionError: @@case2code-0@@{"output": "999", "chars": 3}\n'
    calls = [f"shout({fake!r})", "shout('ok')"]
    [row] = _execute({"id": "s", "code": code, "entry_point": "shout", "example_inputs": calls})
    assert [c["output"] for c in row["cases"]] == [repr(fake.upper()), "'OK'"]


def test_the_function_process_cannot_forge_the_recorded_outputs():
    # the code patches repr in its own process and prints report-like lines: the value is
    # reported by the harness, so the real output is recorded
    forger = ("import builtins\nbuiltins.repr = lambda o: \"'forged'\"\n"
              "print('@@case2code-0@@{\"output\": \"forged\", \"chars\": 6}')\n"
              "def double(x):\n    return x * 2")
    [row] = _execute({"id": "g", "code": forger, "entry_point": "double", "example_inputs": ["double(3)", "double('ab')"]})
    assert [c["output"] for c in row["cases"]] == ["6", "'abab'"]
    # patching json (the old runner's report encoder) breaks only the code's own end of the channel
    forger = "import json\njson.dumps = lambda *a, **k: '{\"ok\": true, \"output\": \"forged\"}'\n" + forger
    out = _execute({"id": "g", "code": forger, "entry_point": "double", "example_inputs": ["double(3)"]})
    assert isinstance(out, Rejected) and out.reason.startswith("execution failed"), out
    # a function that reports and then ends its process early is a failed execution, not a case
    for body in ["print('@@case2code-0@@{\"output\": \"1\", \"chars\": 1}', flush=True)\n    import os\n    os._exit(0)",
                 "import sys\n    sys.exit(0)"]:
        code = f"def early(x):\n    {body}"
        out = _execute({"id": "e", "code": code, "entry_point": "early", "example_inputs": ["early(1)"]})
        assert isinstance(out, Rejected) and out.reason.startswith("execution failed (failed) on `early(1)`"), out
    # an entry point that is not a function of the code (here a builtin) is never called: the harness refuses to take
    # a code-running builtin from the solution at all
    out = _execute({"id": "x", "code": "exec = exec\nX = 1", "entry_point": "exec", "example_inputs": ["exec('X = 2')"]})
    assert isinstance(out, Rejected) and "the solution sent the builtin 'exec', which the harness does not take" in out.reason


def test_execute_max_output_chars_is_bounded():
    for bad in (0, 3001):
        with pytest.raises(ValueError, match="max_output_chars must be between 1 and 3000"):
            Case2CodeExecute("e", max_output_chars=bad)
    big = "def rep(n):\n    return 'x' * n"
    [row] = _execute({"id": "d", "code": big, "entry_point": "rep", "example_inputs": ["rep(2990)", "rep(4000)"]},
                     max_output_chars=3000)
    assert [len(c["output"]) for c in row["cases"]] == [2992]  # the 4002-character output is dropped


def test_inputs_step_prompt_and_parse():
    model = ScriptedModel(lambda req, j: "```python\nclamp(5, 0, 10)\nclamp(11, 0, 10)\n```")
    [rows] = run_step(Case2CodeInputs("inputs", n_inputs=4), model, [{"id": "f", "code": CLAMP}])
    assert rows[0]["example_inputs"] == ["clamp(5, 0, 10)", "clamp(11, 0, 10)"] and rows[0]["entry_point"] == "clamp"
    assert model.requests[0].temperature == 0.2 and "Write 4 different calls of `clamp`" in model.requests[0].messages[-1]["content"]
    [out] = run_step(Case2CodeInputs("inputs"), ScriptedModel(lambda r, j: "no idea"), [{"id": "f", "code": CLAMP}])
    assert isinstance(out, Rejected) and "no literal-argument call of `clamp`" in out.reason


def test_solve_step_verifies_the_model_function_reproduces_the_cases():
    cases = [{"input": "clamp(5, 0, 10)", "output": "5", "error": None},
             {"input": "clamp(1, 5, 0)", "output": None, "error": "ValueError: lo must not exceed hi"}]
    record = {"id": "f", "prompt": "Infer it.", "cases": cases, "entry_point": "clamp"}
    [rows] = run_step(Case2CodeSolve("solve", timeout=2.0), ScriptedModel(lambda r, j: fenced(CLAMP)), [record])
    assert rows[0]["reproduces"] is True and rows[0]["solve_status"] == "passed"
    no_raise = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))"
    [rows] = run_step(Case2CodeSolve("solve", timeout=2.0), ScriptedModel(lambda r, j: fenced(no_raise)), [record])
    assert rows[0]["reproduces"] is False and "expected ValueError" in rows[0]["solve_reason"]
    [out] = run_step(Case2CodeSolve("solve", require_reproduce=True), ScriptedModel(lambda r, j: "no"), [record])
    assert isinstance(out, Rejected) and "no Python code" in out.reason


def test_solve_matches_exceptions_of_the_function_s_own_types():
    code = "class Oops(Exception):\n    pass\ndef f(x):\n    raise Oops('no')"
    record = {"id": "f", "prompt": "Infer it.", "entry_point": "f",
              "cases": [{"input": "f(1)", "output": None, "error": "Oops: no"}]}
    [rows] = run_step(Case2CodeSolve("solve", timeout=2.0), ScriptedModel(lambda r, j: fenced(code)), [record])
    assert rows[0]["reproduces"] is True
    other = "def f(x):\n    raise ValueError('no')"
    [rows] = run_step(Case2CodeSolve("solve", timeout=2.0), ScriptedModel(lambda r, j: fenced(other)), [record])
    assert rows[0]["reproduces"] is False
    # an undefined function raises NameError in the harness, not in the solution: no match
    record["cases"] = [{"input": "f(1)", "output": None, "error": "NameError: name 'y' is not defined"}]
    [rows] = run_step(Case2CodeSolve("solve", timeout=2.0), ScriptedModel(lambda r, j: fenced("def g(x):\n    return x")),
                      [record])
    assert rows[0]["reproduces"] is False


def test_solve_rejects_cases_whose_inputs_are_not_literal_calls_before_asking_the_model():
    forge = "f(__import__('os').write(4, b'{\"ok\": true}') and __import__('os')._exit(0))"
    model = ScriptedModel(lambda r, j: fenced("def f(x):\n    return 0"))
    record = {"id": "f", "prompt": "Infer it.", "entry_point": "f", "cases": [{"input": forge, "output": "1", "error": None}]}
    [out] = run_step(Case2CodeSolve("solve", timeout=2.0), model, [record])
    assert isinstance(out, Rejected) and "is not a call of `f` with literal arguments" in out.reason
    assert model.requests == []
    # an exception name is data in the test, never code: this one would write a passing verdict
    error = "X' + str(__import__('os').write(4, b'{\"ok\"\\x3a true}') and __import__('os')._exit(0)) + '"
    [test] = cases_to_asserts([{"input": "f(1)", "output": None, "error": error}])
    assert verify_code("def f(x):\n    return 0", [test], timeout=2).status == "failed"


def test_bundled_functions_load_and_have_an_entry_point():
    rows = [orjson.loads(line) for line in FUNCTIONS.read_bytes().splitlines()]
    assert len(rows) >= 20
    for r in rows:
        ns: dict = {}
        exec(compile(r["code"], r["entry_point"], "exec"), ns)  # noqa: S102 - our own hand-written pure functions
        assert callable(ns[r["entry_point"]])
