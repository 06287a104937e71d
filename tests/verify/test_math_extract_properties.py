"""Property tests of the math answer extractor: it never raises on any text, and finds the answer
wherever a solution puts it (the last \\boxed{}, GSM8K's ####, the last number, "answer is (C)")."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from synthloom.verify.math_extract import extract_answer, extract_choice, find_boxed, last_number

#: prose that holds no number, box, "####", answer phrase or choice letter
PROSE = st.text(alphabet="bdfgjkluvxyz ,;!?\n", max_size=80)


def balanced(depth: int = 0):
    """LaTeX-ish answer bodies with balanced braces."""
    atom = st.text(alphabet=string.ascii_letters + string.digits + "+-*^=., ", min_size=1, max_size=8)
    if depth >= 3:
        return atom
    return st.one_of(atom, st.builds(lambda a, b: f"{a}{{{b}}}", atom, balanced(depth + 1)),
                     st.builds(lambda a, b: a + b, atom, balanced(depth + 1)))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text):
    for fn in (extract_answer, extract_choice, last_number, find_boxed):
        result = fn(text)
        assert result is None or isinstance(result, str)


@settings(max_examples=200, deadline=None)
@given(before=PROSE, body=balanced(), after=PROSE, cmd=st.sampled_from(["\\boxed", "\\fbox"]))
def test_the_last_box_is_the_answer(before, body, after, cmd):
    text = f"{before} $\\boxed{{0}}$ then {before} {cmd}{{{body}}} {after}"
    assert extract_answer(text) == (body.strip() or None)


@settings(max_examples=200, deadline=None)
@given(before=PROSE, n=st.integers(-10**12, 10**12), after=st.sampled_from(["", "\n", "\nThat is all"]))
def test_gsm8k_marker_gives_the_number(before, n, after):
    assert extract_answer(f"{before}\n#### {n}{after}") == str(n)


@settings(max_examples=200, deadline=None)
@given(before=PROSE, n=st.integers(0, 10**9), frac=st.none() | st.integers(0, 999))
def test_last_number_is_found_after_prose(before, n, frac):
    number = str(n) if frac is None else f"{n}.{frac}"
    assert last_number(f"{before} 7 and {before} {number}") == number


@settings(max_examples=200, deadline=None)
@given(before=PROSE, letter=st.sampled_from("ABCDEFGHIJ"), style=st.sampled_from(["The answer is ({})", "Answer: {}",
                                                                                  "\\boxed{{{}}}"]))
def test_choice_letter(before, letter, style):
    assert extract_choice(f"{before} (A) looks wrong. {style.format(letter)}") == letter
