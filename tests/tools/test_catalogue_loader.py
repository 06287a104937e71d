"""Tool catalogues: discovery of a catalogue package's modules, lookup and sampling, and loading a user's tool files."""

from __future__ import annotations

import importlib
import itertools
import json
import random
import sys
from pathlib import Path

import pytest

from synthloom.llm.tools import tools_problem
from synthloom.tools import ToolCatalogue, UnknownTool, load_catalogue, load_tools, tool_from_function, tool_from_schema
from synthloom.tools.catalogue_loader import CATALOGUE_PACKAGE
from synthloom.tools.spec import parse_source

ARITH = '''"""Arithmetic."""
CATEGORY = "arithmetic"
open("IMPORTED", "w")


def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: first.
        b: second.

    Returns:
        The sum.
    """
    return a + b


def negate(x: float) -> float:
    """Negate a number."""
    return -x
'''
TEXT = '''"""Text."""
CATEGORY = "text"


def upper(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def word_count(text: str) -> int:
    """Count words."""
    return len(text.split())


def reverse(text: str) -> str:
    """Reverse a text."""
    return text[::-1]
'''
_packages = itertools.count()


def make_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: dict[str, str], data: bool = True) -> str:
    name = f"fixture_catalogue_{next(_packages)}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text('"""Fixture catalogue."""\n')
    (root / "_private.py").write_text("x = 1\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    if data:
        (root / "data").mkdir()
        (root / "data" / "table.csv").write_text("a,b\n1,2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return name


def test_catalogue_discovers_every_module_without_importing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = make_package(tmp_path, monkeypatch, {"arith": ARITH, "text_tools": TEXT})
    cat = load_catalogue(package)
    assert not (tmp_path / "IMPORTED").exists() and f"{package}.arith" not in sys.modules
    assert cat.categories == ["arithmetic", "text"] and len(cat) == 5
    assert [t.name for t in cat.tools("arithmetic")] == ["add", "negate"]
    assert [t.name for t in cat] == ["add", "negate", "reverse", "upper", "word_count"]
    add = cat.get("add")
    assert add.module.name == "arith" and add.module.source == ARITH and add.returns == "The sum."
    assert add.module.data_dir == str(tmp_path / package / "data")
    assert "add" in cat and "sub" not in cat
    assert load_catalogue(package) is cat


def test_lookup_errors_suggest_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = load_catalogue(make_package(tmp_path, monkeypatch, {"arith": ARITH, "text_tools": TEXT}, data=False))
    with pytest.raises(UnknownTool, match=r"unknown tool 'ad' \(did you mean 'add'\?\)"):
        cat.get("ad")
    with pytest.raises(KeyError):
        cat.get("nothing_like_it")
    with pytest.raises(UnknownTool, match=r"unknown tool category 'texts' \(did you mean 'text'\?\)"):
        cat.tools("texts")
    assert cat.get("add").module.data_dir is None


def test_sampling_is_reproducible_and_distinct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = load_catalogue(make_package(tmp_path, monkeypatch, {"arith": ARITH, "text_tools": TEXT}))
    first = [t.name for t in cat.sample(random.Random(7), 3)]
    assert first == [t.name for t in cat.sample(random.Random(7), 3)]
    assert len(set(first)) == 3
    draws = {tuple(t.name for t in cat.sample(random.Random(seed), 2, category="text")) for seed in range(20)}
    assert all(set(d) <= {"upper", "word_count", "reverse"} for d in draws) and len(draws) > 1
    with pytest.raises(ValueError, match="cannot sample 3 tools from category 'arithmetic', which has 2"):
        cat.sample(random.Random(0), 3, category="arithmetic")


def test_subset_merge_and_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = load_catalogue(make_package(tmp_path, monkeypatch, {"arith": ARITH, "text_tools": TEXT}))
    small = cat.subset(["add", "upper"])
    assert isinstance(small, ToolCatalogue) and small.names == ["add", "upper"]
    assert [m.name for m in small.modules()] == ["arith", "text_tools"]
    assert [m.name for m in cat.modules(["add", "negate"])] == ["arith"]
    extra = tool_from_schema({"name": "lookup", "description": "Simulated lookup."}, None, category="simulated")
    bigger = cat.merged([extra])
    assert len(bigger) == 6 and bigger.categories == ["arithmetic", "simulated", "text"] and len(cat) == 5
    with pytest.raises(ValueError, match="two tools are named 'add'"):
        cat.merged([cat.get("add")])
    clash = tool_from_schema({"name": "other"}, "def other():\n    pass\n", category="c", module_name="arith")
    with pytest.raises(ValueError, match="two different tool modules are named 'arith'"):
        cat.merged([clash])


def test_catalogue_errors_name_the_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dup = make_package(tmp_path, monkeypatch, {"arith": ARITH, "more": ARITH.replace("arithmetic", "more")})
    with pytest.raises(ValueError, match=r"two tools are named 'add' \(categories 'arithmetic' and 'more'\)"):
        load_catalogue(dup)
    no_category = make_package(tmp_path, monkeypatch, {"arith": ARITH.replace('CATEGORY = "arithmetic"\n', "")})
    with pytest.raises(ValueError, match=r"arith.py: add CATEGORY = \"<category name>\""):
        load_catalogue(no_category)


def test_load_tools_from_a_python_module(tmp_path: Path) -> None:
    path = tmp_path / "my-tools.py"
    path.write_text(ARITH)
    tools = load_tools(path)
    assert [t.name for t in tools] == ["add", "negate"] and tools[0].category == "arithmetic"
    assert tools[0].module.name == "my_tools" and not (tmp_path / "IMPORTED").exists()
    assert load_tools(path, category="maths")[0].category == "maths"
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x: set[int]) -> int:\n    '''F.'''\n")
    with pytest.raises(ValueError, match=rf"^{bad}: bad.py, function 'f', parameter 'x': unsupported type hint set\[int\]"):
        load_tools(bad)


def test_load_tools_from_json_schemas(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text("def weather(city):\n    return city\n\ndef time_in(city):\n    return city\n")
    schemas = [
        {"name": "weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                                       "required": ["city"]}, "source_file": "impl.py"},
        {"type": "function", "function": {"name": "time_in", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
         "source_file": "impl.py", "category": "clock"},
        {"name": "inline", "source": "def inline(n):\n    return n\n",
         "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        {"name": "simulated_only", "description": "No implementation."},
    ]
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(schemas))
    tools = {t.name: t for t in load_tools(path)}
    assert tools["weather"].module == tools["time_in"].module and tools["weather"].module.name == "impl"
    assert tools["weather"].category == "tools" and tools["time_in"].category == "clock"
    assert tools["inline"].executable and tools["inline"].module.name == "inline_impl"
    assert not tools["simulated_only"].executable
    assert tools_problem([t.openai() for t in tools.values()]) is None
    shared = tmp_path / "shared.json"
    shared.write_text(json.dumps({"source_file": "impl.py", "category": "geo", "tools": [schemas[0]]}))
    (tool,) = load_tools(shared)
    assert tool.executable and tool.category == "geo"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("broken.json", "[1,", "not valid JSON"),
    ("empty.json", "[]", "expected a non-empty list of tool schemas"),
    ("missing.json", '[{"name": "f", "source_file": "nope.py"}]', "tools\\[0\\] source_file 'nope.py': cannot read"),
    ("wrong.json", '[{"name": "f", "parameters": {"type": "list"}}]', "tools\\[0\\]: tool schema \\(f\\): parameters must be"),
    ("dup.json", '[{"name": "f"}, {"name": "f"}]', "two tools are named 'f'"),
    ("notapi.yaml", "a: 1\n", "must be an OpenAPI 3 document"),
    ("tools.txt", "", "tools files are .py modules"),
])
def test_load_tools_errors_name_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"^{path}: .*{message}"):
        load_tools(path)
    with pytest.raises(ValueError, match=r"absent.py: cannot read the tools file"):
        load_tools(tmp_path / "absent.py")


def test_load_tools_from_openapi_yaml(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text("def getPet(petId):\n    return {'id': petId}\n")
    doc = ("openapi: 3.0.0\ninfo: {title: t, version: '1'}\n"
           "paths:\n  /pets/{petId}:\n    get:\n      operationId: getPet\n      summary: Get a pet.\n"
           "      parameters:\n        - {name: petId, in: path, required: true, schema: {type: integer}}\n")
    path = tmp_path / "pets.yaml"
    path.write_text(doc)
    (tool,) = load_tools(path)
    assert tool.name == "getPet" and tool.category == "pets" and not tool.executable
    path.write_text(doc + "x-synthloom-source: impl.py\n")
    (tool,) = load_tools(path)
    assert tool.executable and tool.module.name == "impl" and tool.entry == "getPet"


def test_bundled_catalogue_tools_are_well_formed() -> None:
    """Whatever modules the bundled catalogue has: well-formed tools, and the schema read from the source text equals
    the one the imported function declares (tests may import our own modules; the catalogue never does)."""
    cat = load_catalogue()
    for tool in cat:
        live = getattr(importlib.import_module(f"{CATALOGUE_PACKAGE}.{tool.module.name}"), tool.entry)
        declared = tool_from_function(live, category=tool.category)
        assert (declared.parameters, declared.description, declared.returns) == (tool.parameters, tool.description, tool.returns)
        assert tool.description.strip(), f"{tool.name} has no description"
        assert tools_problem([tool.openai()]) is None, tool.name
        assert tool.category.strip() and tool.executable, tool.name
        functions = {n.name for n in parse_source(tool.module.source, tool.module.name).body if hasattr(n, "args")}
        assert tool.entry in functions, tool.name
        if tool.module.data_dir is not None:
            assert Path(tool.module.data_dir).is_dir()
