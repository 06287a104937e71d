"""Assert tests that cannot fail are an `error` verdict, never a pass — decided by AST before
anything runs; tests that do check something keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthloom.sandbox import SandboxPool
from synthloom.verify.assert_audit import parse_test, vacuity_reason
from synthloom.verify.code import verify_code

WRONG = "def add(a, b):\n    return 0"
RIGHT = "def add(a, b):\n    return a + b"


def _reason(source: str) -> str | None:
    tree = parse_test(source)
    return tree if isinstance(tree, str) else vacuity_reason(tree)


@pytest.mark.parametrize(("test", "why"), [
    ("", "is empty"),
    ("   \n\t\n", "is empty"),
    ("# assert add(1, 2) == 3\n# nothing else\n", "no statements"),
    ('"""assert add(1, 2) == 3"""', "asserts nothing"),
    ("def check(candidate):\n    assert candidate(1, 2) == 3\n", "defines check() but never calls it"),
    ("def test_add():\n    assert add(1, 2) == 3\n", "asserts nothing"),  # pytest style, never called
    ("add(1, 2)\nprint(add(2, 2) == 4)\n", "asserts nothing"),
    ("assert True\nassert (add(1, 2) == 4, 'tuple is always true')\nassert 'x'\n", "asserts nothing"),
    ("def helper():\n    assert add(1, 2) == 3\nx = 1\n", "asserts nothing"),
    ("class T:\n    def test_x(self):\n        assert add(1, 2) == 3\n", "asserts nothing"),
    ("def check(c):\n    pass\ncheck(add)\n", "asserts nothing"),      # called, but checks nothing
    ("assert add(1, 2) ==", "is not valid Python"),
    ("print 'py2'", "is not valid Python"),
])
def test_tests_that_cannot_fail_are_unusable(test, why):
    assert why in (_reason(test) or "")


@pytest.mark.parametrize("test", [
    "assert add(1, 2) == 3",
    "if add(1, 2) != 3:\n    raise AssertionError('wrong')\n",
    "import sys\nif add(1, 2) != 3:\n    sys.exit(1)\n",
    "def check(candidate):\n    assert candidate(1, 2) == 3\ncheck(add)\n",
    "def _eq(a, b):\n    assert a == b\n\nfor a, b, want in [(1, 2, 3)]:\n    _eq(add(a, b), want)\n",
    "def run(tests):\n    for t in tests:\n        t()\n\ndef t1():\n    assert add(1, 2) == 3\n\nrun([t1])\n",
    "import unittest\nclass T(unittest.TestCase):\n    def runTest(self):\n        self.assertEqual(add(1, 2), 3)\nT().runTest()\n",
    "assert add(1, 2) == 3, 'message'",
    "assert add(*[1, 2])",
])
def test_tests_that_check_something_are_usable(test):
    assert _reason(test) is None


def test_deep_nesting_is_checked_or_unusable_never_a_crash():
    chain = "assert " + "1+" * 2000 + "1 == 2001"  # deeper than Python's recursion limit, still compiles
    assert _reason(chain) is None
    assert "cannot be parsed (RecursionError)" in _reason("assert " + "1+" * 20_000 + "1")
    assert "is not valid Python" in _reason("assert " + "(" * 50_000 + ")" * 50_000)
    assert _reason("assert '\udc80' == 1") == "cannot be parsed (UnicodeEncodeError)"  # a lone surrogate
    assert "is not valid Python" in _reason("x\x00 = 1\nassert x")


@pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")
def test_verify_code_gives_an_error_verdict_not_a_pass():
    with SandboxPool(workers=2, require_isolation=True) as pool:
        for tests in ("", "# comment only", ["assert add(1, 2) == 3", ""], "add(1, 2)",
                      "def check(candidate):\n    assert candidate(1, 2) == 3\n"):
            v = verify_code(WRONG, tests, pool=pool)
            assert (v.passed, v.status) == (False, "error"), tests
            assert "assert test" in v.detail, v.detail
        # the same HumanEval test with its entry point is called, and judges
        humaneval = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
        assert verify_code(RIGHT, humaneval, entry_point="add", pool=pool).passed
        assert verify_code(WRONG, humaneval, entry_point="add", pool=pool).status == "failed"
        # an entry point that is not a function name is unusable (it is pasted into the test program)
        bad = verify_code(RIGHT, humaneval, entry_point="add)\nimport os\nos._exit(0)#", pool=pool)
        assert bad.status == "error" and "entry point" in bad.detail
