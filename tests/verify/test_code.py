"""Code verification on correct, wrong, crashing and hanging solutions, for every test kind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from synthloom.sandbox import SandboxPool
from synthloom.verify.code import build_programs, verify_code
from synthloom.verify.code_step import VerifyCode
from synthloom.verify.stdio_judge import outputs_match

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

ADD_TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"]


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, require_isolation=True) as p:
        yield p


def test_correct_solution_passes(pool):
    v = verify_code("def add(a, b):\n    return a + b", ADD_TESTS, pool=pool)
    assert (v.passed, v.status, v.pass_rate) == (True, "passed", 1.0)
    assert [r["status"] for r in v.results] == ["passed"] * 3
    assert v.results[0]["test"] == "assert add(1, 2) == 3"


def test_wrong_solution_keeps_per_test_results(pool):
    v = verify_code("def add(a, b):\n    return a * b if a > 0 else a + b", ADD_TESTS, pool=pool)
    assert (v.passed, v.status) == (False, "failed")
    assert [r["passed"] for r in v.results] == [False, True, False]
    assert v.pass_rate == pytest.approx(1 / 3)
    assert "AssertionError" in v.results[0]["stderr"]
    assert v.detail == "test 0: failed"


def test_crashing_solution(pool):
    v = verify_code("def add(a, b):\n    return undefined_name", ADD_TESTS, pool=pool)
    assert v.status == "failed" and v.pass_rate == 0.0
    assert "NameError" in v.results[0]["stderr"]


def test_hanging_solution_times_out_per_test(pool):
    v = verify_code("def add(a, b):\n    if a == 10:\n        while True:\n            pass\n    return a + b",
                    ADD_TESTS, pool=pool, timeout=1.0)
    assert v.status == "timeout"
    assert [r["status"] for r in v.results] == ["passed", "passed", "timeout"]


def test_memory_hog_solution(pool):
    v = verify_code("def add(a, b):\n    return len(bytearray(1 << 34))", ADD_TESTS[:1], pool=pool, memory_mb=256)
    assert v.status == "memory"


def test_syntax_error_is_failed_without_running(pool):
    v = verify_code("def add(a, b) return", ADD_TESTS, pool=pool)
    assert v.status == "failed" and "does not compile" in v.detail and len(v.results) == 3


def test_early_exit_does_not_pass(pool):
    for exit_code in ("import sys\nsys.exit(0)", "import os\nos._exit(0)", "raise SystemExit"):
        v = verify_code(exit_code + "\ndef add(a, b):\n    return 0", ADD_TESTS[:1], pool=pool)
        assert v.status == "failed", exit_code


def test_solution_main_block_does_not_run(pool):
    v = verify_code("def add(a, b):\n    return a + b\nif __name__ == '__main__':\n    input()", ADD_TESTS[:1], pool=pool)
    assert v.passed


def test_humaneval_check_is_called_on_the_entry_point(pool):
    tests = "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n"
    assert verify_code("def total(xs):\n    return sum(xs)", tests, entry_point="total", pool=pool).passed
    v = verify_code("def total(xs):\n    return len(xs)", tests, entry_point="total", pool=pool)
    assert v.status == "failed"


def test_call_cases_with_tolerance_and_strict_types(pool):
    code = "def mean(xs):\n    return sum(xs) / len(xs)"
    cases = [{"input": [[1, 2]], "output": 1.5}, {"input": [[0.1, 0.2]], "output": 0.15},
             {"input": {"xs": [3]}, "output": 3}]
    v = verify_code(code, cases, kind="call", entry_point="mean", pool=pool)
    assert v.passed, v.results
    assert v.results[1]["got"] == "0.15000000000000002"
    v = verify_code("def mean(xs):\n    return str(sum(xs) / len(xs))", cases[:1], kind="call", entry_point="mean", pool=pool)
    assert v.status == "failed" and v.results[0]["got"] == "'1.5'"


def test_call_rejects_always_equal_objects(pool):
    code = "class Anything:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Anything()"
    v = verify_code(code, [{"input": [1], "output": 1}], kind="call", entry_point="f", pool=pool)
    assert v.status == "failed"


def test_call_with_missing_entry_point(pool):
    v = verify_code("def g(x):\n    return x", [{"input": [1], "output": 1}], kind="call", entry_point="f", pool=pool)
    assert v.status == "failed" and "entry point 'f'" in v.results[0]["stderr"]


def test_stdio_cases(pool):
    code = "n = int(input())\nprint(' '.join(str(i) for i in range(n)) + '  ')\nprint()"
    cases = [{"input": "3\n", "output": "0 1 2"}, {"input": "1", "output": "0\n"}, {"input": "2", "output": "0 2"}]
    v = verify_code(code, cases, kind="stdio", pool=pool)
    assert [r["status"] for r in v.results] == ["passed", "passed", "failed"]
    assert v.results[2]["got"].startswith("0 1")


def test_stdio_output_judge():
    assert outputs_match("1 2\n3  \n\n", "1 2\n3")
    assert outputs_match("1  2\n3", "1 2 3")
    assert outputs_match("0.3333333", "0.33333333")
    assert not outputs_match("1 2", "1 2 3")
    assert not outputs_match("nan", "nan0")


def test_timeout_calibrated_on_reference(pool):
    v = verify_code("def f():\n    while True:\n        pass", ["assert f() == 1"], pool=pool, reference="def f():\n    return 1",
                    min_timeout=0.5, timeout_factor=4.0)
    assert v.status == "timeout"
    assert v.results[0]["timeout"] == pytest.approx(0.5)  # the reference takes milliseconds: min_timeout wins


def test_unusable_tests_are_an_error_verdict(pool):
    v = verify_code("x = 1", "not json", kind="stdio", pool=pool)
    assert v.status == "error" and "stdio tests" in v.detail
    assert verify_code("x = 1", [], pool=pool).status == "error"
    with pytest.raises(ValueError, match="entry_point"):
        build_programs("x = 1", [{"input": [1], "output": 1}], kind="call")
    with pytest.raises(ValueError, match="kind must be one of"):
        verify_code("x = 1", ["assert True"], kind="unit", pool=pool)


def test_verify_code_step_adds_columns():
    step = VerifyCode("verify", code_column="solution", tests_column="tests", timeout=2.0, workers=2)
    rows = [{"id": "a", "solution": "def add(a, b):\n    return a + b", "tests": ADD_TESTS},
            {"id": "b", "solution": "def add(a, b):\n    return 0", "tests": ADD_TESTS},
            {"id": "c", "solution": "def add(a, b):\n    return 0", "tests": 42}]

    async def go():
        try:
            return [(await step.process(r))[0] for r in rows]
        finally:
            await step.aclose()

    out = asyncio.run(go())
    assert [r["id"] for r in out] == ["a", "b", "c"]
    assert [r["passed"] for r in out] == [True, False, False]
    assert [r["status"] for r in out] == ["passed", "failed", "error"]
    assert out[1]["pass_rate"] == pytest.approx(1 / 3) and len(out[1]["test_results"]) == 3
    assert step.writes == {"passed", "status", "pass_rate", "test_results"}
    with pytest.raises(ValueError, match="entry_point"):
        VerifyCode("v", kind="call")
