"""OSS-Instruct: the paper's prompt, reply parsing, seeds, and verification of the parsed solution
in the real sandbox through verify_code + keep_passing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from synthloom.methods.code import oss_instruct
from synthloom.methods.code.keep_passing import KeepPassing
from synthloom.methods.code.oss_instruct import (
    OssInstruct,
    OssInstructSeed,
    parse_reply,
    seed_window,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step, user_text
from synthloom.verify.code_step import VerifyCode

SNIPPETS = Path(oss_instruct.__file__).with_name("oss_instruct_snippets.jsonl")
GOOD = """[Problem Description]
Write a function `chunked(items, size)` that splits a list into consecutive chunks of length `size`
(the last chunk may be shorter).

[Solution]
```python
def chunked(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]
```

[Tests]
```python
assert chunked([1, 2, 3], 2) == [[1, 2], [3]]
assert chunked([], 3) == []
```
"""
WRONG = GOOD.replace("range(0, len(items), size)", "range(0, len(items) - 1, size)")
INLINE = """**Problem Description**: Return the square of x.

**Solution**:
```python
def square(x):
    return x * x

assert square(3) == 9
```"""


def test_parse_reply_sections_code_and_tests():
    problem, _, code, tests = parse_reply(GOOD)
    assert problem.startswith("Write a function `chunked(items, size)`") and code.startswith("def chunked(")
    assert tests == ["assert chunked([1, 2, 3], 2) == [[1, 2], [3]]", "assert chunked([], 3) == []"]
    problem, _, code, tests = parse_reply(INLINE)
    assert code == "def square(x):\n    return x * x" and tests == ["assert square(3) == 9"]


@pytest.mark.parametrize("reply, reason", [
    ("Just some prose.", "no [Problem Description] section"),
    ("[Problem Description]\nDo X.", "no [Solution] section"),
    ("[Problem Description]\nDo X.\n[Solution]\nUse a loop and be careful.", "no Python code in the [Solution]"),
])
def test_parse_reply_rejections(reply, reason):
    out = parse_reply(reply)
    assert isinstance(out, Rejected) and reason in out.reason


def test_prompt_is_magicoders_with_a_tests_section():
    model = ScriptedModel(lambda req, j: GOOD)
    [rows] = run_step(OssInstruct("oss"), model, [{"id": "s1", "seed": "x = 1", "lang": "python"}])
    req = model.requests[0]
    system = req.messages[0]["content"]
    assert system == "You are exceptionally skilled at crafting high-quality programming problems and offering precise solutions."
    text = user_text(req)
    assert text.startswith("Please gain inspiration from the following random code snippet to create a "
                           "high-quality programming problem.")
    assert "```python\nx = 1\n```" in text and "**completely self-contained**" in text and "[Tests]" in text
    assert req.temperature == 0.0  # greedy, as the paper
    row = rows[0]
    assert row["id"] == "s1" and row["entry_point"] == "chunked" and len(row["tests"]) == 2
    assert row["seed"] == "x = 1" and row["_lineage"][0]["step"] == "oss"


def test_followup_tests_request():
    no_tests = GOOD.split("[Tests]")[0]
    model = ScriptedModel(lambda req, j: "```python\nassert chunked([1], 1) == [[1]]\n```"
                          if "Write 5 Python `assert`" in user_text(req) else no_tests)
    [rows] = run_step(OssInstruct("oss", tests_from="followup"), model, [{"id": "s", "seed": "x", "lang": "python"}])
    assert "[Tests]" not in user_text(model.requests[0]) and len(model.requests) == 2
    assert rows[0]["tests"] == ["assert chunked([1], 1) == [[1]]"] and len(rows[0]["_lineage"]) == 2
    [out] = run_step(OssInstruct("oss"), ScriptedModel(lambda r, j: no_tests), [{"id": "s", "seed": "x"}])
    assert isinstance(out, Rejected) and "no assert tests" in out.reason


def _verify_then_keep(rows):
    verify = VerifyCode("verify", code_column="code", tests_column="tests", timeout=2.0, workers=2)
    keep = KeepPassing("keep")

    async def go():
        try:
            out = []
            for r in rows:
                [v] = await verify.process(r)
                out.append(await keep.process(v))
            return out
        finally:
            await verify.aclose()
    return asyncio.run(go())


def test_generated_solution_is_executed_and_wrong_ones_rejected_with_the_reason():
    rows = []
    for i, reply in enumerate([GOOD, WRONG]):
        [r] = run_step(OssInstruct("oss"), ScriptedModel(lambda req, j, reply=reply: reply),
                       [{"id": f"s{i}", "seed": "x"}])
        rows.append(r[0])
    kept, rejected = _verify_then_keep(rows)
    assert kept[0]["passed"] and kept[0]["status"] == "passed"
    assert isinstance(rejected, Rejected) and rejected.reason.startswith("failed: test 0 `assert chunked([1, 2, 3], 2)")
    assert "AssertionError" in rejected.reason and rejected.score == 0.5


def test_seed_window_is_reproducible_and_bounded():
    doc = "\n".join(f"line {i}" for i in range(100))
    a, b = seed_window(doc, "k1"), seed_window(doc, "k1")
    assert a == b and 1 <= len(a.splitlines()) <= 15 and a in doc
    assert seed_window("\n\nonly\n\n", "k").strip() == "only"
    step = OssInstructSeed("seed", code_column="content")
    out = step.map({"id": "r", "content": doc})
    assert out["seed"] == seed_window(doc, "r")
    with pytest.raises(ValueError, match="min_lines <= max_lines"):
        OssInstructSeed("seed", min_lines=5, max_lines=2)


def test_bundled_snippets_are_short_python():
    rows = [orjson.loads(line) for line in SNIPPETS.read_bytes().splitlines()]
    assert len(rows) >= 30
    assert all(1 <= len(r["seed"].splitlines()) <= 15 and r["lang"] == "python" for r in rows)
    assert len({r["seed"] for r in rows}) == len(rows)
