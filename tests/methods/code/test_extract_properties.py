"""Property tests of code extraction: it never raises on any reply, and gets back the code, the
asserts and the solution/asserts split however the reply wraps them."""

from __future__ import annotations

import keyword

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synthloom.methods.code.extract import (
    code_blocks,
    defined_functions,
    extract_asserts,
    extract_code,
    extract_sections,
    split_solution_and_asserts,
)

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))
PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!?\n", max_size=80).map(lambda s: s.replace("\n", " ").strip())


@st.composite
def functions(draw) -> tuple[str, str]:
    """``(name, source)`` of a small Python function."""
    name = draw(NAMES)
    args = draw(st.lists(NAMES, max_size=3, unique=True).filter(lambda a: name not in a))
    body = draw(st.lists(st.integers(-1000, 1000), min_size=1, max_size=4))
    lines = [f"def {name}({', '.join(args)}):"]
    lines += [f"    x{i} = {v}" for i, v in enumerate(body)]
    lines.append(f"    return {' + '.join(f'x{i}' for i in range(len(body)))}")
    return name, "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_never_raises_on_any_reply(text):
    assert isinstance(code_blocks(text), list)
    assert extract_code(text) is None or isinstance(extract_code(text), str)
    assert isinstance(extract_asserts(text, limit=5), list)
    assert isinstance(extract_sections(text, ["Problem", "Solution"]), dict)
    assert isinstance(split_solution_and_asserts(text), tuple)
    assert isinstance(defined_functions(text), list)


@settings(max_examples=200, deadline=None)
@given(fn=functions(), before=PROSE, after=PROSE, tag=st.sampled_from(["python", "py", "", "Python3"]),
       fence=st.sampled_from(["```", "~~~", "````"]))
def test_fenced_code_comes_back_whole(fn, before, after, tag, fence):
    name, src = fn
    reply = f"{before}\n{fence}{tag}\n{src}\n{fence}\n{after}"
    assert extract_code(reply) == src
    assert extract_code(reply, entry_point=name) == src
    assert defined_functions(extract_code(reply)) == [name]


@settings(max_examples=200, deadline=None)
@given(fn=functions(), other=functions(), before=PROSE)
def test_entry_point_picks_its_block_and_a_cut_off_block_still_counts(fn, other, before):
    name, src = fn
    other_name, other_src = other
    assume(name != other_name)
    reply = f"{before}\n```python\n{other_src}\n```\nand\n```python\n{src}\n```\n"
    assert extract_code(reply, entry_point=name) == src
    assert extract_code(f"{before}\n```python\n{src}\n") == src  # max_tokens ran out inside the fence


@settings(max_examples=200, deadline=None)
@given(fn=functions(), cases=st.lists(st.tuples(st.integers(-99, 99), st.integers(-99, 99)), min_size=1, max_size=6))
def test_asserts_come_back_in_order_without_duplicates_and_split_from_the_solution(fn, cases):
    name, src = fn
    asserts = [f"assert {name}({a}) == {b}" for a, b in cases]
    unique = list(dict.fromkeys(asserts))
    reply = "Tests:\n```python\n" + "\n".join(asserts) + "\n```"
    assert extract_asserts(reply) == unique
    assert extract_asserts(reply, limit=1) == unique[:1]
    code, split = split_solution_and_asserts(src + "\n\n" + "\n".join(asserts))
    assert code.strip() == src and split == asserts
