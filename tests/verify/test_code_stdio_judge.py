"""The stdout judge of stdio code tests: integers exactly, floats within the documented tolerance,
no normalisation beyond the documented whitespace rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthloom.sandbox import SandboxPool
from synthloom.verify.code import verify_code
from synthloom.verify.stdio_judge import ABS_TOL, REL_TOL, outputs_match, tokens_match


@pytest.mark.parametrize(("got", "expected"), [
    ("10000000000000000001", "10000000000000000000"),  # equal as binary floats, not as integers
    ("9007199254740993", "9007199254740992"),           # 2**53 + 1 vs 2**53
    ("-123456789012345678901234567890", "-123456789012345678901234567891"),
    ("1_000", "1000"),                                  # float("1_000") == 1000.0
    ("1_000.0", "1000.0"),
    ("١٠٠٠", "1000"),                                   # Arabic-Indic digits
    ("１０００", "1000"),                                # full-width digits
    ("1000.0", "1000"),                                 # an integer answer wants an integer
    ("1e3", "1000"),
    ("+1000", "1000"),
    ("01000", "1000"),
    ("1e-12", "0"),                                     # a tiny float is not the integer 0
    ("1e-8", "0.0"),                                    # nor 0.0, beyond the absolute tolerance
    ("0.0", "1e-8"),
    ("nan", "0.5"),
    ("inf", "1e308"),
    ("YES", "yes"),                                     # case-sensitive
    ("1\u00a02", "1 2"),                                # a no-break space is not a separator
    ("1 2 3", "1 2"),
    ("", "0"),
])
def test_wrong_answers_do_not_match(got, expected):
    assert not outputs_match(got, expected)


@pytest.mark.parametrize(("got", "expected"), [
    ("1 2\n3  \n\n", "1 2\n3"),                      # trailing spaces, blank end lines
    ("\n\n1 2\r\n3\r\n", "1 2\n3"),                  # leading blank lines, CRLF
    ("1\t2\r3", "1 2\n3"),                           # lone CR is a line break; tabs separate tokens
    ("1  2\n3", "1 2 3"),                            # token-wise: layout of whitespace is free
    ("10000000000000000001", "10000000000000000001"),
    ("0.3333333", "0.33333333"),                     # floats within 1e-6 relative
    ("1000", "1000.0"),                              # a float answer accepts an integer literal
    ("1e3", "1000.0"),
    ("1000.0000001", "1e3"),
    ("1e-10", "0.0"),                                # within the absolute tolerance of 0
    ("-0", "0.0"),
    ("123456789012345678901234567890.5", "123456789012345678901234567890.0"),  # relative, exact decimals
    ("nan", "nan"),                                  # only itself
])
def test_right_answers_match(got, expected):
    assert outputs_match(got, expected)


def test_tolerance_edges_are_the_documented_ones():
    assert (str(REL_TOL), str(ABS_TOL)) == ("0.000001", "1E-9")
    assert tokens_match("1.000001", "1.0")        # relative error 1e-6: in
    assert not tokens_match("1.0000011", "1.0")   # just over: out
    assert tokens_match("0.000000001", "0.0")     # absolute error 1e-9: in
    assert not tokens_match("0.0000000011", "0.0")
    assert not tokens_match("1" * 1001 + ".0", "1" * 1001 + ".5")  # absurdly long literals: text only
    assert not tokens_match("1e10001", "1.0e10001")


@pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")
def test_stdio_verdicts_in_the_sandbox():
    big = 10 ** 19
    with SandboxPool(workers=2, require_isolation=True) as pool:
        cases = [{"input": f"{big}\n", "output": str(big + 1)}]
        off_by_one = verify_code("print(int(input()))", cases, kind="stdio", pool=pool)
        right = verify_code("print(int(input()) + 1)", cases, kind="stdio", pool=pool)
        underscores = verify_code("print('1_000')", [{"input": "", "output": "1000"}], kind="stdio", pool=pool)
        half = verify_code("print(1 / 2)", [{"input": "", "output": "0.5000001"}], kind="stdio", pool=pool)
    assert off_by_one.status == "failed" and off_by_one.results[0]["detail"] == "wrong output"
    assert right.passed
    assert underscores.status == "failed"
    assert half.passed
