"""Test programs for :mod:`synthloom.verify.code`: what the sandbox runs for one test, and how its
verdict is read back.

``assert`` and ``call`` tests are *harness runs*: the solution runs alone in its own process and
namespaces, while the test code (or the call and the comparison with the expected value) runs
in a separate trusted harness process that the solution cannot signal, trace or read (see
:mod:`synthloom.sandbox._harness`). The tests and expected values never enter the solution's
process, and the verdict travels on a channel the solution does not hold, so monkeypatching
builtins, ``exec``, ``json``, frames or threads, exiting early, or printing a fake report cannot
make a wrong solution pass. ``stdio`` tests run the program as ``__main__`` and are judged on the
host by :func:`outputs_match`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class TestProgram:
    """One sandboxed run: the ``code`` (the solution, or the whole program for stdio), its
    ``stdin``, the ``harness`` spec that judges it (None for stdio programs, judged by their
    output), a ``label`` for reports and the ``expected`` value or output."""

    code: str
    stdin: str | None
    harness: dict[str, Any] | None
    label: str
    expected: Any = None

    def run_args(self) -> dict[str, Any]:
        """The keyword arguments of ``SandboxPool.run`` for this program (add timeout/memory)."""
        return {"code": self.code, "stdin": self.stdin, "harness": self.harness}


def assert_program(code: str, test: str, label: str) -> TestProgram:
    """``test`` (Python source with asserts) run by the harness against the solution ``code``."""
    return TestProgram(code, None, {"kind": "assert", "test": test}, label)


def call_program(code: str, entry_point: str, args: Any, expected: Any, label: str) -> TestProgram:
    """``entry_point(*args)`` (or ``**args`` for a dict) called by the harness and compared with
    ``expected`` (strict JSON equality, floats within 1e-6)."""
    spec = {"kind": "call", "entry": entry_point, "args": args, "expected": expected}
    return TestProgram(code, None, spec, label, expected)


def stdio_program(code: str, stdin: str, expected: str, label: str) -> TestProgram:
    return TestProgram(code, stdin, None, label, expected)


def harness_report(result: Any) -> dict[str, Any] | None:
    """The trusted harness's report of a harness run (``ok``, ``got``, ``error``), or None when it
    never reported (timeout, crash). The run's ``status`` already reflects it."""
    verdict = (getattr(result, "extra", None) or {}).get("verdict")
    return verdict if isinstance(verdict, dict) else None


def _tokens_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return False
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6)


def outputs_match(got: str, expected: str) -> bool:
    """stdout judge: equal after trimming trailing spaces on each line and blank lines at the ends;
    failing that, equal as whitespace-separated tokens (numbers within 1e-6)."""
    def lines(s: str) -> list[str]:
        return [ln.rstrip() for ln in s.strip("\n").splitlines()]

    if lines(got.replace("\r\n", "\n")) == lines(expected.replace("\r\n", "\n")):
        return True
    a, b = got.split(), expected.split()
    return len(a) == len(b) and all(_tokens_equal(x, y) for x, y in zip(a, b))
