"""Seeds mined from source files: OSS-Instruct's 1–15 line windows (with file and line range) and
Case2Code's functions with their call sites (AST), on the bundled corpus and on small folders
written here, and both recipes' first stages on a scripted model."""

from __future__ import annotations

import re

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.code.code_corpus import (
    CORPUS_DIR,
    CorpusError,
    FunctionsWithCallSites,
    SourceWindows,
    mine_functions,
    window_span,
)
from synthloom.testing.recipe_runs import run_recipe
from synthloom.testing.scripted import user_text


def test_windows_are_1_to_15_real_lines_with_their_file_and_line_range():
    step = SourceWindows("seeds", count=40)
    rows = list(step.read())
    assert len(rows) == 40 and rows == list(SourceWindows("seeds", count=40).read())  # reproducible
    assert len(list(step.read(limit=3))) == 3 and step.count(limit=3) == 3
    assert len({r["seed_file"] for r in rows}) >= 3  # drawn from several files
    for r in rows:
        first, last = r["seed_lines"]
        lines = (CORPUS_DIR / r["seed_file"]).read_text().splitlines()
        assert 1 <= last - first + 1 <= 15 and r["seed"] == "\n".join(lines[first - 1:last]) and r["seed"].strip()
        assert r["lang"] == "python"
    assert list(SourceWindows("seeds", count=5, seed=1).read()) != rows[:5]


def test_window_span_skips_blank_windows_and_a_user_folder_is_read(tmp_path):
    lines = ["", "", "x = 1", "", ""]
    for key in range(30):
        start, end = window_span(lines, key, 1, 2)
        assert "x = 1" in lines[start:end]
    assert window_span(["", " "], 0) is None
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    step = SourceWindows("seeds", path=str(tmp_path), count=3, max_lines=1)
    assert {r["seed_file"] for r in step.read()} == {"pkg/a.py"}
    with pytest.raises(CorpusError, match="does not exist"):
        SourceWindows("seeds", path=str(tmp_path / "nope"))
    with pytest.raises(CorpusError, match="no files matching"):
        SourceWindows("seeds", path=str(tmp_path), pattern="*.rs")
    with pytest.raises(ValueError, match="min_lines <= max_lines"):
        SourceWindows("seeds", min_lines=4, max_lines=2)


CORPUS = {
    "shapes.py": '''import math

SIDES = {"triangle": 3, "square": 4}


def perimeter(shape, side):
    return SIDES[shape] * side


def area_of_circle(r):
    return round(math.pi * r * r, 2)


def ring_area(outer, inner):
    return area_of_circle(outer) - area_of_circle(inner)


def uses_a_class(x):
    return Shape(x)


def no_arguments():
    return 3


def _private(x):
    return x


def prints_only(x):
    print(x)


def factorial(n):
    return 1 if n < 2 else n * factorial(n - 1)
''',
    "report.py": '''from shapes import perimeter, ring_area


def fence(side):
    return perimeter("square", side) + 2


print(ring_area(3, 1), fence(5))
''',
}


def test_functions_ship_what_they_need_and_come_with_their_call_sites(tmp_path):
    for name, text in CORPUS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "broken.py").write_text("def f(:\n")
    found = {f["entry_point"]: f for f in mine_functions(tmp_path, sorted(tmp_path.glob("*.py")))}
    # a class it cannot ship, an import of the corpus, no arguments, private, no return value: left out;
    # a file that does not parse: skipped
    assert set(found) == {"perimeter", "area_of_circle", "ring_area", "factorial"}
    ring = found["ring_area"]
    assert ring["code"].startswith("import math") and "def area_of_circle(r):" in ring["code"]
    assert ring["source_file"] == "shapes.py" and ring["source_lines"] == [14, 15]
    assert ring["call_sites"] == [{"file": "report.py", "line": 8, "call": "ring_area(3, 1)"}]
    assert 'SIDES = {"triangle": 3, "square": 4}' in found["perimeter"]["code"]
    assert found["perimeter"]["call_sites"] == [{"file": "report.py", "line": 5, "call": 'perimeter("square", side)'}]
    assert found["factorial"]["call_sites"] == []  # its own recursive call is not a call site
    namespace: dict = {}
    exec(ring["code"], namespace)  # noqa: S102 - code written in this test
    assert namespace["ring_area"](2, 1) == round(3.14159265 * 4, 2) - round(3.14159265, 2)
    kept = mine_functions(tmp_path, sorted(tmp_path.glob("*.py")), require_call_sites=True, max_call_sites=0)
    assert kept == []  # no call site may be kept, so none is required-and-present


def test_the_bundled_corpus_functions_run_and_their_call_sites_are_real():
    step = FunctionsWithCallSites("functions")
    rows = list(step.read())
    assert len(rows) >= 30 and len({r["source_file"] for r in rows[:5]}) == 5  # round-robin over the files
    for r in rows:
        namespace: dict = {}
        exec(r["code"], namespace)  # noqa: S102 - the bundled corpus, written for synthloom
        assert callable(namespace[r["entry_point"]])
        source = (CORPUS_DIR / r["source_file"]).read_text().splitlines()
        assert source[r["source_lines"][0] - 1].startswith(f"def {r['entry_point']}(")
        for site in r["call_sites"]:
            line = (CORPUS_DIR / site["file"]).read_text().splitlines()[site["line"] - 1]
            assert r["entry_point"] + "(" in site["call"] and site["call"].split("(")[0].split(".")[-1] in line
    assert sum(1 for r in rows if r["call_sites"]) == len(rows)


def _oss_reply(req) -> str:
    seed = re.search(r"```python\n(.*?)\n```", user_text(req), re.S).group(1)
    assert seed.strip()
    return ("[Problem Description]\nWrite `double(x)`.\n\n[Solution]\n```python\ndef double(x):\n    return 2 * x\n```\n\n"
            "[Tests]\n```python\nassert double(2) == 4\n```\n")


def test_oss_instruct_recipe_seeds_from_file_windows_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "oss"
    run = run_recipe("oss-instruct", out, extra_cli_args=("-n", "3", "--model", scripted_model(_oss_reply)))
    assert run["counts"]["snippets"]["out"] == 3 and run["counts"]["generate"]["in"] == 3
    rows = list(read_shards(out / "data")) + [r for r in read_shards(out / "rejected" / "unique")]
    assert rows and all(r["seed_file"].endswith(".py") and len(r["seed_lines"]) == 2 for r in rows)


def test_case2code_recipe_prompts_show_the_call_sites_on_a_scripted_model(tmp_path, scripted_model):
    prompts = []

    def reply(req) -> str:
        text = user_text(req)
        prompts.append(text)
        if "Here is a Python function" in text:
            entry = re.search(r"different calls of `(\w+)`", text).group(1)
            return f"```python\n{entry}()\n```"  # a call with no arguments: executed, raises TypeError
        return "no code"

    out = tmp_path / "c2c"
    run = run_recipe("case2code", out, extra_cli_args=("-n", "2", "--model", scripted_model(reply)))
    assert run["counts"]["functions"]["out"] == 2 and run["counts"]["inputs"]["in"] == 2
    asked = [p for p in prompts if "Here is a Python function" in p]
    assert len(asked) == 2 and all("This is how its code base calls it:" in p and ", line " in p for p in asked)
