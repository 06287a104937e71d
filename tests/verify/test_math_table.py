"""Our table of tricky math-verification cases: extraction, normalisation, equivalence, guards."""

from __future__ import annotations

import pytest

from synthloom.verify.math import MathVerifier, extract_answer, verify_math

# (prediction text, gold answer, expected status, expected extracted+normalised prediction or None to skip)
TABLE = [
    # boxed, nested braces, fbox, last box wins
    ("So the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", "correct", "\\frac{1}{2}"),
    ("We get \\boxed{\\frac{\\sqrt{3}}{2}} in the end", "\\frac{\\sqrt3}{2}", "correct", "\\frac{\\sqrt{3}}{2}"),
    ("First \\boxed{3}, then corrected: \\boxed{4}", "4", "correct", "4"),
    ("\\fbox{12}", "12", "correct", "12"),
    ("\\boxed{\\{1, 2\\}}", "\\{2,1\\}", "correct", None),
    ("\\boxed{x^{2^{3}}+1}", "x^8+1", "correct", "x^{2^{3}}+1"),
    ("truncated \\boxed{\\frac{1}{2", "0.5", "no_answer", None),
    # one half written three ways
    ("\\boxed{0.5}", "\\frac{1}{2}", "correct", "0.5"),
    ("\\boxed{1/2}", "\\dfrac{1}{2}", "correct", "1/2"),
    ("\\boxed{\\frac12}", "1/2", "correct", None),
    ("\\boxed{0.4999}", "\\frac{1}{2}", "wrong", None),
    # the exact-rational guard: math-verify alone says these are equal
    ("\\boxed{\\frac{1}{2004!}}", "\\frac{1}{2006!}", "wrong", None),
    ("\\boxed{\\frac{1}{2^{99}}}", "\\frac{1}{2^{98}}", "wrong", None),
    ("\\boxed{\\frac{1}{2^{99}}}", "2^{-99}", "correct", None),
    ("\\boxed{1/(3!)}", "\\frac{1}{6}", "correct", None),
    # beyond the exact guard's reach: 50 significant digits tell them apart (floats underflow to 0)
    ("\\boxed{\\frac{1}{300000!}}", "\\frac{1}{300001!}", "wrong", None),
    ("\\boxed{\\frac{300001}{300001!}}", "\\frac{1}{300000!}", "correct", None),
    # sets, intervals, tuples
    ("\\boxed{(1, 2)}", "1 < x < 2", "correct", None),
    ("\\boxed{[1, 2)}", "(1, 2)", "wrong", None),
    ("\\boxed{(-\\infty, 3]}", "(-\\infty,3]", "correct", None),
    ("\\boxed{\\{3, 5\\}}", "\\{3,5,7\\}", "wrong", None),
    # percentages
    ("The answer is 25%.", "25\\%", "correct", "25"),
    ("The answer is 0.25", "25%", "correct", "0.25"),
    ("\\boxed{40\\%}", "40", "correct", "40"),
    ("\\boxed{45\\%}", "40\\%", "wrong", "45"),
    # units and text
    ("Answer: 10 cm", "10", "correct", "10"),
    ("\\boxed{10\\text{ cm}^2}", "10", "correct", None),
    ("\\boxed{90^\\circ}", "90", "correct", "90"),
    ("The total cost is \\boxed{\\$18}.", "18", "correct", "18"),
    ("The answer is 42 apples.", "42", "correct", "42"),
    ("\\boxed{\\text{Monday}}", "\\text{Monday}", "correct", None),
    # assignments
    ("x = 2", "2", "correct", "2"),
    ("\\boxed{x=2}", "2", "correct", "2"),
    ("\\boxed{2}", "x = 2", "correct", "2"),
    ("\\boxed{y = 2x + 1}", "y=2x+1", "correct", None),
    # thousands separators, negatives, decimals
    ("#### 1,234", "1234", "correct", "1234"),
    ("The population grew to 1,000,000 people", "1000000", "correct", "1000000"),
    ("The temperature fell to -5 degrees", "-5", "correct", "-5"),
    ("she ends with −7", "-7", "correct", "-7"),
    ("Total: 3.50", "3.5", "correct", "3.50"),
    ("#### 12", "21", "wrong", "12"),
    ("It is 5 - 3 = 2", "2", "correct", "2"),
    # GSM8K-style full gold solution
    ("The answer is 72.", "Natalia sold 48/2 = 24 clips in May.\n48+24 = 72\n#### 72", "correct", "72"),
    # expressions that need SymPy
    ("\\boxed{\\sqrt{8}}", "2\\sqrt{2}", "correct", None),
    ("\\boxed{2\\pi}", "\\pi + \\pi", "correct", None),
    ("\\boxed{(x+1)^2}", "x^2 + 2x + 1", "correct", None),
    ("\\boxed{x^2 + 2x}", "x^2 + 2x + 1", "wrong", None),
    ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "correct", None),
    # multiple choice
    ("The answer is (B).", "B", "correct", "B"),
    ("After checking each option, Answer: C", "(C)", "correct", "C"),
    ("I pick (A) at first but the answer is (D)", "D", "correct", "D"),
    ("\\boxed{E}", "\\text{(E)}", "correct", "E"),
    ("The answer is (B).", "C", "wrong", "B"),
    # no answer
    ("I am not sure how to solve this.", "5", "no_answer", None),
    ("", "5", "no_answer", None),
    (None, "5", "no_answer", None),
    # no gold
    ("\\boxed{5}", "", "error", None),
]


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=2, timeout=10) as v:
        yield v


def test_the_table_has_at_least_forty_cases():
    assert len(TABLE) >= 40


@pytest.mark.parametrize("pred,gold,status,pred_norm", TABLE, ids=[f"{i}:{t[2]}" for i, t in enumerate(TABLE)])
def test_table(verifier, pred, gold, status, pred_norm):
    verdict = verifier.verify(pred, gold)
    assert verdict.status == status, verdict
    assert verdict.correct == (status == "correct")
    if pred_norm is not None:
        assert verdict.pred == pred_norm, verdict


def test_verify_many_keeps_order_and_matches_single_calls(verifier):
    pairs = [(p, g) for p, g, _, _ in TABLE]
    many = verifier.verify_many(pairs)
    assert [v.status for v in many] == [s for _, _, s, _ in TABLE]


def test_in_process_function_uses_the_fast_path_and_the_shared_verifier():
    fast = verify_math("The answer is \\boxed{3/4}", "0.75")
    assert (fast.status, fast.detail) == ("correct", "fast path")
    latex = verify_math("\\boxed{\\sqrt{8}}", "2\\sqrt{2}")  # constant LaTeX: math_latex, no SymPy
    assert (latex.status, latex.detail) == ("correct", "fast path")
    slow = verify_math("\\boxed{\\sin^2 x+\\cos^2 x}", "1")
    assert slow.status == "correct" and slow.detail == "math-verify"


@pytest.mark.parametrize("text,answer", [
    ("Step 1: 3 + 4 = 7. Step 2: 7 * 2 = 14. The final answer is 14.", "14"),
    ("\\boxed{\\frac{a}{\\sqrt{b+\\frac{1}{2}}}}", "\\frac{a}{\\sqrt{b+\\frac{1}{2}}}"),
    ("The answer is: $x^2+1$, as shown", "x^2+1"),
    ("We find that the result equals \\frac{3}{4}", "\\frac{3}{4}"),
    ("Therefore $$y = 3$$", "y = 3"),
    ("Nothing numeric here", None),
    ("#### 3,000", "3,000"),
])
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


def test_hanging_sympy_times_out_and_the_verifier_survives():
    with MathVerifier(workers=1, timeout=1.5) as v:
        hung = v.verify("\\boxed{\\sin(2^{2^{2^{2^{2^{2}}}}})}", "3")
        assert hung.status == "timeout" and not hung.correct
        assert "killed" in hung.detail
        assert v.restarts == 1
        after = v.verify("\\boxed{\\sqrt{8}}", "2\\sqrt{2}")  # a fresh worker answers
        assert after.status == "correct"
        fast = v.verify("\\boxed{7}", "7")  # the fast path never needed a worker
        assert fast.status == "correct"


def test_bad_options_say_what_to_fix():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        MathVerifier(workers=0)
    with pytest.raises(ValueError, match="timeout must be a positive"):
        MathVerifier(timeout=0)
